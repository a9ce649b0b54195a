// API keys and per-client rate limiting, on two small services sharing one classifier.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifier, type Classifier } from '../src/engine/classifier.ts';
import type { ClassificationResult } from '../src/engine/types.ts';
import { buildApp } from '../src/http/app.ts';
import { serviceConfig } from '../src/http/config.ts';
import type { Routes } from '../src/http/dependencies.ts';
import { EngineClassifyService } from '../src/queue/classify-service.ts';
import { createJobQueue } from '../src/queue/create-queue.ts';
import { serviceClassifierOptions, type RunningService } from '../src/http/service.ts';
import {
  TEST_MODEL,
  expectError,
  json,
  marineImage,
  postImage,
  postJson,
  startTestService,
} from './helpers/http-fixtures.ts';

const KEYS = ['survey-team-key-1', 'survey-team-key-2'];
const RATE_LIMIT = 3;

let classifier: Classifier;
let keyed: RunningService;
let limited: RunningService;
const fish = marineImage('anemone_fish');

before(async () => {
  classifier = await createClassifier(
    serviceClassifierOptions(serviceConfig({ engine: { modelPath: TEST_MODEL } }, {})),
  );
  keyed = await startTestService({ apiKeys: KEYS }, { classifier });
  limited = await startTestService(
    { apiKeys: KEYS, rateLimitMax: RATE_LIMIT, rateLimitWindowMs: 60_000 },
    { classifier },
  );
});

after(async () => {
  await keyed?.close();
  await limited?.close();
  await classifier?.close();
});

describe('API keys', () => {
  test('the API answers 401 unauthorized without a valid key', async () => {
    const missing = await postImage(`${keyed.url}/classify?top_k=1`, fish.bytes);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    const error = await expectError(missing, 401, 'unauthorized');
    assert.match(error.error.message, /API key/);
    await expectError(
      postImage(`${keyed.url}/classify`, fish.bytes, 'image/jpeg', { authorization: 'Bearer wrong-key' }),
      401,
      'unauthorized',
    );
    await expectError(
      postImage(`${keyed.url}/classify`, fish.bytes, 'image/jpeg', { 'x-api-key': `${KEYS[0]}x` }),
      401,
      'unauthorized',
    );
    await expectError(
      postImage(`${keyed.url}/classify`, fish.bytes, 'image/jpeg', { authorization: `Basic ${KEYS[0]}` }),
      401,
      'unauthorized',
    );
    await expectError(postJson(`${keyed.url}/jobs`, { image_url: 'https://example.org/a.jpg' }), 401, 'unauthorized');
    await expectError(fetch(`${keyed.url}/jobs/some-id`), 401, 'unauthorized');
    await expectError(fetch(`${keyed.url}/models`), 401, 'unauthorized');
    await expectError(fetch(`${keyed.url}/metrics`), 401, 'unauthorized');
  });

  test('either header with any configured key is accepted', async () => {
    const bearer = await json<ClassificationResult>(
      postImage(`${keyed.url}/classify?top_k=1`, fish.bytes, 'image/jpeg', { authorization: `Bearer ${KEYS[0]}` }),
    );
    assert.equal(bearer.top1?.index, fish.referenceTop1);
    const header = await json<ClassificationResult>(
      postImage(`${keyed.url}/classify?top_k=1`, fish.bytes, 'image/jpeg', { 'x-api-key': KEYS[1] }),
    );
    assert.equal(header.top1?.index, fish.referenceTop1);
    const metrics = await fetch(`${keyed.url}/metrics`, { headers: { authorization: `Bearer ${KEYS[1]}` } });
    assert.equal(metrics.status, 200);
    await metrics.arrayBuffer();
  });

  test('health checks and the API docs stay open', async () => {
    for (const path of ['/healthz', '/readyz', '/docs', '/openapi.json']) {
      const res = await fetch(`${keyed.url}${path}`);
      assert.equal(res.status, 200, path);
      await res.arrayBuffer();
    }
  });
});

describe('rate limit', () => {
  test('past RATE_LIMIT_MAX a client gets 429 rate_limited with Retry-After; other clients and probes are unaffected', async () => {
    const first = { authorization: `Bearer ${KEYS[0]}` };
    for (let i = 0; i < RATE_LIMIT; i++) {
      const res = await fetch(`${limited.url}/models`, { headers: first });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-limit'), String(RATE_LIMIT));
      await res.arrayBuffer();
    }
    // The budget is per client across the API, not per route.
    const refused = await postImage(`${limited.url}/classify?top_k=1`, fish.bytes, 'image/jpeg', first);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After is set');
    const error = await expectError(refused, 429, 'rate_limited');
    assert.match(error.error.message, /at most 3/);

    // Clients are told apart by their (valid) API key.
    const other = await json<ClassificationResult>(
      postImage(`${limited.url}/classify?top_k=1`, fish.bytes, 'image/jpeg', { 'x-api-key': KEYS[1] }),
    );
    assert.equal(other.top1?.index, fish.referenceTop1);
    const health = await fetch(`${limited.url}/healthz`);
    assert.equal(health.status, 200);
    await health.arrayBuffer();
  });

  test('without API keys clients are told apart by address, so inventing keys gains nothing', async () => {
    const open = await startTestService({ rateLimitMax: 2, rateLimitWindowMs: 60_000 }, { classifier });
    try {
      const statuses: number[] = [];
      for (const key of ['a', 'b', 'c', 'd']) {
        const res = await fetch(`${open.url}/models`, { headers: { 'x-api-key': `made-up-${key}` } });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 429, 429]);
    } finally {
      await open.close();
    }
  });
});

describe('the API plugin', () => {
  test('a route added inside it, with no auth code of its own, needs the key and counts against the rate limit', async () => {
    const config = serviceConfig(
      { host: '127.0.0.1', port: 0, logLevel: 'silent', webRoot: null, apiKeys: KEYS, rateLimitMax: 2 },
      {},
    );
    const queue = createJobQueue(config, { classifier });
    // Nothing but a route: no config, no hooks.
    const extra: Routes = (api) => api.get('/extra', async () => ({ extra: true }));
    const app = await buildApp({
      config,
      classifier: new EngineClassifyService(classifier),
      queue,
      extraRoutes: [extra],
    });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      await expectError(fetch(`${url}/extra`), 401, 'unauthorized');
      const headers = { 'x-api-key': KEYS[0] };
      assert.deepEqual(await json(fetch(`${url}/extra`, { headers })), { extra: true });
      assert.deepEqual(await json(fetch(`${url}/extra`, { headers })), { extra: true });
      await expectError(fetch(`${url}/extra`, { headers }), 429, 'rate_limited');
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200, 'outside the plugin: open and not limited');
      await health.arrayBuffer();
    } finally {
      await app.close();
      await queue.close();
    }
  });
});
