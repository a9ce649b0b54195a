/**
 * One switch between the two deployments: without QUEUE_URL the service classifies in-process
 * (memory queue, model loaded here); with it, jobs go to Redis and worker processes classify
 * them, so the API process loads no model.
 */
import type { ClassSetResolver } from '../classes/index.ts';
import type { Classifier } from '../engine/classifier.ts';
import type { VideoLimits } from '../engine/video/classify-video.ts';
import { createMemoryQueue, type QueueClassifier } from './memory-queue.ts';
import { EngineClassifyService, type ClassifyService } from './classify-service.ts';
import { QueueClassifyService } from './queue-classify-service.ts';
import { type RedisSettingValues, redisQueueSettingsOf } from './redis-config.ts';
import type { LogFn } from './redis-connection.ts';
import { createRedisQueue, type RedisJobQueue } from './redis-queue.ts';
import type { ExamplesRunner, JobQueue, QueueEvent } from './types.ts';
import { videoUrlPolicyOf } from '../sources/video/video-source.ts';

/** The queue-related part of the service's settings (ServiceConfig has these fields). */
export interface JobQueueConfig {
  /** redis://... for Redis mode; null for in-process. */
  queueUrl: string | null;
  /** The Redis queue's settings as the process loaded them at start (QUEUE_PREFIX, JOB_ATTEMPTS, ...). */
  redis: RedisSettingValues;
  /** Jobs that may wait (in-process mode). */
  queueLimit: number;
  /** Images classified at once (in-process mode). */
  jobConcurrency: number | null;
  jobRetentionSeconds: number;
  /** In-process: upload bytes unfinished jobs may hold. Redis: the largest job. */
  queueMaxBytes: number;
  /** Folder video jobs' paths are confined to (as image_path); null refuses them. */
  imageRoot: string | null;
  /** ffmpeg's limits for video jobs (FFMPEG_PATH, MAX_VIDEO_SECONDS, ...). */
  videoLimits: VideoLimits;
  /** The URL policy `video_url` downloads follow (as image URLs), and their size limit. */
  urlAllowHosts: readonly string[];
  urlTimeoutMs: number;
  maxVideoUrlBytes: number;
}

export interface JobQueueDeps {
  /** The loaded engine; needed in-process only (see needsLocalModel). */
  classifier?: QueueClassifier | null;
  /** Runs examples jobs (in-process); without it the queue refuses them. */
  examples?: ExamplesRunner | null;
  onEvent?: (event: QueueEvent) => void;
  log?: LogFn;
}

/** False in Redis mode: workers hold the model, and the API process must not spend memory and start-up time on it. */
export function needsLocalModel(config: Pick<JobQueueConfig, 'queueUrl'>): boolean {
  return !config.queueUrl;
}

export function createJobQueue(config: JobQueueConfig, deps: JobQueueDeps = {}): JobQueue {
  const url = config.queueUrl;
  if (url) {
    const settings = redisQueueSettingsOf(url, config.redis, {
      retentionSeconds: config.jobRetentionSeconds,
      maxJobBytes: config.queueMaxBytes,
    });
    return createRedisQueue({ settings, onEvent: deps.onEvent, log: deps.log });
  }
  if (!deps.classifier)
    throw new Error('createJobQueue: the in-process queue needs the loaded classifier (no QUEUE_URL is set).');
  return createMemoryQueue(deps.classifier, {
    maxWaiting: config.queueLimit,
    maxHeldBytes: config.queueMaxBytes,
    retentionMs: config.jobRetentionSeconds * 1000,
    concurrency: config.jobConcurrency ?? undefined,
    onEvent: deps.onEvent,
    examples: deps.examples ?? null,
    video: {
      files: { allowFiles: config.imageRoot !== null, root: config.imageRoot },
      limits: config.videoLimits,
      urls: videoUrlPolicyOf({ ...config, videoTimeoutMs: config.videoLimits.videoTimeoutMs }),
    },
  });
}

export function isRedisQueue(queue: JobQueue): queue is RedisJobQueue {
  return (queue as Partial<RedisJobQueue>).mode === 'redis';
}

/**
 * What the HTTP app classifies with: the engine loaded here, or in Redis mode (no engine) the
 * workers through the queue: POST /classify becomes "queue one image and wait for it"
 * (CLASSIFY_TIMEOUT_MS, then 504 classify_timeout).
 */
export function classifyServiceOf(
  queue: JobQueue,
  engine: Classifier | null,
  resolver: ClassSetResolver | null = null,
): ClassifyService {
  if (engine) return new EngineClassifyService(engine, resolver);
  if (!isRedisQueue(queue)) throw new Error('classifyServiceOf: without an engine, only a Redis queue classifies.');
  return new QueueClassifyService(queue);
}
