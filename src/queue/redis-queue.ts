/**
 * The JobQueue on Redis (BullMQ), for running the API and the workers as separate processes on
 * as many machines as needed. The API side never loads the model: it stores jobs, reads their
 * state and results, and waits for them; `marine-classifier worker` processes classify.
 *
 * While Redis is unreachable every call fails at once with 503 queue_unavailable (never hangs),
 * ready() is false, and everything resumes by itself when Redis is back.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type ClassSetStore, RedisClassSetStore } from '../classes/index.ts';
import type { ClassificationResult, ClassifyOptions } from '../engine/types.ts';
import { ClassifierError, emptyJobError, shuttingDownError } from '../errors.ts';
import { sha256Of } from '../sources/input.ts';
import { inlineBytesOf } from './image-spec.ts';
import { createResultCache, servedFromCache, type ResultCache } from './redis-cache.ts';
import type { RedisQueueSettings } from './redis-config.ts';
import { followQueueEvents, type EventFollower, type QueueStreamEvent } from './redis-events.ts';
import { BullQueueHandle, type BullQueue } from './redis-bull.ts';
import { closeRedis, connectRedis, consoleLog, type LogFn } from './redis-connection.ts';
import {
  cancelledRecordOf,
  isFinishedState,
  recordOf,
  type BullState,
  type JobSnapshot,
  type RedisJobData,
  type RedisJobRecord,
} from './redis-job.ts';
import { redisKeys, type RedisKeys } from './redis-keys.ts';
import { createResultStore, resultTtlSeconds, type ResultStore } from './redis-results.ts';
import { createVideoStore, uploadedBytesOf, type VideoStore } from './redis-videos.ts';
import { createWorkerRegistry, type WorkerAdvert, type WorkerRegistry } from './redis-workers.ts';
import {
  FINISHED_STATUSES,
  type CancelOutcome,
  type ClassifyJobSpec,
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
  /** The class sets in this Redis (under QUEUE_PREFIX), on the queue's connection. */
  classSetStore(): ClassSetStore;
}

/** Job ids are UUIDs we make; anything else must never reach a Redis key name. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Fallback for a missed completion event (e.g. during a reconnect): waitFor looks again this often. */
const WAIT_POLL_MS = 1000;
/** submit() checks the waiting count at most this often: one extra round trip per request would halve throughput. */
const WAITING_COUNT_TTL_MS = 250;
/** Jobs this process remembers having submitted, for its own metrics. */
const MAX_LOCAL_JOBS = 100_000;
/** BullMQ's age-based removal never goes below this, so POST /classify can read a result even with retention 0. */
const MIN_KEEP_SECONDS = 60;
/** DELETE of a running video job waits this long for its worker to stop it (the in-process queue's wait too). */
const VIDEO_CANCEL_WAIT_MS = 30_000;

/** A new Redis queue; the same as `new RedisQueue(options)`. */
export function createRedisQueue(options: RedisQueueOptions): RedisQueue {
  return new RedisQueue(options);
}

function isQueueUnavailable(err: unknown): boolean {
  return err instanceof ClassifierError && err.code === 'queue_unavailable';
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function snapshotOf(queue: BullQueue, store: ResultStore, id: string): Promise<JobSnapshot | null> {
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
    progress: job.progress,
    items,
  };
}

/** One waitFor call's wake-up signal: set by a completion event, awaited between reads. */
class Wakeup {
  signalled = false;
  #resolve: (() => void) | null = null;

  readonly signal = (): void => {
    this.signalled = true;
    this.#resolve?.();
  };

  /** Resolves on the next signal or after `ms`. */
  async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#resolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#resolve = null;
  }
}

export class RedisQueue implements RedisJobQueue {
  readonly mode = 'redis';
  readonly settings: RedisQueueSettings;
  readonly #onEvent: ((event: QueueEvent) => void) | undefined;
  readonly #keys: RedisKeys;
  readonly #redis: Redis;
  readonly #eventsRedis: Redis;
  readonly #store: ResultStore;
  readonly #cache: ResultCache | null;
  readonly #registry: WorkerRegistry;
  readonly #videos: VideoStore;
  readonly #bull: BullQueueHandle;
  readonly #follower: EventFollower;
  readonly #retentionMs: number;
  readonly #keep: { age: number; count: number };
  readonly #waiters = new Map<string, Set<() => void>>();
  /** id -> submitted at (ms), for jobs this process submitted and has not seen finish. */
  readonly #localJobs = new Map<string, number>();
  #waitingCount = { value: 0, at: 0 };
  #closing = false;

