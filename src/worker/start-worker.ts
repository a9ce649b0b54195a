/**
 * A worker process's life: load the model once, take jobs from Redis with BullMQ, classify them
 * through the engine, announce itself, and on close finish the jobs it holds before letting go.
 *
 * Jobs are never lost with a worker: BullMQ holds each running job under a lock the worker keeps
 * renewing; when a worker dies, its lock expires, another worker's stalled check puts the job back
 * in the queue, and the images it had already stored are not classified again.
 */
import { ClassSetResolver, type ClassSetStore, modelFingerprintOf, RedisClassSetStore } from '../classes/index.ts';
import { examplesRunnerOf } from '../queue/class-sets.ts';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createClassifier, settingsSummary, type Classifier } from '../engine/classifier.ts';
import { createResultCache } from '../queue/redis-cache.ts';
import {
  closeRedis,
  connectRedis,
  consoleLog,
  isRedisUnavailableError,
  type LogFn,
} from '../queue/redis-connection.ts';
import type { RedisJobData, RedisJobReturn } from '../queue/redis-job.ts';
import { QUEUE_NAME, redisKeys } from '../queue/redis-keys.ts';
import { createResultStore, resultTtlSeconds } from '../queue/redis-results.ts';
import { createVideoStore } from '../queue/redis-videos.ts';
import { createWorkerRegistry, HEARTBEAT_MS, type WorkerRegistry } from '../queue/redis-workers.ts';
import { DEFAULT_VIDEO_LIMITS } from '../engine/video/classify-video.ts';
import { createJobProcessor } from './job-processor.ts';
import { createLimiter } from './limiter.ts';
import type { WorkerConfig } from './worker-config.ts';
import { videoUrlPolicyOf, type VideoUrlPolicy } from '../sources/video/video-source.ts';

export interface RunningWorker {
  id: string;
  /** Jobs taken at once. */
  concurrency: number;
  classifier: Classifier;
  /** Stops taking jobs, finishes the running ones (at most `timeoutMs`), then frees the model and connections. */
  close(timeoutMs?: number): Promise<void>;
}

export interface StartWorkerOptions {
  /** Share an already-loaded classifier; the worker then leaves it open. */
  classifier?: Classifier;
  log?: LogFn;
}

type BullWorker = Worker<RedisJobData, RedisJobReturn>;

export async function startWorker(config: WorkerConfig, options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const log = options.log ?? consoleLog;
  const classifier = options.classifier ?? (await createClassifier(config.engine));
  return new ClassifyWorker(config, classifier, options.classifier === undefined, log);
}

