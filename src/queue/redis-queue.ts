/**
 * The JobQueue on Redis (BullMQ), for running the API and the workers as separate processes on
 * as many machines as needed. The API side never loads the model: it stores jobs, reads their
 * state and results, and waits for them; `marine-classifier worker` processes classify.
 *
 * While Redis is unreachable every call fails at once with 503 queue_unavailable (never hangs),
 * ready() is false, and everything resumes by itself when Redis is back.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { ClassificationResult, ClassifyOptions } from '../engine/types.ts';
import { ClassifierError, emptyJobError, shuttingDownError } from '../errors.ts';
import { sha256Of } from '../sources/input.ts';
import { inlineBytesOf } from './image-spec.ts';
import { createResultCache, servedFromCache } from './redis-cache.ts';
import type { RedisQueueSettings } from './redis-config.ts';
import { followQueueEvents } from './redis-events.ts';
import { closeRedis, connectRedis, consoleLog, isRedisUnavailableError, type LogFn } from './redis-connection.ts';
import {
  cancelledRecordOf,
  isFinishedState,
  recordOf,
  type BullState,
  type JobSnapshot,
  type RedisJobData,
  type RedisJobRecord,
  type RedisJobReturn,
} from './redis-job.ts';
import { QUEUE_NAME, redisKeys } from './redis-keys.ts';
import { createResultStore, resultTtlSeconds } from './redis-results.ts';
import { createWorkerRegistry, type WorkerAdvert } from './redis-workers.ts';
import {
  FINISHED_STATUSES,
  type CancelOutcome,
  type JobQueue,
  type JobSpec,
  type QueueEvent,
  type QueueStats,
} from './types.ts';

export interface RedisQueueOptions {
  settings: RedisQueueSettings;
  /** Started and finished events of jobs this process submitted (for its metrics). */
  onEvent?: (event: QueueEvent) => void;
  log?: LogFn;
}

export interface RedisQueueStats extends QueueStats {
  /** Jobs waiting out a retry backoff (also counted in `waiting`). */
  delayed: number;
  /** Images answered from the result cache, since the cache's keys were created. */
  cache_hits: number;
}

export interface RedisJobQueue extends JobQueue {
  readonly mode: 'redis';
  readonly settings: RedisQueueSettings;
  get(id: string): Promise<RedisJobRecord | null>;
  waitFor(id: string, timeoutMs: number): Promise<RedisJobRecord | null>;
  stats(): Promise<RedisQueueStats>;
  /** The workers alive now (what model they run, how much they take), newest first. */
  workers(): Promise<WorkerAdvert[]>;
  /** A cached answer for these image bytes, when the result cache is on and has one; counts the hit. */
  cachedResult(model: string, options: ClassifyOptions, sha256: string): Promise<ClassificationResult | null>;
}

type BullQueue = Queue<RedisJobData, RedisJobReturn>;

