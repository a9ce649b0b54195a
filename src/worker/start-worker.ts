/**
 * A worker process's life: load the model once, take jobs from Redis with BullMQ, classify them
 * through the engine, announce itself, and on close finish the jobs it holds before letting go.
 *
 * Jobs are never lost with a worker: BullMQ holds each running job under a lock the worker keeps
 * renewing; when a worker dies, its lock expires, another worker's stalled check puts the job back
 * in the queue, and the images it had already stored are not classified again.
 */
import { Worker } from 'bullmq';
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
import { createWorkerRegistry, HEARTBEAT_MS, type WorkerAdvert } from '../queue/redis-workers.ts';
import { closeUrlFetchAgents } from '../sources/url.ts';
import { createJobProcessor } from './job-processor.ts';
import { createLimiter } from './limiter.ts';
import type { WorkerConfig } from './worker-config.ts';

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

export async function startWorker(config: WorkerConfig, options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const log = options.log ?? consoleLog;
  const { queue: settings, id } = config;
  const ownsClassifier = options.classifier === undefined;
  const classifier = options.classifier ?? (await createClassifier(config.engine));
  const concurrency = config.concurrency ?? classifier.settings.maxBatch * 2;
  const imageConcurrency =
    config.imageConcurrency ?? classifier.settings.decodeThreads * 2 + classifier.settings.maxBatch * 2;

  const keys = redisKeys(settings.prefix);
  const redis = connectRedis(settings.url, 'worker', { log, label: `worker ${id}` });
  const registry = createWorkerRegistry(redis, keys);
  const processor = createJobProcessor({
    classifier,
    store: createResultStore(redis, keys, resultTtlSeconds(settings.retentionSeconds)),
    cache: settings.resultCache ? createResultCache(redis, keys, settings.resultCacheTtlSeconds) : null,
    limiter: createLimiter(imageConcurrency),
    workerId: id,
  });

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

  const startedAt = new Date().toISOString();
  const advertise = () => {
    const advert: WorkerAdvert = {
      id,
      model: classifier.model,
      settings: classifier.settings,
      concurrency,
      started_at: startedAt,
      seen_at: Date.now(),
    };
    registry
      .advertise(advert)
      .catch((err: unknown) =>
        log('warn', `worker ${id}: could not announce itself: ${err instanceof Error ? err.message : String(err)}`),
      );
  };
  advertise();
  const heartbeat = setInterval(advertise, HEARTBEAT_MS);
  heartbeat.unref();
  log(
    'info',
    `worker ${id}: model ${classifier.model.id}, ${concurrency} jobs and ${imageConcurrency} images at once, queue ${settings.prefix}:${QUEUE_NAME}`,
  );
  log('info', `worker ${id}: ${settingsSummary(classifier.settings)}`);

  let closing: Promise<void> | null = null;
  return {
    id,
    concurrency,
    classifier,
    close(timeoutMs = config.shutdownTimeoutMs) {
      closing ??= (async () => {
        clearInterval(heartbeat);
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        const outcome = await Promise.race([worker.close(), gaveUp]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          // Their locks lapse and other workers take them over: late, but not lost.
          log('warn', `worker ${id}: jobs still running after ${timeoutMs} ms; leaving them to other workers`);
          await worker.close(true).catch(() => undefined);
        }
        await Promise.race([registry.remove(id), new Promise((resolve) => setTimeout(resolve, 1000).unref())]).catch(
          () => undefined,
        );
        if (ownsClassifier) {
          await classifier.close();
          await closeUrlFetchAgents();
        }
        await closeRedis(redis);
      })();
      return closing;
    },
  };
}
