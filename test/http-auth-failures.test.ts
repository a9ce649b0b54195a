// Key guessing: failed API-key checks are counted per client address and answered 429
// rate_limited (with Retry-After) once the address has used its failure budget, even with the right
// key then, while other addresses, with or without the right key, are answered as before. Client
// addresses come from X-Forwarded-For (TRUST_PROXY), so one loopback test can play several clients.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningService } from '../src/http/service.ts';
import { expectError, startTestService } from './helpers/http-fixtures.ts';

const KEY = 'the-right-key';
const services: RunningService[] = [];

after(async () => {
  await Promise.all(services.map((s) => s.close()));
});

async function start(overrides: Parameters<typeof startTestService>[0]): Promise<RunningService> {
  const service = await startTestService({ apiKeys: [KEY], trustProxy: true, ...overrides });
  services.push(service);
  return service;
}

function getModels(service: RunningService, from: string, key: string): Promise<Response> {
  return fetch(`${service.url}/models`, { headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': from } });
}

/** Sends `count` wrong keys from `from`; returns the statuses in order. */
async function guess(service: RunningService, from: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await getModels(service, from, `guess-${i}`);
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

describe('failed authentication is rate limited per client address', () => {
  test('RATE_LIMIT_MAX=5: 20 wrong keys get 401 five times, then 429; other clients are unaffected', async () => {
    const service = await start({ rateLimitMax: 5 });
    const statuses = await guess(service, '203.0.113.7', 20);
    assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(15).fill(429)]);
    const limited = await getModels(service, '203.0.113.7', 'guess-again');
    assert.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After says when to come back');
    await expectError(limited, 429, 'rate_limited');
    // A guesser that hits the right key while limited learns nothing from the answer.
    await expectError(getModels(service, '203.0.113.7', KEY), 429, 'rate_limited');

    const other = await getModels(service, '203.0.113.8', KEY);
    assert.equal(other.status, 200, await other.text());
    await expectError(getModels(service, '203.0.113.9', 'wrong'), 401, 'unauthorized');
  });

  test('RATE_LIMIT_MAX=0 (off): failures still have a fixed budget (AUTH_FAILURE_MAX, default 10)', async () => {
    const service = await start({ rateLimitMax: 0 });
    const statuses = await guess(service, '198.51.100.1', 12);
    assert.deepEqual(statuses, [...Array(10).fill(401), 429, 429]);
    const other = await getModels(service, '198.51.100.2', KEY);
    assert.equal(other.status, 200, await other.text());
    // Requests without a key guess nothing and do not spend the budget.
    for (let i = 0; i < 12; i++)
      await expectError(
        fetch(`${service.url}/models`, { headers: { 'x-forwarded-for': '198.51.100.3' } }),
        401,
        'unauthorized',
      );
    // Successful requests do not spend it either.
    for (let i = 0; i < 15; i++) {
      const res = await getModels(service, '198.51.100.2', KEY);
      await res.arrayBuffer();
      assert.equal(res.status, 200);
    }
  });

  test('the budget comes back after the window', async () => {
    const service = await start({ rateLimitMax: 2, rateLimitWindowMs: 1_000 });
    assert.deepEqual(await guess(service, '192.0.2.1', 3), [401, 401, 429]);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const res = await getModels(service, '192.0.2.1', KEY);
    assert.equal(res.status, 200, await res.text());
  });
});
