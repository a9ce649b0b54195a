/**
 * Settings of the Redis (BullMQ) job queue, shared by the API process and the workers so that one
 * variable means the same on both sides. Environment first; callers override field by field.
 */
import { checkSetting, type Environment, environment, loadSettings } from '../settings/load.ts';
import { SETTINGS, type SettingKey, type Settings } from '../settings/table.ts';

export interface RedisQueueSettings {
  /** redis:// or rediss:// URL (QUEUE_URL / --queue). */
  url: string;
  /** Every key this service writes starts with `<prefix>:`, so several deployments can share one Redis. */
  prefix: string;
  /** Tries per job for transient failures (fetch timeouts, upstream 5xx, a worker dying). */
  attempts: number;
  /** First retry delay; doubles on each further retry. */
  backoffMs: number;
  /** How long a finished job stays readable. */
  retentionSeconds: number;
  /** Finished jobs kept at most, whatever their age. */
  maxRetained: number;
  /** Jobs waiting in Redis; past this, submit answers queue_full (bounds Redis memory). */
  maxWaiting: number;
  /** Largest job, counting its inline (base64) images. */
  maxJobBytes: number;
  /** Largest uploaded video (it waits in Redis until a worker takes its job); larger ones go by video_url. */
  maxVideoBytes: number;
  /** How long POST /classify waits for a worker before answering 504 classify_timeout. */
  classifyTimeoutMs: number;
  /** A worker's claim on a job; a worker that stops renewing it (killed, frozen) loses the job after this long. */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired. */
  stalledIntervalMs: number;
  /** Times a job may be taken back from a vanished worker before it fails as worker_lost. */
  maxStalledCount: number;
  /** Reuse results for an image already classified with the same model and options. */
  resultCache: boolean;
  resultCacheTtlSeconds: number;
  /** API side: a Redis command that takes longer fails (so requests never hang on a stuck Redis). */
  commandTimeoutMs: number;
}

export const DEFAULT_QUEUE_PREFIX = SETTINGS.queuePrefix.default;

/** The settings the Redis queue is made of. */
export const REDIS_QUEUE_KEYS = [
  'queuePrefix',
  'jobAttempts',
  'jobBackoffMs',
  'jobRetentionSeconds',
  'queueMaxWaiting',
  'queueMaxBytes',
  'maxVideoBytes',
  'classifyTimeoutMs',
  'jobLockMs',
  'jobStalledIntervalMs',
  'jobMaxStalled',
  'resultCache',
  'resultCacheTtlSeconds',
  'redisCommandTimeoutMs',
] as const satisfies readonly SettingKey[];

export type RedisSettingValues = Pick<Settings, (typeof REDIS_QUEUE_KEYS)[number]>;

export function defaultRedisQueueSettings(url: string): RedisQueueSettings {
  return redisQueueSettingsOf(url, loadSettings({ keys: REDIS_QUEUE_KEYS, env: {} }));
}

export function validateQueueUrl(url: string): string {
  return checkSetting('queueUrl', url) as string;
}

/** The URL without its password, for messages and logs. */
export function describeQueueUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured Redis';
  }
}

/**
 * The Redis queue's settings from loaded settings; `url` (e.g. from --queue) is the queue. `overrides`
 * (tests, the API's own job limits) win field by field.
 */
export function redisQueueSettingsOf(
  url: string,
  values: RedisSettingValues,
  overrides: Partial<RedisQueueSettings> = {},
): RedisQueueSettings {
  const fromSettings: RedisQueueSettings = {
    url,
    prefix: values.queuePrefix,
    attempts: values.jobAttempts,
    backoffMs: values.jobBackoffMs,
    retentionSeconds: values.jobRetentionSeconds,
    maxRetained: 10_000,
    maxWaiting: values.queueMaxWaiting,
    maxJobBytes: values.queueMaxBytes,
    maxVideoBytes: values.maxVideoBytes,
    classifyTimeoutMs: values.classifyTimeoutMs,
    lockDurationMs: values.jobLockMs,
    // Checking for stalled jobs more rarely than locks expire only delays recovery.
    stalledIntervalMs: values.jobStalledIntervalMs ?? values.jobLockMs,
    maxStalledCount: values.jobMaxStalled,
    resultCache: values.resultCache,
    resultCacheTtlSeconds: values.resultCacheTtlSeconds,
    commandTimeoutMs: values.redisCommandTimeoutMs,
  };
  const defined = Object.fromEntries(
    Object.entries(overrides).filter(([, v]) => v !== undefined),
  ) as Partial<RedisQueueSettings>;
  const merged = { ...fromSettings, ...defined };
  if (defined.lockDurationMs !== undefined && defined.stalledIntervalMs === undefined && !values.jobStalledIntervalMs)
    merged.stalledIntervalMs = merged.lockDurationMs;
  checkSetting('queuePrefix', merged.prefix);
  validateQueueUrl(merged.url);
  return merged;
}

/** Redis queue settings from the environment; `url` (e.g. from --queue) wins over QUEUE_URL. */
export function redisQueueSettingsFromEnv(
  url: string,
  env: Environment = environment(),
  overrides: Partial<RedisQueueSettings> = {},
): RedisQueueSettings {
  return redisQueueSettingsOf(validateQueueUrl(url), loadSettings({ keys: REDIS_QUEUE_KEYS, env }), overrides);
}
