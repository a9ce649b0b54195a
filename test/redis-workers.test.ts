/**
 * Scale-out end to end: the `serve` process in Redis mode (no model loaded) and `worker` processes
 * running the int8 MobileNetV2, against the shared Redis on 127.0.0.1:6379 under a key prefix of
 * this run's own. Checks results against the reference, the spread over workers, a poisoned job,
 * a worker SIGKILLed mid-job (exactly-once completion) and a worker stopped with SIGTERM.
 * Prints the throughput with one and two worker processes and the recovery time after SIGKILL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { RedisJobRecord } from '../src/queue/redis-job.ts';
import { redisKeys } from '../src/queue/redis-keys.ts';
import { inspectQueue, startApi, type ApiHandle, type QueueInspector } from './helpers/redis-api.ts';
import {
  SHARED_REDIS_URL,
  deleteKeys,
  killAll,
  startWorkerProcess,
  uniquePrefix,
  until,
  type WorkerHandle,
} from './helpers/redis-processes.ts';
import { referenceTop5, sharedPath } from './helpers/shared.ts';
import { classificationOf } from '../src/queue/types.ts';

const prefix = uniquePrefix('workers');
const env: Record<string, string> = {
  QUEUE_URL: SHARED_REDIS_URL,
  QUEUE_PREFIX: prefix,
  IMAGE_ROOT: sharedPath('images'),
  // Short locks so that a killed worker's jobs come back within seconds, not the default 30 s.
  JOB_LOCK_MS: '3000',
  JOB_STALLED_INTERVAL_MS: '1000',
  JOB_BACKOFF_MS: '200',
  JOB_RETENTION_SECONDS: '600',
};

const FOLDER = 'imagenet-marine';
const files = readdirSync(sharedPath('images', FOLDER)).sort();
const bytes = new Map(files.map((f) => [f, readFileSync(sharedPath('images', FOLDER, f))]));
const reference = referenceTop5().top5;
const expectedTop1 = new Map(files.map((f) => [f, reference[`images/${FOLDER}/${f}`][0].index]));

let api: ApiHandle;
let inspector: QueueInspector;
let redis: Redis;
let workerA: WorkerHandle;
let workerB: WorkerHandle;

interface Submitted {
  id: string;
  file: string;
}

/** POST /jobs for each file, alternating uploads (base64) and paths under IMAGE_ROOT, 16 requests at a time. */
async function submitAll(names: string[]): Promise<Submitted[]> {
  const out: Submitted[] = new Array(names.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < names.length) {
      const i = next++;
      const file = names[i];
      const body =
        i % 2 === 0
          ? { image_base64: bytes.get(file)!.toString('base64'), top_k: 3 }
          : { image_path: `${FOLDER}/${file}`, top_k: 3 };
      const response = await fetch(`${api.baseUrl}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 202, await response.clone().text());
      out[i] = { id: ((await response.json()) as { id: string }).id, file };
    }
  }
  await Promise.all(Array.from({ length: 16 }, lane));
  return out;
}

/**
 * Submits with the queue paused, then resumes it: each worker then takes a full share at once.
 * Submitted one by one, the jobs can be finished as fast as they arrive, and on a fast machine no
 * worker is ever seen holding several.
 */
async function submitPaused(names: string[]): Promise<Submitted[]> {
  await inspector.queue.pause();
  try {
    return await submitAll(names);
  } finally {
    await inspector.queue.resume();
  }
}

function pick(count: number, offset = 0): string[] {
  return Array.from({ length: count }, (_, i) => files[(i + offset) % files.length]);
}

async function waitAll(jobs: Submitted[], timeoutMs: number): Promise<RedisJobRecord[]> {
  const records: RedisJobRecord[] = [];
  for (const job of jobs) {
    const record = await api.queue.waitFor(job.id, timeoutMs);
    assert.ok(record, `job ${job.id} is unknown`);
    records.push(record);
  }
  return records;
}

async function getJob(id: string): Promise<RedisJobRecord> {
  const response = await fetch(`${api.baseUrl}/jobs/${id}`);
  assert.equal(response.status, 200);
  return (await response.json()) as RedisJobRecord;
}

function rate(jobs: number, ms: number): string {
  return `${jobs} jobs in ${(ms / 1000).toFixed(2)} s = ${((jobs * 1000) / ms).toFixed(1)} jobs/s`;
}

before(async () => {
  redis = new Redis(SHARED_REDIS_URL);
  api = await startApi(env);
  inspector = await inspectQueue(SHARED_REDIS_URL, prefix);
  workerA = await startWorkerProcess(env);
});

after(async () => {
  await killAll();
  await api?.close();
  await inspector?.close();
  redis?.disconnect();
  await deleteKeys(SHARED_REDIS_URL, prefix);
});

describe('API in Redis mode with worker processes (real model)', () => {
  test('one worker process: jobs complete with the reference answers', async (t) => {
    await until('the API to see the worker', async () => (await api.queue.stats()).workers === 1, 10_000);
    // The worker's model shows on /readyz soon after the worker is counted, not a heartbeat later.
    await until(
      "/readyz to report the worker's model",
      async () =>
        ((await (await fetch(`${api.baseUrl}/readyz`)).json()) as { model: string }).model === 'mobilenetv2-12-int8',
      2000,
    );
    // Warm-up: the first images pay for JIT and thread start-up, which would skew the rate.
    await waitAll(await submitAll(pick(16)), 30_000);
    const started = Date.now();
    const jobs = await submitAll(pick(100));
    const records = await waitAll(jobs, 60_000);
    const ms = Date.now() - started;
    records.forEach((r, i) => {
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      assert.equal(classificationOf(r)?.top1?.index, expectedTop1.get(jobs[i].file), jobs[i].file);
      assert.equal(r.worker, workerA.id);
    });
    t.diagnostic(`1 worker process: ${rate(100, ms)}`);
    console.log(`# throughput, 1 worker process: ${rate(100, ms)}`);
  });

  test('two worker processes: 200 jobs, all correct, spread over both workers', async (t) => {
    workerB = await startWorkerProcess(env);
    await until('the API to see both workers', async () => (await api.queue.stats()).workers === 2, 10_000);
    const started = Date.now();
    const jobs = await submitAll(pick(200, 7));
    await waitAll(jobs, 90_000);
    const ms = Date.now() - started;
    const byWorker = new Map<string, number>();
    // Read back over HTTP: GET /jobs/{id} answers as in embedded mode.
    for (const job of jobs) {
      const record = await getJob(job.id);
      assert.equal(record.status, 'succeeded');
      assert.equal(record.kind, 'single');
      assert.deepEqual(record.progress, { done: 1, failed: 0, total: 1 });
      assert.equal(classificationOf(record)?.top1?.index, expectedTop1.get(job.file), job.file);
      assert.equal(classificationOf(record)?.predictions.length, 3);
      byWorker.set(record.worker!, (byWorker.get(record.worker!) ?? 0) + 1);
    }
    assert.deepEqual([...byWorker.keys()].sort(), [workerA.id, workerB.id].sort(), 'both workers took jobs');
    const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
    assert.match(metrics, /^job_queue_workers 2$/m);
    assert.match(metrics, /^job_queue_jobs\{state="completed"\} \d+$/m);
    const ready = (await (await fetch(`${api.baseUrl}/readyz`)).json()) as {
      model: string;
      queue: { workers: number };
    };
    assert.equal(ready.model, 'mobilenetv2-12-int8', 'the API reports the model its workers run');
    assert.equal(ready.queue.workers, 2);
    t.diagnostic(`2 worker processes: ${rate(200, ms)}; per worker ${JSON.stringify(Object.fromEntries(byWorker))}`);
    console.log(
      `# throughput, 2 worker processes: ${rate(200, ms)}; per worker ${JSON.stringify(Object.fromEntries(byWorker))}`,
    );
  });

  test('a batch job reports progress and per-image results in order', async () => {
    const images = pick(12, 3).map((f) => ({ image_path: `${FOLDER}/${f}` }));
    const response = await fetch(`${api.baseUrl}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images }),
    });
    assert.equal(response.status, 202);
    const { id } = (await response.json()) as { id: string };
    const record = await api.queue.waitFor(id, 30_000);
    assert.equal(record?.status, 'succeeded');
    assert.deepEqual(record?.progress, { done: 12, failed: 0, total: 12 });
    assert.deepEqual(
      record?.results?.map((r) => r.result?.top1?.index),
      pick(12, 3).map((f) => expectedTop1.get(f)),
    );
    const raw = await inspector.queue.getJob(id);
    assert.deepEqual(raw?.progress, { done: 12, failed: 0, total: 12 }, 'progress went through job.updateProgress');
  });

  test('a poisoned job fails once with its error and does not hold up the jobs behind it', async () => {
    const corrupt = bytes.get(files[0])!.subarray(0, 600);
    const response = await fetch(`${api.baseUrl}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image_base64: corrupt.toString('base64') }),
    });
    assert.equal(response.status, 202);
    const poisoned = ((await response.json()) as { id: string }).id;
    const behind = await submitAll(pick(20, 11));
    const failed = await api.queue.waitFor(poisoned, 30_000);
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.error?.code, 'corrupt_image');
    assert.equal(failed?.error?.status, 422);
    assert.equal((await inspector.queue.getJob(poisoned))?.attemptsMade, 1, 'bad input is not retried');
    for (const record of await waitAll(behind, 30_000)) assert.equal(record.status, 'succeeded');
  });

  test('SIGKILL of a worker mid-job: its jobs go to the other worker and every job completes exactly once', async (t) => {
    const jobs = await submitPaused(pick(80, 5));
    const heldBy = async (worker: WorkerHandle) =>
      (await inspector.queue.getActive()).filter((job) => job.processedBy === worker.id).map((job) => job.id!);
    await until('worker A to hold several jobs', async () => (await heldBy(workerA)).length >= 3, 20_000, 10);
    workerA.kill('SIGKILL');
    const killedAt = Date.now();
    await workerA.exited;
    // Listed after its death: the jobs it held and can no longer finish (its locks have not lapsed yet).
    const held = await heldBy(workerA);
    assert.ok(held.length >= 1, 'worker A died holding jobs');

    const records = await waitAll(jobs, 60_000);
    for (const record of records)
      assert.equal(record.status, 'succeeded', `${record.id}: ${JSON.stringify(record.error)}`);
    const finishedOn = await Promise.all(held.map(async (id) => (await inspector.queue.getJob(id))?.finishedOn ?? 0));
    const recoveryMs = Math.max(...finishedOn) - killedAt;

    // Exactly once: one completion event per job, never a failure, one stored result each.
    await until('every completion event', () => jobs.every((job) => inspector.completions.has(job.id)), 5000);
    for (const job of jobs) {
      assert.equal(
        inspector.completions.get(job.id),
        1,
        `job ${job.id} completed ${inspector.completions.get(job.id)} times`,
      );
      assert.equal(inspector.failures.get(job.id), undefined);
      assert.equal(await redis.hlen(redisKeys(prefix).results(job.id)), 1);
    }
    for (const id of held) {
      const record = records.find((r) => r.id === id)!;
      assert.equal(record.worker, workerB.id, 'finished by the surviving worker');
      assert.ok(record.attempts >= 2, 'started again after its worker died');
    }
    t.diagnostic(
      `SIGKILL with ${held.length} jobs held: all back and done ${recoveryMs} ms after the kill (lock 3 s, stalled check every 1 s)`,
    );
    console.log(
      `# recovery after SIGKILL: ${held.length} held jobs completed by the other worker ${recoveryMs} ms after the kill`,
    );
  });

  test('SIGTERM: the worker finishes the jobs it holds, then exits 0', async () => {
    const jobs = await submitPaused(pick(60, 9));
    const held = await until(
      'worker B to hold several jobs',
      async () => {
        const active = await inspector.queue.getActive();
        const mine = active.filter((job) => job.processedBy === workerB.id).map((job) => job.id!);
        return mine.length >= 3 ? mine : undefined;
      },
      20_000,
      10,
    );
    workerB.kill('SIGTERM');
    const { code, signal } = await workerB.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, workerB.output());
    for (const id of held) {
      const job = await inspector.queue.getJob(id);
      assert.equal(await job?.getState(), 'completed', `held job ${id} was finished before exit`);
      assert.equal(job?.attemptsStarted, 1);
    }
    // The rest wait for the next worker: nothing lost, nothing half-done.
    const states = await Promise.all(jobs.map(async (job) => (await inspector.queue.getJob(job.id))?.getState()));
    assert.ok(
      states.every((s) => s === 'completed' || s === 'waiting'),
      JSON.stringify(states),
    );
    assert.equal((await api.queue.stats()).workers, 0);
  });
});
