/**
 * Redis going away under a running deployment (`serve` in Redis mode + a `worker` process), on a
 * redis-server of this test's own (a free loopback port, fsync-always AOF), never the shared one:
 * new work gets a clear 503 at once, /readyz says not ready, nothing crashes, and after Redis
 * restarts everything resumes by itself with no accepted job lost. Prints the recovery time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startApi, type ApiHandle } from './helpers/redis-api.ts';
import {
  killAll,
  sleep,
  startPrivateRedis,
  startWorkerProcess,
  uniquePrefix,
  until,
  type PrivateRedis,
  type WorkerHandle,
} from './helpers/redis-processes.ts';
import { sharedPath } from './helpers/shared.ts';
import { classificationOf } from '../src/queue/types.ts';

const SHARK = readFileSync(sharedPath('images', 'imagenet-marine', 'n01484850_great_white_shark.JPEG'));
const TURTLE = readFileSync(sharedPath('images', 'imagenet-marine', 'n01664065_loggerhead.JPEG'));

let redis: PrivateRedis;
let api: ApiHandle;
let worker: WorkerHandle;

before(async () => {
  redis = await startPrivateRedis();
  const env = {
    QUEUE_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix('outage'),
    JOB_LOCK_MS: '3000',
    JOB_STALLED_INTERVAL_MS: '1000',
    JOB_BACKOFF_MS: '200',
  };
  api = await startApi(env);
  worker = await startWorkerProcess(env);
});

after(async () => {
  await killAll();
  await api?.close();
  await redis?.destroy();
});

async function postJob(image: Buffer): Promise<Response> {
  return fetch(`${api.baseUrl}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image_base64: image.toString('base64') }),
  });
}

async function errorCodeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

test('Redis down: 503 queue_unavailable at once and not ready; Redis back: resumes by itself, no accepted job lost', async (t) => {
  await until('the API to see the worker', async () => (await api.queue.stats()).workers === 1, 10_000);
  const accepted: string[] = [];
  for (let i = 0; i < 30; i++) {
    const response = await postJob(i % 2 ? SHARK : TURTLE);
    assert.equal(response.status, 202);
    accepted.push(((await response.json()) as { id: string }).id);
  }

  // Crash Redis while the worker is busy with those jobs.
  await redis.kill();

  const started = Date.now();
  const refused = await postJob(SHARK);
  const refusedMs = Date.now() - started;
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  const body = (await refused.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'queue_unavailable');
  assert.match(body.error.message, /Redis cannot be reached/);
  assert.ok(refusedMs < 1000, `refused after ${refusedMs} ms`);

  const classify = await fetch(`${api.baseUrl}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: SHARK,
  });
  assert.equal(classify.status, 503);
  assert.equal(await errorCodeOf(classify), 'queue_unavailable');
  const status = await fetch(`${api.baseUrl}/jobs/${accepted[0]}`);
  assert.equal(status.status, 503);
  assert.equal(await errorCodeOf(status), 'queue_unavailable');
  assert.equal((await fetch(`${api.baseUrl}/readyz`)).status, 503);
  assert.equal((await fetch(`${api.baseUrl}/healthz`)).status, 200, 'the API process is alive');
  assert.equal((await fetch(`${api.baseUrl}/metrics`)).status, 200, 'metrics still answer, without the queue gauges');

  await sleep(1500);
  assert.equal(worker.child.exitCode, null, 'the worker survived the outage');
  assert.equal(api.process.child.exitCode, null, 'the API survived the outage');
  assert.equal((await postJob(SHARK)).status, 503, 'still refusing, still fast');

  await redis.start();
  const restartedAt = Date.now();
  const firstAccepted = await until(
    'the API to accept a job again',
    async () => {
      const response = await postJob(TURTLE);
      return response.status === 202 ? ((await response.json()) as { id: string }).id : undefined;
    },
    20_000,
    25,
  );
  const recoveryMs = Date.now() - restartedAt;
  await until('the API to be ready', async () => (await fetch(`${api.baseUrl}/readyz`)).status === 200, 10_000);

  for (const id of [...accepted, firstAccepted]) {
    const record = await api.queue.waitFor(id, 60_000);
    assert.equal(record?.status, 'succeeded', `job ${id}: ${JSON.stringify(record)}`);
    assert.ok(classificationOf(record)?.top1);
  }
  const completedAt = Date.now() - restartedAt;
  t.diagnostic(
    `refused in ${refusedMs} ms while down; first job accepted ${recoveryMs} ms after Redis restarted; all ${accepted.length + 1} jobs done ${completedAt} ms after`,
  );
  console.log(
    `# Redis outage: 503 in ${refusedMs} ms; first request accepted ${recoveryMs} ms after restart; all ${accepted.length + 1} accepted jobs done ${completedAt} ms after restart`,
  );
});
