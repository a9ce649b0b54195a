/**
 * The Redis job queue's semantics against the real Redis on 127.0.0.1:6379, with the worker
 * logic running in this process on a scripted engine (fast and deterministic). The real model in
 * separate worker processes is tested in redis-workers.test.ts, Redis outages in redis-outage.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ClassifierError } from '../src/errors.ts';
import { QueueClassifyService } from '../src/queue/queue-classify-service.ts';
import { describeQueueUrl, redisQueueSettingsFromEnv, type RedisQueueSettings } from '../src/queue/redis-config.ts';
import {
  errorOfFailedReason,
  recordOf,
  type JobSnapshot,
  type RedisJobData,
  type RedisJobReturn,
} from '../src/queue/redis-job.ts';
import { QUEUE_NAME } from '../src/queue/redis-keys.ts';
import { createRedisQueue, type RedisJobQueue } from '../src/queue/redis-queue.ts';
import { serviceConfig } from '../src/http/config.ts';
import { createJobQueue, needsLocalModel } from '../src/queue/create-queue.ts';
import { createLimiter } from '../src/worker/limiter.ts';
import { startWorker, type RunningWorker } from '../src/worker/start-worker.ts';
import { createFakeClassifier, scripted, type FakeClassifier } from './helpers/redis-fakes.ts';
import { SHARED_REDIS_URL, deleteKeys, freePort, uniquePrefix, until } from './helpers/redis-processes.ts';
import { classificationOf } from '../src/queue/types.ts';

const quiet = () => undefined;

async function expectError(promise: Promise<unknown>, code: string): Promise<ClassifierError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ClassifierError, `expected a ClassifierError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('settings and mode switch', () => {
  test('QUEUE_URL switches to Redis mode and the API then needs no model', () => {
    assert.equal(needsLocalModel(serviceConfig({}, {})), true);
    assert.equal(needsLocalModel(serviceConfig({}, { QUEUE_URL: 'redis://r:6379' })), false);
    assert.equal(
      needsLocalModel(serviceConfig({ queueUrl: null }, { QUEUE_URL: 'redis://r:6379' })),
      true,
      'an explicit null wins over the environment',
    );
    assert.equal(serviceConfig({ queueUrl: 'redis://a:1' }, { QUEUE_URL: 'redis://b:2' }).queueUrl, 'redis://a:1');
  });

  test('environment settings, defaults and refusals', () => {
    const s = redisQueueSettingsFromEnv('redis://127.0.0.1:6379', {
      QUEUE_PREFIX: 'survey-2026',
      JOB_ATTEMPTS: '5',
      JOB_LOCK_MS: '4000',
      RESULT_CACHE: 'true',
    });
    assert.equal(s.prefix, 'survey-2026');
    assert.equal(s.attempts, 5);
    assert.equal(s.lockDurationMs, 4000);
    assert.equal(s.stalledIntervalMs, 4000, 'stalled checks follow the lock duration unless set');
    assert.equal(s.resultCache, true);
    assert.equal(redisQueueSettingsFromEnv('redis://x', {}).prefix, 'marine');
    assert.throws(() => redisQueueSettingsFromEnv('http://x', {}), /redis:\/\//);
    assert.throws(() => redisQueueSettingsFromEnv('redis://x', { QUEUE_PREFIX: 'a b' }), /QUEUE_PREFIX/);
    assert.throws(() => redisQueueSettingsFromEnv('redis://x', { JOB_ATTEMPTS: '0' }), /JOB_ATTEMPTS/);
    assert.equal(describeQueueUrl('redis://user:secret@host:6379/0'), 'redis://user:***@host:6379/0');
  });
});

describe('job records from Redis state', () => {
  const data: RedisJobData = {
    spec: { kind: 'batch', images: [scripted('ok:a'), scripted('bad'), scripted('ok:c')], options: {} },
    sha256: [null, null, null],
  };
  const base: JobSnapshot = { id: 'j', state: 'waiting', data, timestamp: Date.UTC(2026, 0, 1), items: [] };
  const ok = (index: number) => ({ index, source: 'x', result: { answer: 'a' } as never });
  const bad = (index: number) => ({
    index,
    source: 'x',
    error: { code: 'not_an_image' as const, message: 'no', status: 415 },
  });

  test('states map to the statuses the in-process queue uses', () => {
    assert.equal(recordOf(base).status, 'queued');
    assert.equal(recordOf({ ...base, state: 'active', processedOn: 1 }).status, 'running');
    assert.equal(
      recordOf({ ...base, state: 'delayed', processedOn: 1 }).status,
      'running',
      'waiting out a retry backoff has started',
    );
    assert.equal(
      recordOf({ ...base, state: 'waiting', processedOn: 1 }).status,
      'running',
      'back in the queue after its worker died',
    );
    const done = recordOf({
      ...base,
      state: 'completed',
      processedOn: 2,
      finishedOn: 3,
      items: [ok(2), bad(1), ok(0)],
    });
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(done.progress, { done: 3, failed: 1, total: 3 });
    assert.deepEqual(
      done.results?.map((r) => r.index),
      [0, 1, 2],
      'results in input order',
    );
    assert.equal(done.error, null);
    assert.equal(done.created_at, '2026-01-01T00:00:00.000Z');
  });

  test('failures carry an image error, or say the worker was lost', () => {
    const failed = recordOf({ ...base, state: 'failed', finishedOn: 3, items: [bad(0), bad(1), bad(2)] });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'not_an_image');
    const lost = recordOf({
      ...base,
      state: 'failed',
      finishedOn: 3,
      failedReason: 'job stalled more than allowable limit',
    });
    assert.equal(lost.error?.code, 'worker_lost');
    assert.equal(errorOfFailedReason('boom').code, 'job_failed');
  });
});

describe('the limiter', () => {
  test('hands permits out in order and never more than it has', async () => {
    const limiter = createLimiter(2);
    const order: number[] = [];
    await limiter.acquire();
    await limiter.acquire();
    const third = limiter.acquire().then(() => order.push(3));
    const fourth = limiter.acquire().then(() => order.push(4));
    assert.equal(limiter.inUse(), 2);
    limiter.release();
    limiter.release();
    await Promise.all([third, fourth]);
    assert.deepEqual(order, [3, 4]);
    assert.equal(limiter.inUse(), 2);
  });
});

describe('Redis queue with an in-process worker (scripted engine)', () => {
  const prefix = uniquePrefix('queue');
  const idlePrefix = `${prefix}-idle`;
  let settings: RedisQueueSettings;
  let queue: RedisJobQueue;
  /** A queue no worker serves: its jobs stay queued. */
  let idle: RedisJobQueue;
  let fake: FakeClassifier;
  let worker: RunningWorker;
  let bull: Queue<RedisJobData, RedisJobReturn>;
  let inspector: Redis;

  before(async () => {
    settings = redisQueueSettingsFromEnv(
      SHARED_REDIS_URL,
      {},
      { prefix, backoffMs: 50, attempts: 3, resultCache: true, lockDurationMs: 5000 },
    );
    queue = createRedisQueue({ settings, log: quiet });
    idle = createRedisQueue({
      settings: { ...settings, prefix: idlePrefix, maxWaiting: 3, maxJobBytes: 10_000 },
      log: quiet,
    });
    fake = createFakeClassifier();
    worker = await startWorker(
      {
        id: `in-process:${process.pid}`,
        queue: settings,
        concurrency: 4,
        imageConcurrency: 8,
        engine: {},
        shutdownTimeoutMs: 5000,
      },
      { classifier: fake, log: quiet },
    );
    inspector = new Redis(SHARED_REDIS_URL);
    bull = new Queue(QUEUE_NAME, { connection: inspector, prefix });
    await until('the queue to connect', () => queue.ready(), 5000);
    await until('the idle queue to connect', () => idle.ready(), 5000);
  });

  after(async () => {
    await worker?.close(5000);
    await queue?.close();
    await idle?.close();
    await bull?.close();
    inspector?.disconnect();
    await deleteKeys(SHARED_REDIS_URL, prefix);
    await deleteKeys(SHARED_REDIS_URL, idlePrefix);
  });

  test('a single-image job succeeds, with its worker and attempt count', async () => {
    const accepted = await queue.submit({ kind: 'single', images: [scripted('ok:shark')], options: { topK: 1 } });
    assert.equal(accepted.status, 'queued');
    assert.deepEqual(accepted.progress, { done: 0, failed: 0, total: 1 });
    const job = await queue.waitFor(accepted.id, 10_000);
    assert.equal(job?.status, 'succeeded');
    assert.equal(classificationOf(job)?.answer, 'shark');
    assert.deepEqual(job?.progress, { done: 1, failed: 0, total: 1 });
    assert.equal(job?.worker, `in-process:${process.pid}`);
    assert.equal(job?.attempts, 1);
    assert.ok(job?.started_at && job.finished_at);
    assert.deepEqual(await queue.get(accepted.id), job);
  });

  test('a batch keeps going past a corrupt image, whose error is final and not retried', async () => {
    const accepted = await queue.submit({
      kind: 'batch',
      images: [scripted('ok:a'), scripted('bad'), scripted('ok:c')],
      options: {},
    });
    const job = await queue.waitFor(accepted.id, 10_000);
    assert.equal(job?.status, 'succeeded');
    assert.deepEqual(job?.progress, { done: 3, failed: 1, total: 3 });
    assert.deepEqual(
      job?.results?.map((r) => r.result?.answer ?? r.error?.code),
      ['a', 'not_an_image', 'c'],
    );
    assert.equal(job?.attempts, 1);
  });

  test('a poisoned single-image job fails once with its error (no retry)', async () => {
    const before = fake.calls.get('bad') ?? 0;
    const accepted = await queue.submit({ kind: 'single', images: [scripted('bad')], options: {} });
    const job = await queue.waitFor(accepted.id, 10_000);
    assert.equal(job?.status, 'failed');
    assert.deepEqual(job?.error, {
      code: 'not_an_image',
      message: 'The data is not an image in a supported format.',
      status: 415,
    });
    const raw = await bull.getJob(accepted.id);
    assert.equal(raw?.attemptsMade, 1);
    assert.equal(fake.calls.get('bad'), before + 1);
  });

  test('transient failures are retried with backoff, redoing only the unfinished images', async () => {
    const accepted = await queue.submit({
      kind: 'batch',
      images: [scripted('ok:steady'), scripted('flaky:1:recovered')],
      options: {},
    });
    const job = await queue.waitFor(accepted.id, 10_000);
    assert.equal(job?.status, 'succeeded');
    assert.deepEqual(
      job?.results?.map((r) => r.result?.answer),
      ['steady', 'recovered'],
    );
    assert.equal(job?.attempts, 2);
    assert.equal(fake.calls.get('ok:steady'), 1, 'the image that had succeeded was not classified again');
    assert.equal(fake.calls.get('flaky:1:recovered'), 2);
  });

  test('a failure that stays transient gives up after the configured attempts, with exponential backoff', async () => {
    const started = Date.now();
    const accepted = await queue.submit({ kind: 'single', images: [scripted('flaky:99:never')], options: {} });
    const job = await queue.waitFor(accepted.id, 10_000);
    assert.equal(job?.status, 'failed');
    assert.equal(job?.error?.code, 'fetch_timeout');
    assert.equal(job?.attempts, 3);
    assert.equal(fake.calls.get('flaky:99:never'), 3);
    assert.ok(Date.now() - started >= 50 + 100, 'waited 50 ms, then 100 ms, between attempts');
  });

  test('cancel: only queued jobs, then the record says cancelled', async () => {
    const accepted = await idle.submit({ kind: 'single', images: [scripted('ok:never-run')], options: {} });
    assert.equal(await idle.cancel(accepted.id), 'cancelled');
    const job = await idle.get(accepted.id);
    assert.equal(job?.status, 'cancelled');
    assert.ok(job?.finished_at);
    assert.equal(await idle.cancel(accepted.id), 'not_cancellable');
    assert.equal(await idle.cancel('00000000-0000-4000-8000-000000000000'), 'not_found');
    assert.equal(await idle.cancel('wait'), 'not_found', 'ids that are not ours never reach Redis key names');
    assert.equal(await idle.get('wait'), null);
    assert.equal(await idle.get('../../etc'), null);

    const slow = await queue.submit({ kind: 'single', images: [scripted('slow:600:late')], options: {} });
    await until('the slow job to start', async () => (await queue.get(slow.id))?.status === 'running', 5000, 20);
    assert.equal(await queue.cancel(slow.id), 'not_cancellable');
    assert.equal((await queue.waitFor(slow.id, 5000))?.status, 'succeeded');
  });

  test('limits: queue_full past the waiting limit, job_too_large, missing_image', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await idle.submit({ kind: 'single', images: [scripted(`ok:${i}`)], options: {} })).id);
    const full = await expectError(
      idle.submit({ kind: 'single', images: [scripted('ok:3')], options: {} }),
      'queue_full',
    );
    assert.equal(full.status, 503);
    assert.equal(full.retryable, true);
    for (const id of ids) await idle.cancel(id);
    const big = { kind: 'base64' as const, data: 'A'.repeat(20_000), label: 'big' };
    assert.equal(
      (await expectError(idle.submit({ kind: 'single', images: [big], options: {} }), 'job_too_large')).status,
      413,
    );
    await expectError(idle.submit({ kind: 'batch', images: [], options: {} }), 'missing_image');
  });

  test('waitFor answers with the job as it stands when time runs out', async () => {
    const accepted = await idle.submit({ kind: 'single', images: [scripted('ok:x')], options: {} });
    const started = Date.now();
    const job = await idle.waitFor(accepted.id, 200);
    assert.equal(job?.status, 'queued');
    assert.ok(Date.now() - started >= 190);
    assert.equal(await idle.waitFor('00000000-0000-4000-8000-000000000000', 100), null);
    await idle.cancel(accepted.id);
  });

  test('finished jobs disappear after the retention time', async () => {
    const shortLived = createRedisQueue({ settings: { ...settings, retentionSeconds: 1 }, log: quiet });
    try {
      await until('connect', () => shortLived.ready(), 5000);
      const accepted = await shortLived.submit({ kind: 'single', images: [scripted('ok:brief')], options: {} });
      assert.equal((await shortLived.waitFor(accepted.id, 5000))?.status, 'succeeded');
      assert.ok(await shortLived.get(accepted.id));
      await until('the job to expire', async () => (await shortLived.get(accepted.id)) === null, 3000, 100);
    } finally {
      await shortLived.close();
    }
  });

  test('the result cache: the same image is classified once, and hits are counted', async () => {
    const image = scripted('ok:cached-turtle');
    const first = await queue.waitFor(
      (await queue.submit({ kind: 'batch', images: [image], options: { topK: 3 } })).id,
      5000,
    );
    const second = await queue.waitFor(
      (await queue.submit({ kind: 'batch', images: [image], options: { topK: 3 } })).id,
      5000,
    );
    assert.equal(first?.results?.[0].result?.answer, 'cached-turtle');
    assert.equal(second?.results?.[0].result?.answer, 'cached-turtle');
    assert.equal((second?.results?.[0] as { cached?: boolean } | undefined)?.cached, true);
    assert.equal(second?.results?.[0].result?.timings.inference_ms, 0);
    assert.equal(fake.calls.get('ok:cached-turtle'), 1);
    // Other options are another answer (top_k changes the predictions): classified again.
    await queue.waitFor((await queue.submit({ kind: 'batch', images: [image], options: { topK: 1 } })).id, 5000);
    assert.equal(fake.calls.get('ok:cached-turtle'), 2);
    assert.ok((await queue.stats()).cache_hits >= 1);
  });

  test('stats count jobs by state and the connected workers', async () => {
    const stats = await queue.stats();
    assert.equal(stats.workers, 1);
    assert.ok(stats.completed >= 5, JSON.stringify(stats));
    assert.ok(stats.failed >= 2, JSON.stringify(stats));
    assert.equal(stats.active, 0);
    const workers = await queue.workers();
    assert.equal(workers[0]?.id, `in-process:${process.pid}`);
    assert.equal(workers[0]?.model.id, 'fake-model');
  });

  test('POST /classify in Redis mode: a queued job and a wait, 504 classify_timeout when no worker answers', async () => {
    const remote = new QueueClassifyService(queue, { timeoutMs: 5000 });
    assert.equal((await remote.model())?.id, 'fake-model', 'the model the workers announce');
    const result = await remote.classify(Buffer.from('ok:remote'), { topK: 2 });
    assert.equal(result.answer, 'remote');
    await expectError(remote.classify(Buffer.from('bad')), 'not_an_image');
    await expectError(remote.classify(Buffer.from('ok:x'), { topK: 0 }), 'invalid_top_k');
    // Answered by the API from the cache without a trip through the queue.
    const callsBefore = fake.calls.get('ok:remote');
    assert.equal((await remote.classify(Buffer.from('ok:remote'), { topK: 2 })).answer, 'remote');
    assert.equal(fake.calls.get('ok:remote'), callsBefore);
    await remote.close();

    const stuck = new QueueClassifyService(idle, { timeoutMs: 300 });
    assert.equal(await stuck.model(), null, 'no worker serves this queue: no model yet');
    const timeout = await expectError(stuck.classify(Buffer.from('ok:nobody')), 'classify_timeout');
    assert.equal(timeout.status, 504);
    assert.match(timeout.message, /No worker took the image within 300 ms/);
    assert.equal((await idle.stats()).waiting, 0, 'the unanswered job was withdrawn');
    await stuck.close();
  });

  test('createJobQueue builds the Redis queue from QUEUE_URL', async () => {
    const q = createJobQueue(
      serviceConfig(
        { queueLimit: 10, jobConcurrency: null, jobRetentionSeconds: 60, queueMaxBytes: 1000 },
        { QUEUE_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix },
      ),
      { log: quiet },
    );
    try {
      await until('connect', () => q.ready(), 5000);
      await expectError(
        q.submit({ kind: 'single', images: [{ kind: 'base64', data: 'A'.repeat(2000), label: 'x' }], options: {} }),
        'job_too_large',
      );
      const job = await q.submit({ kind: 'single', images: [scripted('ok:factory')], options: {} });
      assert.equal(classificationOf(await q.waitFor(job.id, 5000))?.answer, 'factory');
    } finally {
      await q.close();
    }
  });
});

describe('Redis unreachable', () => {
  test('every call fails fast with 503 queue_unavailable, ready() is false, nothing hangs or crashes', async () => {
    const port = await freePort();
    const settings = redisQueueSettingsFromEnv(`redis://127.0.0.1:${port}`, {}, { prefix: uniquePrefix('down') });
    const queue = createRedisQueue({ settings, log: quiet });
    try {
      const started = Date.now();
      const error = await expectError(
        queue.submit({ kind: 'single', images: [scripted('ok:x')], options: {} }),
        'queue_unavailable',
      );
      assert.equal(error.status, 503);
      assert.equal(error.retryable, true);
      assert.match(error.message, /Redis cannot be reached/);
      await expectError(queue.get('00000000-0000-4000-8000-000000000000'), 'queue_unavailable');
      await expectError(queue.stats(), 'queue_unavailable');
      assert.equal(await queue.ready(), false);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    } finally {
      await queue.close();
    }
  });
});
