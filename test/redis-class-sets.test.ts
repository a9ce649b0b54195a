/**
 * Custom classes in Redis mode: `serve` with QUEUE_URL (no model in the API) and two `worker`
 * processes. A set is made through the API, its photos are embedded by a worker (an examples
 * job), and a held-out photo classified with class_set by a worker answers the right species.
 * Then the acceptance of issue 15: on a redis-server of this test's own with AOF on, the set
 * survives restarting the API, both workers and Redis itself.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { type ApiHandle, startApi } from './helpers/redis-api.ts';
import {
  deleteKeys,
  killAll,
  type PrivateRedis,
  SHARED_REDIS_URL,
  startPrivateRedis,
  startWorkerProcess,
  uniquePrefix,
  until,
  type WorkerHandle,
} from './helpers/redis-processes.ts';
import { sharedPath } from './helpers/shared.ts';
import { classificationOf } from '../src/queue/types.ts';

const FISH = sharedPath('fewshot', 'fish4knowledge');
const SPECIES = ['Amphiprion_clarkii', 'Chaetodon_trifascialis', 'Dascyllus_reticulatus'];
const TEACH = 5;

function photos(species: string): { name: string; bytes: Buffer }[] {
  const dir = path.join(FISH, species);
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: readFileSync(path.join(dir, name)) }));
}

interface SetView {
  name: string;
  model: { id: string; sha256: string } | null;
  labels: { label: string; count: number }[];
  examples: number;
}

interface Deployment {
  api: ApiHandle;
  workers: WorkerHandle[];
}

const prefixes: { url: string; prefix: string }[] = [];
let privateRedis: PrivateRedis | null = null;

after(async () => {
  await killAll();
  for (const { url, prefix } of prefixes) await deleteKeys(url, prefix).catch(() => 0);
  await privateRedis?.destroy();
});

function envOf(url: string, prefix: string): Record<string, string> {
  return {
    QUEUE_URL: url,
    QUEUE_PREFIX: prefix,
    JOB_LOCK_MS: '3000',
    JOB_STALLED_INTERVAL_MS: '1000',
    JOB_BACKOFF_MS: '200',
    CLASSIFY_TIMEOUT_MS: '30000',
  };
}

async function deploy(env: Record<string, string>): Promise<Deployment> {
  const [api, ...workers] = await Promise.all([startApi(env), startWorkerProcess(env), startWorkerProcess(env)]);
  await until('the API to see both workers', async () => (await api.queue.stats()).workers === 2, 15_000);
  return { api, workers };
}

async function stop({ api, workers }: Deployment): Promise<void> {
  for (const worker of workers) worker.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await api.close();
}

async function json<T>(response: Promise<Response>, status = 200): Promise<T> {
  const res = await response;
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as T;
}

/** Makes the set `reef` through the API: an empty set, then a multipart upload that a worker embeds. */
async function teach(base: string): Promise<SetView> {
  const created = await json<{ set: SetView }>(
    fetch(`${base}/class-sets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'reef' }),
    }),
    201,
  );
  assert.equal(created.set.model, null, 'the API has no model: the first worker to embed gives it');
  const form = new FormData();
  for (const species of SPECIES) {
    form.append('label', species);
    for (const photo of photos(species).slice(0, TEACH))
      form.append('file', new Blob([new Uint8Array(photo.bytes)], { type: 'image/png' }), photo.name);
  }
  form.append('file', new Blob(['not a photo']), 'notes.txt');
  const accepted = await json<{ job_id: string; status_url: string }>(
    fetch(`${base}/class-sets/reef/examples`, { method: 'POST', body: form }),
    202,
  );
  const job = await until(
    'the examples job to finish',
    async () => {
      const record = await json<{
        status: string;
        kind: string;
        progress: { done: number; failed: number; total: number };
        worker: string | null;
        result: { added: number; skipped: { source: string }[]; set: SetView } | null;
      }>(fetch(`${base}${accepted.status_url}`));
      return ['succeeded', 'failed'].includes(record.status) ? record : undefined;
    },
    60_000,
    100,
  );
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  assert.equal(job.kind, 'examples');
  const total = SPECIES.length * TEACH + 1;
  assert.deepEqual(job.progress, { done: total, failed: 1, total });
  assert.equal(job.result?.added, SPECIES.length * TEACH);
  assert.deepEqual(
    job.result?.skipped.map((s) => s.source),
    ['notes.txt'],
  );
  assert.equal(job.result?.set.model?.id, 'mobilenetv2-12-int8');
  return job.result!.set;
}

/** Held-out photos classified with the set through /classify (a worker answers). */
async function classifyHeldOut(base: string): Promise<void> {
  for (const species of SPECIES) {
    const held = photos(species)[TEACH + 2];
    const result = await json<{ answer: string; custom: { set: string; label: string } }>(
      fetch(`${base}/classify?class_set=reef`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: new Uint8Array(held.bytes),
      }),
    );
    assert.equal(result.custom.label, species, `${species}/${held.name}`);
    assert.equal(result.answer, species);
  }
}

test('Redis mode: teach a set through the API, workers embed it and classify with it', async () => {
  const prefix = uniquePrefix('class-sets');
  prefixes.push({ url: SHARED_REDIS_URL, prefix });
  const deployment = await deploy(envOf(SHARED_REDIS_URL, prefix));
  const base = deployment.api.baseUrl;
  try {
    const set = await teach(base);
    assert.deepEqual(
      set.labels,
      SPECIES.map((label) => ({ label, count: TEACH })),
    );
    const listed = await json<{ sets: SetView[] }>(fetch(`${base}/class-sets`));
    assert.deepEqual(
      listed.sets.map((s) => s.name),
      ['reef'],
    );
    const evaluated = await json<{ evaluation: { top1: number; confusion: { labels: string[] } } }>(
      fetch(`${base}/class-sets/reef?evaluate=true`),
    );
    assert.deepEqual(evaluated.evaluation.confusion.labels, SPECIES);
    await classifyHeldOut(base);

    // POST /jobs: the set travels by name and a worker resolves it from Redis.
    const accepted = await json<{ id: string }>(
      fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          image_base64: photos(SPECIES[1])[TEACH + 2].bytes.toString('base64'),
          class_set: 'reef',
        }),
      }),
      202,
    );
    const record = await deployment.api.queue.waitFor(accepted.id, 30_000);
    assert.equal(record?.status, 'succeeded', JSON.stringify(record));
    assert.equal(classificationOf(record)?.custom?.label, SPECIES[1]);

    const missing = await fetch(`${base}/classify?class_set=nope`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: new Uint8Array(photos(SPECIES[0])[0].bytes),
    });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'class_set_not_found');
  } finally {
    await stop(deployment);
  }
});

test('acceptance: the set survives restarting the API, both workers and Redis (AOF on)', async () => {
  privateRedis = await startPrivateRedis();
  const prefix = uniquePrefix('class-sets-aof');
  const env = envOf(privateRedis.url, prefix);
  const first = await deploy(env);
  let taught: SetView;
  try {
    taught = await teach(first.api.baseUrl);
  } finally {
    await stop(first);
  }
  // Redis crashes (SIGKILL: only what its append-only file holds comes back) and starts again.
  await privateRedis.kill();
  await privateRedis.start();

  const second = await deploy(env);
  try {
    const shown = await json<{ set: SetView }>(fetch(`${second.api.baseUrl}/class-sets/reef`));
    assert.deepEqual(shown.set.labels, taught.labels);
    assert.deepEqual(shown.set.model, taught.model);
    await classifyHeldOut(second.api.baseUrl);
  } finally {
    await stop(second);
  }
});
