/**
 * Every route's real answers, success and error, checked against the response schema the route
 * declares for that status, as the service publishes it in /openapi.json. The serializer stays
 * off (responses are sent as the engine made them), so this test is what keeps docs and answers
 * in step: a field renamed on one side, an undeclared status or a wrong type fails here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { createClassifier, type Classifier } from '../src/engine/classifier.ts';
import { serviceConfig } from '../src/http/config.ts';
import { serviceClassifierOptions, type RunningService } from '../src/http/service.ts';
import {
  TEST_MODEL,
  marineImage,
  postForm,
  postImage,
  postJson,
  startImageServer,
  startTestService,
  type ImageServer,
} from './helpers/http-fixtures.ts';
import { freePort } from './helpers/redis-processes.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const KEY = 'contract-key';
const fish = marineImage('anemone_fish');

interface OpenApi {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
  >;
}

let classifier: Classifier;
let embedded: RunningService;
let keyed: RunningService;
let redisDown: RunningService;
let images: ImageServer;
let releaseSlow: () => void = () => undefined;
const checked: string[] = [];

/** The declared schema of `method path` for `status`: the exact code, else its class (4XX, 5XX). */
function declaredSchema(doc: OpenApi, method: string, path: string, status: number): object {
  const responses = doc.paths[path]?.[method.toLowerCase()]?.responses;
  assert.ok(responses, `${method} ${path} is not in the OpenAPI document`);
  const declared = responses[String(status)] ?? responses[`${String(status)[0]}XX`];
  assert.ok(declared, `${method} ${path} answered ${status}, which it does not declare`);
  const schema = declared.content?.['application/json']?.schema;
  assert.ok(schema, `${method} ${path} ${status} declares no JSON body`);
  return schema;
}

const validators = new Map<object, ValidateFunction>();
const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));

/** Sends the request, then checks status and body against the route's declared schema. */
async function check(
  service: RunningService,
  route: { method: string; path: string },
  answer: Promise<Response>,
  status: number,
): Promise<unknown> {
  const res = await answer;
  const text = await res.text();
  assert.equal(res.status, status, `${route.method} ${route.path}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const doc = (await (await fetch(`${service.url}/openapi.json`)).json()) as OpenApi;
  const schema = declaredSchema(doc, route.method, route.path, status);
  const validate = validators.get(schema) ?? ajv.compile(schema);
  validators.set(schema, validate);
  const body: unknown = JSON.parse(text);
  assert.ok(validate(body), `${route.method} ${route.path} ${status}: ${ajv.errorsText(validate.errors)}\n${text}`);
  checked.push(`${route.method} ${route.path} ${status}`);
  return body;
}

const CLASSIFY = { method: 'POST', path: '/classify' };
const JOBS = { method: 'POST', path: '/jobs' };
const JOB = { method: 'GET', path: '/jobs/{id}' };
const CANCEL = { method: 'DELETE', path: '/jobs/{id}' };
const MODELS = { method: 'GET', path: '/models' };
const HEALTH = { method: 'GET', path: '/healthz' };
const READY = { method: 'GET', path: '/readyz' };
const EXPORT = { method: 'GET', path: '/jobs/{id}/export' };
const EXPORT_POST = { method: 'POST', path: '/jobs/{id}/export' };

/** An image URL whose answer waits until released: a job fetching it stays running. */
function slowRoute(req: { url?: string }, res: ServerResponse): boolean {
  if (req.url !== '/slow.jpg') return false;
  releaseSlow = () => {
    releaseSlow = () => undefined;
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.end(fish.bytes);
  };
  return true;
}

before(async () => {
  images = await startImageServer('127.0.0.1', [slowRoute]);
  classifier = await createClassifier(
    serviceClassifierOptions(serviceConfig({ engine: { modelPath: TEST_MODEL }, urlAllowHosts: ['127.0.0.1'] }, {})),
  );
  const common = { urlAllowHosts: ['127.0.0.1'], maxBodyBytes: 2_000_000, jobConcurrency: 1 };
  embedded = await startTestService(common, { classifier });
  keyed = await startTestService({ ...common, apiKeys: [KEY], rateLimitMax: 1 }, { classifier });
  // Redis mode against a port nothing listens on: no model here, the queue unavailable.
  const deadRedis = `redis://127.0.0.1:${await freePort()}`;
  redisDown = await startTestService({ queueUrl: deadRedis }, {});
});

after(async () => {
  releaseSlow();
  await embedded?.close();
  await keyed?.close();
  await redisDown?.close();
  await images?.close();
  await classifier?.close();
});

async function pollFinished(id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const job = (await (await fetch(`${embedded.url}/jobs/${id}`)).json()) as { status: string };
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`job ${id} did not finish`);
}