/** Job ids are UUIDs we make; anything else must never reach a Redis key name. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Fallback for a missed completion event (e.g. during a reconnect): waitFor looks again this often. */
const WAIT_POLL_MS = 1000;
/** submit() checks the waiting count at most this often: one extra round trip per request would halve throughput. */
const WAITING_COUNT_TTL_MS = 250;
/** Jobs this process remembers having submitted, for its own metrics. */
const MAX_LOCAL_JOBS = 100_000;
/** How long a call made while the first connection is being set up waits for it. */
const FIRST_CONNECT_WAIT_MS = 2000;
/** BullMQ's age-based removal never goes below this, so POST /classify can read a result even with retention 0. */
const MIN_KEEP_SECONDS = 60;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: Command timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createRedisQueue(options: RedisQueueOptions): RedisJobQueue {
  const { settings } = options;
  const log = options.log ?? consoleLog;
  const keys = redisKeys(settings.prefix);
  const redis = connectRedis(settings.url, 'api', {
    commandTimeoutMs: settings.commandTimeoutMs,
    log,
    label: 'job queue',
  });
  const eventsRedis = connectRedis(settings.url, 'events', { log, label: 'job queue events' });
  const store = createResultStore(redis, keys, resultTtlSeconds(settings.retentionSeconds));
  const cache = settings.resultCache ? createResultCache(redis, keys, settings.resultCacheTtlSeconds) : null;
  const registry = createWorkerRegistry(redis, keys);
  const retentionMs = settings.retentionSeconds * 1000;
  const keep = { age: Math.max(settings.retentionSeconds, MIN_KEEP_SECONDS), count: settings.maxRetained };

  let closing = false;
  let bull = openQueue();
  let waitingCount = { value: 0, at: 0 };
  const waiters = new Map<string, Set<() => void>>();
  /** id -> submitted at (ms), for jobs this process submitted and has not seen finish. */
  const localJobs = new Map<string, number>();

  // Completions reach waitFor at once instead of at its next look.
  const wake = (jobId: string | undefined) => {
    for (const waiter of waiters.get(jobId ?? '') ?? []) waiter();
  };
  const follower = followQueueEvents(eventsRedis, bull.queue.keys.events, ({ event, jobId }) => {
    if (!jobId) return;
    if (event === 'completed' || event === 'failed' || event === 'removed') {
      wake(jobId);
      void emitFinished(jobId);
    } else if (event === 'active') void emitStarted(jobId);
  });

  function openQueue(): { queue: BullQueue; broken: boolean } {
    const handle = {
      queue: new Queue<RedisJobData, RedisJobReturn>(QUEUE_NAME, { connection: redis, prefix: settings.prefix }),
      broken: false,
    };
    // Outages are logged once by the connection watcher; BullMQ would repeat them on every reconnect attempt.
    handle.queue.on('error', (err) => {
      if (!isRedisUnavailableError(err)) log('warn', `job queue: ${err.message}`);
    });
    // BullMQ's set-up runs once; if Redis vanishes in the middle of it, this Queue never becomes usable.
    handle.queue.waitUntilReady().catch(() => {
      handle.broken = true;
    });
    return handle;
  }

  function connectedWithin(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        redis.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      redis.once('ready', done);
      redis.once('error', done);
    });
  }

  function unavailable(cause?: unknown): ClassifierError {
    return new ClassifierError(
      'queue_unavailable',
      'The job queue is unavailable: its Redis cannot be reached right now. Try again shortly.',
      { cause },
    );
  }

  /** The BullMQ queue, or queue_unavailable at once: BullMQ itself would wait for Redis, and a request must not. */
  async function activeQueue(): Promise<BullQueue> {
    // The very first connection may still be under way when the first request arrives; an outage ('reconnecting') fails at once.
    if (redis.status === 'connecting' || redis.status === 'connect') await connectedWithin(FIRST_CONNECT_WAIT_MS);
    if (redis.status !== 'ready') throw unavailable();
    if (bull.broken) {
      const old = bull.queue;
      bull = openQueue();
      void old.close().catch(() => undefined);
    }
    await withTimeout(bull.queue.waitUntilReady(), settings.commandTimeoutMs, 'job queue set-up');
    return bull.queue;
  }

  /** Runs a Redis operation, translating "Redis is away" into 503 queue_unavailable. */
  async function guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (err instanceof ClassifierError) throw err;
      if (isRedisUnavailableError(err) || redis.status !== 'ready') throw unavailable(err);
      throw err;
    }
  }

  async function snapshotOf(queue: BullQueue, id: string): Promise<JobSnapshot | null> {
    let [job, state, items] = await Promise.all([queue.getJob(id), queue.getJobState(id), store.read(id)]);
    if (!job || state === 'unknown') return null;
    // The job finished between reading it and reading its state: read it again for its finish time and return value.
    if (isFinishedState(state as BullState) && !job.finishedOn) {
      job = await queue.getJob(id);
      if (!job) return null;
    }
    return {
      id,
      state: state as BullState,
      data: job.data,
      timestamp: job.timestamp,
      processedOn: job.processedOn,
      finishedOn: job.finishedOn,
      failedReason: job.failedReason,
      attemptsStarted: job.attemptsStarted,
      processedBy: job.processedBy,
      returnvalue: job.returnvalue,
      items,
    };
  }

  function isExpired(record: RedisJobRecord): boolean {
    return record.finished_at !== null && Date.now() - Date.parse(record.finished_at) > retentionMs;
  }

  async function read(id: string, honourRetention: boolean): Promise<RedisJobRecord | null> {
    if (!JOB_ID.test(id)) return null;
    return guard(async () => {
      const queue = await activeQueue();
      const snapshot = await snapshotOf(queue, id);
      let record: RedisJobRecord | null;
      if (snapshot) record = recordOf(snapshot);
      else {
        const json = await redis.get(keys.cancelled(id));
        record = json ? (JSON.parse(json) as RedisJobRecord) : null;
      }
      return record && honourRetention && isExpired(record) ? null : record;
    });
  }

  async function emitStarted(id: string): Promise<void> {
    const submittedAt = localJobs.get(id);
    if (submittedAt === undefined || !options.onEvent) return;
    try {
      const job = await read(id, false);
      if (job) options.onEvent({ type: 'started', job, wait_ms: Math.max(0, Date.now() - submittedAt) });
    } catch {
      // Metrics only.
    }
  }

  async function emitFinished(id: string): Promise<void> {
    if (!localJobs.has(id) || !options.onEvent) return;
    try {
      const job = await read(id, false);
      // A failed attempt that will be retried also sends 'failed'; only the final outcome counts.
      if (job && FINISHED_STATUSES.has(job.status)) {
        localJobs.delete(id);
        options.onEvent({ type: 'finished', job });
      }
    } catch {
      // Metrics only.
    }
  }

  function rememberLocal(id: string): void {
    if (!options.onEvent) return;
    localJobs.set(id, Date.now());
    if (localJobs.size > MAX_LOCAL_JOBS) localJobs.delete(localJobs.keys().next().value!);
  }

  async function checkRoom(queue: BullQueue): Promise<void> {
    const now = Date.now();
    if (now - waitingCount.at > WAITING_COUNT_TTL_MS)
      waitingCount = { value: await queue.getJobCountByTypes('waiting', 'prioritized'), at: now };
    if (waitingCount.value >= settings.maxWaiting) {
      throw new ClassifierError(
        'queue_full',
        `The job queue is full (${waitingCount.value} jobs waiting); try again shortly.`,
      );
    }
    waitingCount.value++;
  }

  return {
    mode: 'redis',
    settings,

    async submit(spec: JobSpec) {
      if (closing) throw shuttingDownError();
      if (spec.images.length === 0) throw emptyJobError();
      const bytes = inlineBytesOf(spec.images);
      if (bytes > settings.maxJobBytes) {
        throw new ClassifierError(
          'job_too_large',
          `The job's images take ${bytes} bytes; the queue holds at most ${settings.maxJobBytes} per job.`,
        );
      }
      const sha256 = spec.images.map((image) =>
        settings.resultCache && image.kind === 'base64' ? sha256Of(Buffer.from(image.data, 'base64')) : null,
      );
      const data: RedisJobData = { spec, sha256 };
      return guard(async () => {
        const queue = await activeQueue();
        await checkRoom(queue);
        const id = randomUUID();
        const job = await queue.add('classify', data, {
          jobId: id,
          attempts: settings.attempts,
          backoff: { type: 'exponential', delay: settings.backoffMs },
          removeOnComplete: keep,
          removeOnFail: keep,
        });
        rememberLocal(id);
        return recordOf({ id, state: 'waiting', data, timestamp: job.timestamp, items: [] });
      });
    },

    get: (id) => read(id, true),

    async cancel(id): Promise<CancelOutcome> {
      if (!JOB_ID.test(id)) return 'not_found';
      return guard(async () => {
        const queue = await activeQueue();
        const snapshot = await snapshotOf(queue, id);
        if (!snapshot) return (await redis.exists(keys.cancelled(id))) ? 'not_cancellable' : 'not_found';
        const record = recordOf(snapshot);
        if (isExpired(record)) return 'not_found';
        if (record.status !== 'queued') return 'not_cancellable';
        // The record goes first: between removal and writing it, the job would otherwise look unknown.
        const cancelled = cancelledRecordOf(snapshot);
        await redis.set(keys.cancelled(id), JSON.stringify(cancelled), 'EX', Math.max(settings.retentionSeconds, 1));
        // 0 when a worker locked the job in the meantime: then it runs, and was not cancelled.
        if (!(await queue.remove(id))) {
          await redis.del(keys.cancelled(id));
          return 'not_cancellable';
        }
        wake(id);
        waitingCount.at = 0;
        if (localJobs.delete(id)) options.onEvent?.({ type: 'finished', job: cancelled });
        return 'cancelled';
      });
    },

    async waitFor(id, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let signalled = false;
      let wakeUp: (() => void) | null = null;
      const waiter = () => {
        signalled = true;
        wakeUp?.();
      };
      let set = waiters.get(id);
      if (!set) waiters.set(id, (set = new Set()));
      set.add(waiter);
      try {
        // Registered before the first read, so a completion between the read and the wait is not missed.
        for (;;) {
          signalled = false;
          let record: RedisJobRecord | null;
          try {
            record = await read(id, false);
          } catch (err) {
            // The job is safe in Redis; a short outage should cost the waiter time, not its answer.
            if (
              !(err instanceof ClassifierError && err.code === 'queue_unavailable') ||
              Date.now() >= deadline ||
              closing
            )
              throw err;
            await new Promise((resolve) => setTimeout(resolve, Math.min(250, deadline - Date.now())));
            continue;
          }
          if (!record || FINISHED_STATUSES.has(record.status) || closing) return record;
          const left = deadline - Date.now();
          if (left <= 0) return record;
          if (signalled) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(left, WAIT_POLL_MS));
            wakeUp = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wakeUp = null;
        }
      } finally {
        set.delete(waiter);
        if (set.size === 0) waiters.delete(id);
      }
    },

    async stats() {
      return guard(async () => {
        const queue = await activeQueue();
        const [counts, workers, hits] = await Promise.all([
          queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'),
          queue.getWorkersCount(),
          redis.get(keys.cacheHits),
        ]);
        return {
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0),
          active: counts.active ?? 0,
          completed: counts.completed ?? 0,
          failed: counts.failed ?? 0,
          workers,
          delayed: counts.delayed ?? 0,
          cache_hits: Number(hits ?? 0),
        };
      });
    },

    async workers() {
      return guard(async () => {
        await activeQueue();
        return registry.list();
      });
    },

    async cachedResult(model, options, sha256) {
      if (!cache || closing || redis.status !== 'ready') return null;
      const started = performance.now();
      const hit = await cache.get(model, options, sha256);
      if (!hit) return null;
      await cache.countHits(1);
      return servedFromCache(hit, performance.now() - started);
    },

    async ready() {
      if (closing || redis.status !== 'ready') return false;
      try {
        await activeQueue();
        await redis.ping();
        return true;
      } catch {
        return false;
      }
    },

    async close() {
      if (closing) return;
      closing = true;
      for (const set of waiters.values()) for (const waiter of set) waiter();
      follower.stop();
      // Bounded: with Redis gone, BullMQ's close would wait for a connection that never comes back.
      await withTimeout(bull.queue.close(), 2000, 'queue close').catch(() => undefined);
      // Nothing to flush on the events connection, and QUIT would queue behind its blocking XREAD.
      eventsRedis.disconnect();
      await closeRedis(redis);
    },
  };
}