/** The sets in Redis, used with this worker's model: `class_set` on classification jobs, and examples jobs. */
function classSetsOf(store: ClassSetStore, classifier: Classifier) {
  return {
    resolver: new ClassSetResolver(store, () => modelFingerprintOf(classifier.model)),
    examples: examplesRunnerOf(store, classifier),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves after `ms` without holding the process open. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function bullWorkerOf(
  config: WorkerConfig,
  redis: Redis,
  processor: ReturnType<typeof createJobProcessor>,
  concurrency: number,
  log: LogFn,
): BullWorker {
  const { queue: settings, id } = config;
  const worker = new Worker<RedisJobData, RedisJobReturn>(QUEUE_NAME, processor, {
    connection: redis,
    prefix: settings.prefix,
    concurrency,
    // Stored on each job it takes (processedBy), so a job shows where it runs before it finishes.
    name: id,
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
  });
  worker.on('error', (err) => {
    // Outages are reported once, when they start and end, by the connection watcher; BullMQ repeats them on every retry.
    if (!isRedisUnavailableError(err)) log('warn', `worker ${id}: ${err.message}`);
  });
  worker.on('failed', (job, err) => {
    if (job) log('info', `worker ${id}: job ${job.id} attempt ${job.attemptsMade} failed: ${err.message}`);
  });
  return worker;
}

class ClassifyWorker implements RunningWorker {
  readonly id: string;
  readonly concurrency: number;
  readonly classifier: Classifier;
  readonly #config: WorkerConfig;
  readonly #ownsClassifier: boolean;
  readonly #log: LogFn;
  readonly #redis: Redis;
  readonly #videoUrls: VideoUrlPolicy | null;
  readonly #registry: WorkerRegistry;
  readonly #worker: BullWorker;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #startedAt = new Date().toISOString();
  /** Aborted at shutdown: a running video stops (ffmpeg with it) and goes back to the queue instead of holding it up. */
  readonly #stopping = new AbortController();
  #closing: Promise<void> | null = null;

  constructor(config: WorkerConfig, classifier: Classifier, ownsClassifier: boolean, log: LogFn) {
    const { queue: settings, id } = config;
    this.id = id;
    this.classifier = classifier;
    this.#config = config;
    this.#ownsClassifier = ownsClassifier;
    this.#log = log;
    this.concurrency = config.concurrency ?? classifier.settings.maxBatch * 2;
    const imageConcurrency =
      config.imageConcurrency ?? classifier.settings.decodeThreads * 2 + classifier.settings.maxBatch * 2;
    const keys = redisKeys(settings.prefix);
    this.#redis = connectRedis(settings.url, 'worker', { log, label: `worker ${id}` });
    this.#registry = createWorkerRegistry(this.#redis, keys);
    const classSets = classSetsOf(new RedisClassSetStore({ redis: this.#redis, prefix: settings.prefix }), classifier);
    const video = config.video ?? { files: { allowFiles: false }, limits: DEFAULT_VIDEO_LIMITS };
    this.#videoUrls = video.urls ? videoUrlPolicyOf(video.urls) : null;
    const processor = createJobProcessor({
      classifier,
      store: createResultStore(this.#redis, keys, resultTtlSeconds(settings.retentionSeconds)),
      cache: settings.resultCache ? createResultCache(this.#redis, keys, settings.resultCacheTtlSeconds) : null,
      limiter: createLimiter(imageConcurrency),
      workerId: id,
      classSets,
      video: {
        classifier,
        files: video.files,
        urls: this.#videoUrls,
        limits: video.limits,
        store: createVideoStore(this.#redis, keys, settings.retentionSeconds),
        resolver: classSets.resolver,
        stopping: this.#stopping.signal,
        // One video per worker process: each is an ffmpeg using several cores, feeding the same engine.
        slot: { busy: false },
        workerId: id,
      },
    });
    this.#worker = bullWorkerOf(config, this.#redis, processor, this.concurrency, log);
    this.#advertise();
    this.#heartbeat = setInterval(() => this.#advertise(), HEARTBEAT_MS);
    this.#heartbeat.unref();
    log(
      'info',
      `worker ${id}: model ${classifier.model.id}, ${this.concurrency} jobs and ${imageConcurrency} images at once, queue ${settings.prefix}:${QUEUE_NAME}`,
    );
    if (classifier.model.choice) log('info', `worker ${id}: model ${classifier.model.choice}`);
    log('info', `worker ${id}: ${settingsSummary(classifier.settings)}`);
  }

  close(timeoutMs = this.#config.shutdownTimeoutMs): Promise<void> {
    this.#closing ??= this.#shutDown(timeoutMs);
    return this.#closing;
  }

  #advertise(): void {
    const { id, classifier } = this;
    this.#registry
      .advertise({
        id,
        model: classifier.model,
        settings: classifier.settings,
        concurrency: this.concurrency,
        started_at: this.#startedAt,
        seen_at: Date.now(),
      })
      .catch((err: unknown) => this.#log('warn', `worker ${id}: could not announce itself: ${errorText(err)}`));
  }

  async #shutDown(timeoutMs: number): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#stopping.abort();
    await this.#stopTakingJobs(timeoutMs);
    await Promise.race([this.#registry.remove(this.id), delay(1000)]).catch(() => undefined);
    if (this.#ownsClassifier) await this.classifier.close();
    await this.#videoUrls?.fetcher.close();
    await closeRedis(this.#redis);
  }

  /** Lets the running jobs finish, for at most `timeoutMs`. */
  async #stopTakingJobs(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([this.#worker.close(), gaveUp]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // Their locks lapse and other workers take them over: late, but not lost.
      this.#log('warn', `worker ${this.id}: jobs still running after ${timeoutMs} ms; leaving them to other workers`);
      await this.#worker.close(true).catch(() => undefined);
    }
  }
}