describe('embedded mode', () => {
  test('POST /classify: a result, and error answers', async () => {
    const s = embedded;
    await check(s, CLASSIFY, postImage(`${s.url}/classify?top_k=3`, fish.bytes), 200);
    await check(s, CLASSIFY, postForm(`${s.url}/classify`, [{ name: 'fish.jpg', bytes: fish.bytes }]), 200);
    await check(s, CLASSIFY, postJson(`${s.url}/classify`, {}), 400);
    await check(s, CLASSIFY, postJson(`${s.url}/classify`, { image_url: 'x', top_k: 0 }), 400);
    await check(s, CLASSIFY, postImage(`${s.url}/classify`, Buffer.from('not an image at all')), 415);
    await check(s, CLASSIFY, postImage(`${s.url}/classify`, Buffer.alloc(2_100_000)), 413);
    await check(s, CLASSIFY, postJson(`${s.url}/classify`, { image_url: images.url('/missing.jpg') }), 400);
  });

  test('POST /jobs, GET and DELETE /jobs/{id}: queued, running, finished, cancelled, unknown', async () => {
    const s = embedded;
    const running = (await check(s, JOBS, postJson(`${s.url}/jobs`, { image_url: images.url('/slow.jpg') }), 202)) as {
      id: string;
    };
    const queued = (await check(s, JOBS, postJson(`${s.url}/jobs`, { image_base64: 'AAAA' }), 202)) as { id: string };
    await check(s, JOB, fetch(`${s.url}/jobs/${running.id}`), 200);
    await check(s, CANCEL, fetch(`${s.url}/jobs/${queued.id}`, { method: 'DELETE' }), 200);
    await check(s, CANCEL, fetch(`${s.url}/jobs/${running.id}`, { method: 'DELETE' }), 409);
    releaseSlow();
    await pollFinished(running.id);
    await check(s, JOB, fetch(`${s.url}/jobs/${running.id}`), 200);

    const batch = { images: [images.url('/shark.jpg'), { image_base64: 'AAAA' }], top_k: 2 };
    const accepted = (await check(s, JOBS, postJson(`${s.url}/jobs`, batch), 202)) as { id: string };
    await pollFinished(accepted.id);
    const record = (await check(s, JOB, fetch(`${s.url}/jobs/${accepted.id}`), 200)) as {
      results: { error?: unknown; result?: unknown }[];
    };
    assert.ok(record.results[0].result && record.results[1].error, 'a batch with a result and an error was checked');
    const failed = (await check(s, JOBS, postJson(`${s.url}/jobs`, { image_base64: 'AAAA' }), 202)) as { id: string };
    await pollFinished(failed.id);
    await check(s, JOB, fetch(`${s.url}/jobs/${failed.id}`), 200);

    await check(s, EXPORT, fetch(`${s.url}/jobs/${accepted.id}/export?format=camtrap-dp`), 400);
    await check(
      s,
      EXPORT_POST,
      postJson(`${s.url}/jobs/${accepted.id}/export`, { format: 'dwc-a', deployments: [{}] }),
      400,
    );
    await check(s, EXPORT_POST, postJson(`${s.url}/jobs/nope/export`, { format: 'dwc-a' }), 404);

    await check(s, JOBS, postJson(`${s.url}/jobs`, { images: [] }), 400);
    await check(s, JOB, fetch(`${s.url}/jobs/00000000-0000-4000-8000-000000000000`), 404);
    await check(s, CANCEL, fetch(`${s.url}/jobs/nope`, { method: 'DELETE' }), 404);
  });

  test('GET /models, /healthz, /readyz', async () => {
    await check(embedded, MODELS, fetch(`${embedded.url}/models`), 200);
    await check(embedded, HEALTH, fetch(`${embedded.url}/healthz`), 200);
    await check(embedded, READY, fetch(`${embedded.url}/readyz`), 200);
  });

  test('401 without a key, 429 past the rate limit', async () => {
    const headers = { authorization: `Bearer ${KEY}` };
    await check(keyed, MODELS, fetch(`${keyed.url}/models`), 401);
    await check(keyed, CLASSIFY, postImage(`${keyed.url}/classify`, fish.bytes), 401);
    await check(keyed, JOB, fetch(`${keyed.url}/jobs/x`), 401);
    await check(keyed, MODELS, fetch(`${keyed.url}/models`, { headers }), 200);
    await check(keyed, MODELS, fetch(`${keyed.url}/models`, { headers }), 429);
  });
});

describe('Redis mode, Redis unreachable, no worker', () => {
  test('every route answers as declared', async () => {
    const s = redisDown;
    const models = (await check(s, MODELS, fetch(`${s.url}/models`), 200)) as { model: { id: string } };
    assert.equal(models.model.id, 'none (no worker connected)');
    await check(s, READY, fetch(`${s.url}/readyz`), 503);
    await check(s, CLASSIFY, postImage(`${s.url}/classify`, fish.bytes), 503);
    await check(s, JOBS, postJson(`${s.url}/jobs`, { image_url: 'https://example.org/a.jpg' }), 503);
    await check(s, JOB, fetch(`${s.url}/jobs/00000000-0000-4000-8000-000000000000`), 503);
    await check(s, CANCEL, fetch(`${s.url}/jobs/00000000-0000-4000-8000-000000000000`, { method: 'DELETE' }), 503);
    await check(s, EXPORT, fetch(`${s.url}/jobs/00000000-0000-4000-8000-000000000000/export?format=dwc-a`), 503);
  });
});

test('every route and status of the API was checked', () => {
  const routes = new Set(checked.map((c) => c.split(' ').slice(0, 2).join(' ')));
  for (const route of [CLASSIFY, JOBS, JOB, CANCEL, EXPORT, EXPORT_POST, MODELS, HEALTH, READY])
    assert.ok(routes.has(`${route.method} ${route.path}`), `${route.method} ${route.path} was never checked`);
});
