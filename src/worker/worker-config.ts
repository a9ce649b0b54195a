/**
 * A worker's settings: the engine's, the image-source policy (the same one `serve` applies, because
 * the worker is where the API's jobs are actually fetched and read), the Redis queue's and its own.
 * No HTTP settings: a worker serves no HTTP, so a bad PORT is none of its business.
 */
import { hostname } from 'node:os';
import type { ClassifierOptions } from '../engine/classifier.ts';
import type { VideoLimits } from '../engine/video/classify-video.ts';
import { engineOptionsOf } from '../engine/engine-config.ts';
import { ClassifierError } from '../errors.ts';
import { type RedisQueueSettings, redisQueueSettingsOf } from '../queue/redis-config.ts';
import type { Settings } from '../settings/table.ts';
import type { LocalFilePolicy } from '../sources/file.ts';
import { sharedSourceOptions } from '../sources/policy.ts';

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
  /**
   * Video jobs: which local files `video_path` may name (IMAGE_ROOT, which must show the worker
   * the same files it shows the API) and ffmpeg's limits. Unset: no local paths, the default limits.
   */
  video?: { files: LocalFilePolicy; limits: VideoLimits; urls?: VideoUrlSettings };
}

/** What `video_url` downloads on this worker follow (videoUrlPolicyOf). */
export interface VideoUrlSettings {
  maxVideoUrlBytes: number;
  urlTimeoutMs: number;
  urlAllowHosts: readonly string[];
  videoTimeoutMs: number;
}

/** The worker's configuration from its loaded settings (`loadSettings({ command: 'worker' })`). */
export function workerConfigOf(settings: Settings): WorkerConfig {
  if (!settings.queueUrl) {
    throw new ClassifierError(
      'invalid_setting',
      'A worker needs the queue: set QUEUE_URL (e.g. redis://127.0.0.1:6379) or pass --queue.',
    );
  }
  return {
    id: `${hostname()}:${process.pid}`,
    queue: redisQueueSettingsOf(settings.queueUrl, settings),
    concurrency: settings.workerConcurrency ?? null,
    imageConcurrency: settings.workerImageConcurrency ?? null,
    engine: { ...engineOptionsOf(settings), sources: sharedSourceOptions(settings) },
    shutdownTimeoutMs: settings.workerShutdownTimeoutMs,
    video: {
      files: { allowFiles: settings.imageRoot !== undefined, root: settings.imageRoot ?? null },
      urls: {
        maxVideoUrlBytes: settings.maxVideoUrlBytes,
        urlTimeoutMs: settings.urlTimeoutMs,
        urlAllowHosts: settings.urlAllowHosts,
        videoTimeoutMs: settings.videoTimeoutMs,
      },
      limits: {
        ffmpegPath: settings.ffmpegPath ?? null,
        maxVideoSeconds: settings.maxVideoSeconds,
        maxVideoFrames: settings.maxVideoFrames,
        videoStallMs: settings.videoStallMs,
        videoTimeoutMs: settings.videoTimeoutMs,
      },
    },
  };
}
