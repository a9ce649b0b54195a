/**
 * A worker's settings. The image-source policy (IMAGE_ROOT, URL_ALLOW_HOSTS, URL_TIMEOUT_MS,
 * MAX_BODY_BYTES) is read exactly as the HTTP service reads it, because the worker is where the
 * API's jobs are actually fetched and read: a worker with a looser policy would undo the API's.
 */
import { hostname } from 'node:os';
import type { ClassifierOptions } from '../engine/classifier.ts';
import { parseInteger } from '../engine/engine-config.ts';
import { serviceConfigFromEnv } from '../http/config.ts';
import { ClassifierError } from '../errors.ts';
import { redisQueueSettingsFromEnv, type RedisQueueSettings } from '../queue/redis-config.ts';

export interface WorkerConfig {
  /** hostname:pid, recorded on every job this worker runs. */
  id: string;
  queue: RedisQueueSettings;
  /** Jobs taken at once; null: twice the engine's largest batch, so single-image jobs still fill batches. */
  concurrency: number | null;
  /** Images in flight across those jobs; null: what keeps the decoding threads and full batches busy. */
  imageConcurrency: number | null;
  /** Model, engine and image-source settings for createClassifier. */
  engine: ClassifierOptions;
  /** How long SIGTERM waits for running jobs before giving up on them (they go back to the queue). */
  shutdownTimeoutMs: number;
}

export interface WorkerOverrides {
  queueUrl?: string;
  concurrency?: number;
  engine?: ClassifierOptions;
}

export function workerConfigFromEnv(
  overrides: WorkerOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): WorkerConfig {
  const url = overrides.queueUrl ?? env.QUEUE_URL;
  if (!url) {
    throw new ClassifierError(
      'invalid_setting',
      'A worker needs the queue: set QUEUE_URL (e.g. redis://127.0.0.1:6379) or pass --queue.',
    );
  }
  const service = serviceConfigFromEnv(env);
  const engine: ClassifierOptions = {
    ...service.engine,
    ...overrides.engine,
    sources: {
      maxBytes: service.maxBodyBytes,
      allowFiles: service.imageRoot !== null,
      imageRoot: service.imageRoot,
      url: {
        allowedHosts: service.urlAllowHosts,
        allowPrivateNetworks: false,
        timeoutMs: service.urlTimeoutMs,
        maxBytes: service.maxBodyBytes,
      },
    },
  };
  return {
    id: `${hostname()}:${process.pid}`,
    queue: redisQueueSettingsFromEnv(url, env),
    concurrency:
      overrides.concurrency ??
      (env.WORKER_CONCURRENCY ? parseInteger('WORKER_CONCURRENCY', env.WORKER_CONCURRENCY, 1, 4096) : null),
    imageConcurrency: env.WORKER_IMAGE_CONCURRENCY
      ? parseInteger('WORKER_IMAGE_CONCURRENCY', env.WORKER_IMAGE_CONCURRENCY, 1, 4096)
      : null,
    engine,
    shutdownTimeoutMs: env.WORKER_SHUTDOWN_TIMEOUT_MS
      ? parseInteger('WORKER_SHUTDOWN_TIMEOUT_MS', env.WORKER_SHUTDOWN_TIMEOUT_MS, 0, 24 * 3_600_000)
      : 5 * 60_000,
  };
}