  constructor(options: RedisQueueOptions) {
    const { settings } = options;
    const log = options.log ?? consoleLog;
    this.settings = settings;
    this.#onEvent = options.onEvent;
    this.#keys = redisKeys(settings.prefix);
    this.#redis = connectRedis(settings.url, 'api', {
      commandTimeoutMs: settings.commandTimeoutMs,
      log,
      label: 'job queue',
    });
    this.#eventsRedis = connectRedis(settings.url, 'events', { log, label: 'job queue events' });
    this.#store = createResultStore(this.#redis, this.#keys, resultTtlSeconds(settings.retentionSeconds));
    this.#cache = settings.resultCache
      ? createResultCache(this.#redis, this.#keys, settings.resultCacheTtlSeconds)
      : null;
    this.#registry = createWorkerRegistry(this.#redis, this.#keys);
    this.#videos = createVideoStore(this.#redis, this.#keys, settings.retentionSeconds);
    this.#retentionMs = settings.retentionSeconds * 1000;
    this.#keep = { age: Math.max(settings.retentionSeconds, MIN_KEEP_SECONDS), count: settings.maxRetained };
    this.#bull = new BullQueueHandle(this.#redis, settings, log);
    this.#follower = followQueueEvents(this.#eventsRedis, this.#bull.eventsKey, (event) => this.#onStreamEvent(event));
  }

  classSetStore(): ClassSetStore {
    return new RedisClassSetStore({ redis: this.#redis, prefix: this.settings.prefix });
  }

  async submit(spec: JobSpec): Promise<RedisJobRecord> {
    const { data, upload } = spec.kind === 'video' ? await this.#videoJobDataOf(spec) : { data: this.#jobDataOf(spec) };
    return this.#bull.guard(async () => {
      const queue = await this.#bull.active();
      await this.#checkRoom(queue);
      const id = randomUUID();
      // The bytes first: a worker may take the job the moment it is added.
      if (upload) await this.#videos.putUpload(id, upload);
      try {
        const job = await queue.add('classify', data, {
          jobId: id,
          attempts: this.settings.attempts,
          backoff: { type: 'exponential', delay: this.settings.backoffMs },
          removeOnComplete: this.#keep,
          removeOnFail: this.#keep,
        });
        this.#rememberLocal(id);
        return recordOf({ id, state: 'waiting', data, timestamp: job.timestamp, items: [] });
      } catch (err) {
        if (upload) await this.#videos.removeUpload(id).catch(() => undefined);
        throw err;
      }
    });
  }

  get(id: string): Promise<RedisJobRecord | null> {
    return this.#read(id, true);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    if (!JOB_ID.test(id)) return 'not_found';
    return this.#bull.guard(async () => {
      const queue = await this.#bull.active();
      const snapshot = await snapshotOf(queue, this.#store, id);
      if (!snapshot) return (await this.#redis.exists(this.#keys.cancelled(id))) ? 'not_cancellable' : 'not_found';
      const record = recordOf(snapshot);
      if (this.#isExpired(record)) return 'not_found';
      if (record.kind === 'video' && !FINISHED_STATUSES.has(record.status)) return this.#cancelVideo(queue, snapshot);
      if (record.status !== 'queued') return 'not_cancellable';
      return this.#remove(queue, snapshot);
    });
  }

  /**
   * A video job is cancelled at any time before it ends: removed while it waits; while a worker
   * runs it, a cancel request the worker watches for stops its ffmpeg, and the answer waits until
   * the job has ended.
   */
  async #cancelVideo(queue: BullQueue, snapshot: JobSnapshot): Promise<CancelOutcome> {
    const { id } = snapshot;
    if (snapshot.state !== 'active') {
      const removed = await this.#remove(queue, snapshot);
      if (removed === 'cancelled') {
        await this.#videos.removeUpload(id);
        return removed;
      }
      // A worker took it in the meantime: stop it there.
    }
    await this.#videos.requestCancel(id);
    const record = await this.waitFor(id, VIDEO_CANCEL_WAIT_MS);
    // Still running: the worker has the request and stops as soon as it sees it (or the next worker to take the job does).
    if (!record || !FINISHED_STATUSES.has(record.status)) return 'cancelled';
    return record.status === 'cancelled' ? 'cancelled' : 'not_cancellable';
  }

  async waitFor(id: string, timeoutMs: number): Promise<RedisJobRecord | null> {
    const deadline = Date.now() + timeoutMs;
    const wakeup = new Wakeup();
    const set = this.#waiters.get(id) ?? new Set();
    this.#waiters.set(id, set);
    set.add(wakeup.signal);
    try {
      // Registered before the first read, so a completion between the read and the wait is not missed.
      for (;;) {
        wakeup.signalled = false;
        const record = await this.#readWhileWaiting(id, deadline);
        if (record === 'retry') continue;
        if (!record || FINISHED_STATUSES.has(record.status) || this.#closing) return record;
        const left = deadline - Date.now();
        if (left <= 0) return record;
        if (!wakeup.signalled) await wakeup.sleep(Math.min(left, WAIT_POLL_MS));
      }
    } finally {
      set.delete(wakeup.signal);
      if (set.size === 0) this.#waiters.delete(id);
    }
  }

  async stats(): Promise<RedisQueueStats> {
    return this.#bull.guard(async () => {
      const queue = await this.#bull.active();
      const [counts, workers, hits] = await Promise.all([
        queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'),
        queue.getWorkersCount(),
        this.#redis.get(this.#keys.cacheHits),
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
  }

  async workers(): Promise<WorkerAdvert[]> {
    return this.#bull.guard(async () => {
      await this.#bull.active();
      return this.#registry.list();
    });
  }

  async cachedResult(model: string, options: ClassifyOptions, sha256: string): Promise<ClassificationResult | null> {
    const cache = this.#cache;
    if (!cache || this.#closing || this.#redis.status !== 'ready') return null;
    const started = performance.now();
    const hit = await cache.get(model, options, sha256);
    if (!hit) return null;
    await cache.countHits(1);
    return servedFromCache(hit, performance.now() - started);
  }

  async ready(): Promise<boolean> {
    if (this.#closing || this.#redis.status !== 'ready') return false;
    try {
      await this.#bull.active();
      await this.#redis.ping();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const set of this.#waiters.values()) for (const waiter of set) waiter();
    this.#follower.stop();
    await this.#bull.close();
    // Nothing to flush on the events connection, and QUIT would queue behind its blocking XREAD.
    this.#eventsRedis.disconnect();
    await closeRedis(this.#redis);
  }

  /**
   * A video job as it is stored, and an upload's bytes (which wait in Redis beside the job). An
   * upload's temporary file is read and deleted here, even when the job is refused.
   */
  async #videoJobDataOf(spec: ClassifyJobSpec): Promise<{ data: RedisJobData; upload: Buffer | null }> {
    const video = spec.video;
    if (!video) throw new ClassifierError('invalid_request', 'A video job names its video.');
    const upload = await uploadedBytesOf(video.source, this.settings);
    if (this.#closing) throw shuttingDownError();
    const source =
      video.source.kind === 'path' || video.source.kind === 'url'
        ? video.source
        : { kind: 'stored' as const, bytes: upload?.length ?? 0, label: video.source.label };
    return { data: { spec: { ...spec, images: [], video: { ...video, source } }, sha256: [] }, upload };
  }

  /** What a job stores in BullMQ, or the reason it cannot be taken. */
  #jobDataOf(spec: JobSpec): RedisJobData {
    const { settings } = this;
    if (this.#closing) throw shuttingDownError();
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
    // Image and examples jobs are stored as they are (only video sources change form).
    return { spec: spec as RedisJobData['spec'], sha256 };
  }

  async #checkRoom(queue: BullQueue): Promise<void> {
    const now = Date.now();
    if (now - this.#waitingCount.at > WAITING_COUNT_TTL_MS)
      this.#waitingCount = { value: await queue.getJobCountByTypes('waiting', 'prioritized'), at: now };
    if (this.#waitingCount.value >= this.settings.maxWaiting) {
      throw new ClassifierError(
        'queue_full',
        `The job queue is full (${this.#waitingCount.value} jobs waiting); try again shortly.`,
      );
    }
    this.#waitingCount.value++;
  }

  /** Removes a queued job, keeping its cancelled record; 'not_cancellable' when a worker took it meanwhile. */
  async #remove(queue: BullQueue, snapshot: JobSnapshot): Promise<CancelOutcome> {
    const { id } = snapshot;
    const key = this.#keys.cancelled(id);
    // The record goes first: between removal and writing it, the job would otherwise look unknown.
    const cancelled = cancelledRecordOf(snapshot);
    await this.#redis.set(key, JSON.stringify(cancelled), 'EX', Math.max(this.settings.retentionSeconds, 1));
    // 0 when a worker locked the job in the meantime: then it runs, and was not cancelled.
    if (!(await queue.remove(id))) {
      await this.#redis.del(key);
      return 'not_cancellable';
    }
    this.#wake(id);
    this.#waitingCount.at = 0;
    if (this.#localJobs.delete(id)) this.#onEvent?.({ type: 'finished', job: cancelled });
    return 'cancelled';
  }

  #isExpired(record: RedisJobRecord): boolean {
    return record.finished_at !== null && Date.now() - Date.parse(record.finished_at) > this.#retentionMs;
  }

  async #read(id: string, honourRetention: boolean): Promise<RedisJobRecord | null> {
    if (!JOB_ID.test(id)) return null;
    return this.#bull.guard(async () => {
      const queue = await this.#bull.active();
      const snapshot = await snapshotOf(queue, this.#store, id);
      let record: RedisJobRecord | null;
      if (snapshot) record = recordOf(snapshot);
      else {
        const json = await this.#redis.get(this.#keys.cancelled(id));
        record = json ? (JSON.parse(json) as RedisJobRecord) : null;
      }
      return record && honourRetention && this.#isExpired(record) ? null : record;
    });
  }

  /** The job as it stands; 'retry' after a short outage the waiter can still afford to sit out. */
  async #readWhileWaiting(id: string, deadline: number): Promise<RedisJobRecord | null | 'retry'> {
    try {
      return await this.#read(id, false);
    } catch (err) {
      // The job is safe in Redis; a short outage should cost the waiter time, not its answer.
      if (!isQueueUnavailable(err) || Date.now() >= deadline || this.#closing) throw err;
      await pause(Math.min(250, deadline - Date.now()));
      return 'retry';
    }
  }

  /** Completions reach waitFor at once instead of at its next look. */
  #wake(jobId: string | undefined): void {
    for (const waiter of this.#waiters.get(jobId ?? '') ?? []) waiter();
  }

  #onStreamEvent({ event, jobId }: QueueStreamEvent): void {
    if (!jobId) return;
    if (event === 'completed' || event === 'failed' || event === 'removed') {
      this.#wake(jobId);
      void this.#emitFinished(jobId);
    } else if (event === 'active') void this.#emitStarted(jobId);
  }

  #rememberLocal(id: string): void {
    if (!this.#onEvent) return;
    this.#localJobs.set(id, Date.now());
    for (const oldest of this.#localJobs.keys()) {
      if (this.#localJobs.size <= MAX_LOCAL_JOBS) break;
      this.#localJobs.delete(oldest);
    }
  }

  async #emitStarted(id: string): Promise<void> {
    const submittedAt = this.#localJobs.get(id);
    const onEvent = this.#onEvent;
    if (submittedAt === undefined || !onEvent) return;
    try {
      const job = await this.#read(id, false);
      // A video handed back by a busy worker was active for a moment only: it starts when a worker keeps it.
      if (job && !(job.kind === 'video' && job.status === 'queued'))
        onEvent({ type: 'started', job, wait_ms: Math.max(0, Date.now() - submittedAt) });
    } catch {
      // Metrics only.
    }
  }

  async #emitFinished(id: string): Promise<void> {
    const onEvent = this.#onEvent;
    if (!this.#localJobs.has(id) || !onEvent) return;
    try {
      const job = await this.#read(id, false);
      // A failed attempt that will be retried also sends 'failed'; only the final outcome counts.
      if (job && FINISHED_STATUSES.has(job.status)) {
        this.#localJobs.delete(id);
        onEvent({ type: 'finished', job });
      }
    } catch {
      // Metrics only.
    }
  }
}
