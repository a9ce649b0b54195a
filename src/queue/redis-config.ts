/**
 * Settings of the Redis (BullMQ) job queue, shared by the API process and the workers so that one
 * variable means the same on both sides. Environment first; callers override field by field.
 */
import { parseBoolean, parseInteger, parseNumber } from '../engine/engine-config.ts';
import { ClassifierError } from '../errors.ts';

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

export const DEFAULT_QUEUE_PREFIX = 'marine';

export function defaultRedisQueueSettings(url: string): RedisQueueSettings {
  return {
    url,
    prefix: DEFAULT_QUEUE_PREFIX,
    attempts: 3,
    backoffMs: 1000,
    retentionSeconds: 3600,
    maxRetained: 10_000,
    maxWaiting: 100_000,
    maxJobBytes: 512 * 1024 * 1024,
    classifyTimeoutMs: 30_000,
    lockDurationMs: 30_000,
    stalledIntervalMs: 30_000,
    maxStalledCount: 2,
    resultCache: false,
    resultCacheTtlSeconds: 7 * 24 * 3600,
    commandTimeoutMs: 5000,
  };
}

export function validateQueueUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ClassifierError(
      'invalid_setting',
      `QUEUE_URL=${url} is not a URL; expected e.g. redis://127.0.0.1:6379.`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ClassifierError(
      'invalid_setting',
      `QUEUE_URL must start with redis:// or rediss://, not ${parsed.protocol}//.`,
    );
  }
  return url;
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

function validatePrefix(prefix: string): string {
  // BullMQ joins key parts with ':'; a prefix with spaces or braces would also break cluster hash tags.
  if (!/^[\w.-]{1,64}$/.test(prefix)) {
    throw new ClassifierError(
      'invalid_setting',
      `QUEUE_PREFIX=${prefix} is not valid: expected 1-64 letters, digits, '.', '_' or '-'.`,
    );
  }
  return prefix;
}

/** Redis queue settings from the environment; `url` (e.g. from --queue) wins over QUEUE_URL. */
export function redisQueueSettingsFromEnv(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<RedisQueueSettings> = {},
): RedisQueueSettings {
  const s = defaultRedisQueueSettings(validateQueueUrl(url));
  if (env.QUEUE_PREFIX) s.prefix = validatePrefix(env.QUEUE_PREFIX);
  if (env.JOB_ATTEMPTS) s.attempts = parseInteger('JOB_ATTEMPTS', env.JOB_ATTEMPTS, 1, 100);
  if (env.JOB_BACKOFF_MS) s.backoffMs = parseInteger('JOB_BACKOFF_MS', env.JOB_BACKOFF_MS, 0, 3_600_000);
  if (env.JOB_RETENTION_SECONDS)
    s.retentionSeconds = parseNumber('JOB_RETENTION_SECONDS', env.JOB_RETENTION_SECONDS, 0, 30 * 24 * 3600);
  if (env.QUEUE_MAX_WAITING) s.maxWaiting = parseInteger('QUEUE_MAX_WAITING', env.QUEUE_MAX_WAITING, 1, 100_000_000);
  if (env.CLASSIFY_TIMEOUT_MS)
    s.classifyTimeoutMs = parseInteger('CLASSIFY_TIMEOUT_MS', env.CLASSIFY_TIMEOUT_MS, 100, 3_600_000);
  if (env.JOB_LOCK_MS) s.lockDurationMs = parseInteger('JOB_LOCK_MS', env.JOB_LOCK_MS, 500, 3_600_000);
  // Checking for stalled jobs more rarely than locks expire only delays recovery.
  s.stalledIntervalMs = env.JOB_STALLED_INTERVAL_MS
    ? parseInteger('JOB_STALLED_INTERVAL_MS', env.JOB_STALLED_INTERVAL_MS, 500, 3_600_000)
    : s.lockDurationMs;
  if (env.JOB_MAX_STALLED) s.maxStalledCount = parseInteger('JOB_MAX_STALLED', env.JOB_MAX_STALLED, 0, 100);
  if (env.RESULT_CACHE) s.resultCache = parseBoolean('RESULT_CACHE', env.RESULT_CACHE);
  if (env.RESULT_CACHE_TTL_SECONDS)
    s.resultCacheTtlSeconds = parseInteger(
      'RESULT_CACHE_TTL_SECONDS',
      env.RESULT_CACHE_TTL_SECONDS,
      1,
      365 * 24 * 3600,
    );
  if (env.REDIS_COMMAND_TIMEOUT_MS)
    s.commandTimeoutMs = parseInteger('REDIS_COMMAND_TIMEOUT_MS', env.REDIS_COMMAND_TIMEOUT_MS, 100, 600_000);
  const defined = Object.fromEntries(
    Object.entries(overrides).filter(([, v]) => v !== undefined),
  ) as Partial<RedisQueueSettings>;
  const merged = { ...s, ...defined };
  if (defined.lockDurationMs !== undefined && defined.stalledIntervalMs === undefined && !env.JOB_STALLED_INTERVAL_MS)
    merged.stalledIntervalMs = merged.lockDurationMs;
  validatePrefix(merged.prefix);
  validateQueueUrl(merged.url);
  return merged;
}
