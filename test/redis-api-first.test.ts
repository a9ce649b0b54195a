/**
 * Redis mode, the API started before any worker: /readyz, /models and /metrics say "no worker",
 * then show the worker's model within seconds of it starting, with no restart of the API. The
 * real `serve` and `worker` processes, on the shared Redis under a key prefix of this run's own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, type ApiHandle } from './helpers/redis-api.ts';
import {
  SHARED_REDIS_URL,
  deleteKeys,
  killAll,
  startWorkerProcess,
  uniquePrefix,
  until,
} from './helpers/redis-processes.ts';

const prefix = uniquePrefix('api-first');
const env: Record<string, string> = { QUEUE_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix };
const NONE = 'none (no worker connected)';
const WORKER_MODEL = 'mobilenetv2-12-int8';

let api: ApiHandle;

interface Seen {
  ready: string;
  models: string;
  metrics: string | undefined;
}

/** The model as each of the three reports it. */
async function seen(): Promise<Seen> {
  const ready = (await (await fetch(`${api.baseUrl}/readyz`)).json()) as { model: string };
  const models = (await (await fetch(`${api.baseUrl}/models`)).json()) as { model: { id: string } };
  const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
  const info = /^classifier_model_info\{id="([^"]*)",path="[^"]*"\} 1$/m.exec(metrics);
  return { ready: ready.model, models: models.model.id, metrics: info?.[1] };
}

before(async () => {
  api = await startApi(env);
});

after(async () => {
  await killAll();
  await api?.close();
  await deleteKeys(SHARED_REDIS_URL, prefix);
});

test('API first, worker later: readiness, models and metrics show the worker model within seconds', async (t) => {
  assert.deepEqual(await seen(), { ready: NONE, models: NONE, metrics: NONE });
  const ready = await fetch(`${api.baseUrl}/readyz`);
  assert.equal(ready.status, 200, 'ready: the queue takes jobs for the workers to come');
  await ready.arrayBuffer();

  const worker = await startWorkerProcess(env);
  const started = Date.now();
  const all = await until(
    "all three to report the worker's model",
    async () => {
      const now = await seen();
      return Object.values(now).every((id) => id === WORKER_MODEL) ? now : undefined;
    },
    5000,
    100,
  );
  t.diagnostic(`the worker's model showed ${Date.now() - started} ms after the worker was ready`);
  assert.deepEqual(all, { ready: WORKER_MODEL, models: WORKER_MODEL, metrics: WORKER_MODEL });
  worker.kill('SIGTERM');
  await worker.exited;
});
