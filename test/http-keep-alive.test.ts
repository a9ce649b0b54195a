/**
 * One keep-alive connection carrying many requests with bodies (real service): the body guard's
 * per-request socket listeners go away with each answer, so they never pile up into a
 * MaxListenersExceededWarning, and every answer still arrives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import type { RunningService } from '../src/http/service.ts';
import { marineImage, startTestService } from './helpers/http-fixtures.ts';

let service: RunningService;
const warnings: string[] = [];
const onWarning = (warning: Error): void => {
  if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message);
};

before(async () => {
  process.on('warning', onWarning);
  service = await startTestService();
});

after(async () => {
  process.off('warning', onWarning);
  await service?.close();
});

test('30 requests on one keep-alive connection: answers all arrive, no listener warning', async () => {
  const pool = new Pool(service.url, { connections: 1 });
  const photo = marineImage('great_white').bytes;
  try {
    for (let i = 0; i < 30; i++) {
      // Alternate a body read in full (a photo) with one refused before it is read (a bad JSON body).
      const { statusCode, body } =
        i % 2 === 0
          ? await pool.request({
              path: '/classify',
              method: 'POST',
              headers: { 'content-type': 'image/jpeg' },
              body: photo,
            })
          : await pool.request({
              path: '/classify',
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{"image_url": 5}',
            });
      await body.text();
      assert.equal(statusCode, i % 2 === 0 ? 200 : 400);
    }
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    await pool.close();
  }
});
