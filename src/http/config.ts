/**
 * The HTTP service's settings, made from the settings table (src/settings): environment first, then
 * whatever the caller (the `serve` command's flags, a test, a benchmark) overrides. Every default is
 * safe on a laptop: loopback only, no auth, no rate limit, URLs only to public addresses, no local files.
 */
import type { VideoLimits } from '../engine/video/classify-video.ts';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClassifierOptions } from '../engine/classifier.ts';
import { engineOptionsOf } from '../engine/engine-config.ts';
import { REDIS_QUEUE_KEYS, type RedisSettingValues } from '../queue/redis-config.ts';
import { type Environment, environment, loadSettings } from '../settings/load.ts';
import { LOG_LEVELS, type LogLevel, type Settings } from '../settings/table.ts';

export { LOG_LEVELS, type LogLevel };

export interface ServiceConfig {
  /** 127.0.0.1 unless asked: 0.0.0.0 exposes the service to the network (containers need it). */
  host: string;
  port: number;
  /** Model and engine settings (MODEL_PATH, MODEL_ID, INTRA_OP_THREADS, MAX_BATCH, ...). */
  engine: ClassifierOptions;
  /** redis://... : jobs go to Redis and `worker` processes classify them (no model in this process); null: in-process. */
  queueUrl: string | null;
  /** The Redis queue's settings (QUEUE_PREFIX, JOB_ATTEMPTS, ...), loaded with the rest; used in Redis mode. */
  redis: RedisSettingValues;
  /** Images POST /classify works on at once, and jobs that may wait; past it: 503 queue_full. */
  queueLimit: number;
  /** Slots of QUEUE_LIMIT one client address may hold; null: half of QUEUE_LIMIT. */
  queueLimitPerClient: number | null;
  /** Images the job queue classifies at once; null: derived from the engine's threads and batch size. */
  jobConcurrency: number | null;
  jobRetentionSeconds: number;
  /** Upload bytes unfinished jobs may hold in memory. */
  queueMaxBytes: number;
  /** Largest request body (JSON, raw image, or all files of a multipart form together). */
  maxBodyBytes: number;
  maxBatchImages: number;
  /** Empty: no authentication. */
  apiKeys: string[];
  /** Requests per client per window; 0 turns rate limiting off. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** Wrong API keys per client address per rate limit window; 0 for no limit (RATE_LIMIT_MAX still caps it). */
  authFailureMax: number;
  /** Host names, IPs and CIDRs that image and video URLs may reach even though private. */
  urlAllowHosts: string[];
  urlTimeoutMs: number;
  /** Folder `image_path` (and `video_path`) is confined to; null refuses local paths. */
  imageRoot: string | null;
  /** Where class sets are kept without QUEUE_URL (DATA_DIR/class-sets.sqlite); null: no class sets. */
  dataDir: string | null;
  /** ffmpeg and the limits of one video (FFMPEG_PATH, MAX_VIDEO_SECONDS, MAX_VIDEO_FRAMES, VIDEO_STALL_MS, VIDEO_TIMEOUT_MS). */
  videoLimits: VideoLimits;
  /** Largest uploaded video (POST /jobs, raw or multipart). */
  maxVideoBytes: number;
  /** Largest video downloaded from a `video_url`. */
  maxVideoUrlBytes: number;
  /** Folder served at `/`; null serves no page. */
  webRoot: string | null;
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). */
  trustProxy: boolean;
  /** A request body that sends nothing for this long gets 408. */
  bodyStallMs: number;
  /** Slowest average pace (bytes/s) of a request body once it has taken bodyStallMs; 0: no minimum. */
  bodyMinRate: number;
  /** On shutdown, how long requests in progress may take before their connections are closed. */
  shutdownGraceMs: number;
  logLevel: LogLevel;
}

export function defaultWebRoot(): string | null {
  const folder = fileURLToPath(new URL('../../web/', import.meta.url));
  return existsSync(folder) ? folder : null;
}

/** The service's configuration from loaded settings (see src/settings/table.ts for each one). */
export function serviceConfigOf(settings: Settings): ServiceConfig {
  return {
    host: settings.host,
    port: settings.port,
    engine: engineOptionsOf(settings),
    queueUrl: settings.queueUrl ?? null,
    redis: Object.fromEntries(REDIS_QUEUE_KEYS.map((key) => [key, settings[key]])) as RedisSettingValues,
    queueLimit: settings.queueLimit,
    queueLimitPerClient: settings.queueLimitPerClient ?? null,
    jobConcurrency: settings.jobConcurrency ?? null,
    jobRetentionSeconds: settings.jobRetentionSeconds,
    queueMaxBytes: settings.queueMaxBytes,
    maxBodyBytes: settings.maxBodyBytes,
    maxBatchImages: settings.maxBatchImages,
    apiKeys: settings.apiKeys,
    rateLimitMax: settings.rateLimitMax,
    rateLimitWindowMs: settings.rateLimitWindowMs,
    authFailureMax: settings.authFailureMax,
    urlAllowHosts: settings.urlAllowHosts,
    urlTimeoutMs: settings.urlTimeoutMs,
    imageRoot: settings.imageRoot ?? null,
    dataDir: settings.dataDir ?? null,
    videoLimits: {
      ffmpegPath: settings.ffmpegPath ?? null,
      maxVideoSeconds: settings.maxVideoSeconds,
      maxVideoFrames: settings.maxVideoFrames,
      videoStallMs: settings.videoStallMs,
      videoTimeoutMs: settings.videoTimeoutMs,
    },
    maxVideoBytes: settings.maxVideoBytes,
    maxVideoUrlBytes: settings.maxVideoUrlBytes,
    // Unset: the bundled page; set empty: no page.
    webRoot: settings.webRoot === undefined ? defaultWebRoot() : settings.webRoot || null,
    trustProxy: settings.trustProxy,
    bodyStallMs: settings.bodyStallMs,
    bodyMinRate: settings.bodyMinRate,
    shutdownGraceMs: settings.shutdownGraceMs,
    logLevel: settings.logLevel,
  };
}

export function defaultServiceConfig(): ServiceConfig {
  return serviceConfigOf(loadSettings({ command: 'serve', env: {} }));
}

/** Every variable `serve` reads; a bad one throws invalid_setting. */
export function serviceConfigFromEnv(env: Environment = environment()): ServiceConfig {
  return serviceConfigOf(loadSettings({ command: 'serve', env }));
}

export type ServiceConfigOverrides = Partial<Omit<ServiceConfig, 'engine'>> & { engine?: ClassifierOptions };

/** The environment's settings with `overrides` on top; undefined overrides are ignored. */
export function serviceConfig(overrides: ServiceConfigOverrides = {}, env: Environment = environment()): ServiceConfig {
  const base = serviceConfigFromEnv(env);
  const defined = Object.fromEntries(
    Object.entries(overrides).filter(([, v]) => v !== undefined),
  ) as ServiceConfigOverrides;
  return { ...base, ...defined, engine: { ...base.engine, ...overrides.engine } };
}
