/**
 * The HTTP service's settings: environment first, then whatever the caller (the `serve` command's
 * flags, a test, a benchmark) overrides. Every setting has a default that is safe on a laptop:
 * loopback only, no auth, no rate limit, URLs only to public addresses, no local files.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClassifierOptions } from '../engine/classifier.ts';
import { engineOptionsFromEnv, parseBoolean, parseInteger, parseNumber } from '../engine/engine-config.ts';
import { type ClassifierError, invalidSettingError } from '../errors.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServiceConfig {
  /** 127.0.0.1 unless asked: 0.0.0.0 exposes the service to the network (containers need it). */
  host: string;
  port: number;
  /** Model and engine settings (MODEL_PATH, MODEL_ID, INTRA_OP_THREADS, MAX_BATCH, ...). */
  engine: ClassifierOptions;
  /** redis://... : jobs go to Redis and `worker` processes classify them (no model in this process); null: in-process. */
  queueUrl: string | null;
  /** Images POST /classify works on at once, and jobs that may wait; past it: 503 queue_full. */
  queueLimit: number;
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
  /** Host names, IPs and CIDRs that image URLs may reach even though private. */
  urlAllowHosts: string[];
  urlTimeoutMs: number;
  /** Folder `image_path` is confined to; null refuses local paths. */
  imageRoot: string | null;
  /** Folder served at `/`; null serves no page. */
  webRoot: string | null;
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). */
  trustProxy: boolean;
  logLevel: LogLevel;
}

const MiB = 1024 * 1024;

export function defaultWebRoot(): string | null {
  const folder = fileURLToPath(new URL('../../web/', import.meta.url));
  return existsSync(folder) ? folder : null;
}

export function defaultServiceConfig(): ServiceConfig {
  return {
    host: '127.0.0.1',
    port: 8000,
    engine: {},
    queueUrl: null,
    queueLimit: 256,
    jobConcurrency: null,
    jobRetentionSeconds: 3600,
    queueMaxBytes: 512 * MiB,
    maxBodyBytes: 25 * MiB,
    maxBatchImages: 256,
    apiKeys: [],
    rateLimitMax: 0,
    rateLimitWindowMs: 60_000,
    urlAllowHosts: [],
    urlTimeoutMs: 15_000,
    imageRoot: null,
    webRoot: defaultWebRoot(),
    trustProxy: false,
    logLevel: 'info',
  };
}

function badSetting(name: string, value: string, expected: string): ClassifierError {
  return invalidSettingError(name, value, expected);
}

export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "60000", "30s", "1m", "1 minute", "2 hours" -> milliseconds. */
export function parseDurationMs(name: string, value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?\s*$/i.exec(value);
  if (!match) throw badSetting(name, value, 'a duration such as 60000, 30s, 1m or 1 hour');
  const unit = (match[2] ?? 'ms').toLowerCase();
  const key = unit.startsWith('ms') || unit.startsWith('milli') ? 'ms' : unit[0];
  const ms = Number(match[1]) * DURATION_UNITS_MS[key];
  if (!(ms >= 1 && ms <= 7 * 24 * 3_600_000)) throw badSetting(name, value, 'a duration from 1 ms to 7 days');
  return Math.round(ms);
}

export function parseLogLevel(name: string, value: string): LogLevel {
  const level = value.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw badSetting(name, value, LOG_LEVELS.join(', '));
  return level as LogLevel;
}

/** Every variable the service reads; README "HTTP service" documents them. */
export function serviceConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const config = defaultServiceConfig();
  config.engine = engineOptionsFromEnv(env);
  if (env.HOST) config.host = env.HOST;
  if (env.PORT) config.port = parseInteger('PORT', env.PORT, 0, 65535);
  if (env.QUEUE_URL) config.queueUrl = env.QUEUE_URL;
  if (env.QUEUE_LIMIT) config.queueLimit = parseInteger('QUEUE_LIMIT', env.QUEUE_LIMIT, 1, 1_000_000);
  if (env.JOB_CONCURRENCY) config.jobConcurrency = parseInteger('JOB_CONCURRENCY', env.JOB_CONCURRENCY, 1, 4096);
  if (env.JOB_RETENTION_SECONDS)
    config.jobRetentionSeconds = parseNumber('JOB_RETENTION_SECONDS', env.JOB_RETENTION_SECONDS, 0, 30 * 24 * 3600);
  if (env.QUEUE_MAX_BYTES) config.queueMaxBytes = parseInteger('QUEUE_MAX_BYTES', env.QUEUE_MAX_BYTES, 1024, 2 ** 40);
  if (env.MAX_BODY_BYTES) config.maxBodyBytes = parseInteger('MAX_BODY_BYTES', env.MAX_BODY_BYTES, 1024, 2 ** 31);
  if (env.MAX_BATCH_IMAGES) config.maxBatchImages = parseInteger('MAX_BATCH_IMAGES', env.MAX_BATCH_IMAGES, 1, 100_000);
  if (env.API_KEYS) config.apiKeys = parseList(env.API_KEYS);
  if (env.RATE_LIMIT_MAX) config.rateLimitMax = parseInteger('RATE_LIMIT_MAX', env.RATE_LIMIT_MAX, 0, 1_000_000_000);
  if (env.RATE_LIMIT_WINDOW) config.rateLimitWindowMs = parseDurationMs('RATE_LIMIT_WINDOW', env.RATE_LIMIT_WINDOW);
  if (env.URL_ALLOW_HOSTS) config.urlAllowHosts = parseList(env.URL_ALLOW_HOSTS);
  if (env.URL_TIMEOUT_MS) config.urlTimeoutMs = parseInteger('URL_TIMEOUT_MS', env.URL_TIMEOUT_MS, 1, 600_000);
  if (env.IMAGE_ROOT) config.imageRoot = path.resolve(env.IMAGE_ROOT);
  if (env.WEB_ROOT !== undefined) config.webRoot = env.WEB_ROOT ? path.resolve(env.WEB_ROOT) : null;
  if (env.TRUST_PROXY) config.trustProxy = parseBoolean('TRUST_PROXY', env.TRUST_PROXY);
  if (env.LOG_LEVEL) config.logLevel = parseLogLevel('LOG_LEVEL', env.LOG_LEVEL);
  return config;
}

export type ServiceConfigOverrides = Partial<Omit<ServiceConfig, 'engine'>> & { engine?: ClassifierOptions };

/** The environment's settings with `overrides` on top; undefined overrides are ignored. */
export function serviceConfig(
  overrides: ServiceConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): ServiceConfig {
  const base = serviceConfigFromEnv(env);
  const defined = Object.fromEntries(
    Object.entries(overrides).filter(([, v]) => v !== undefined),
  ) as ServiceConfigOverrides;
  return { ...base, ...defined, engine: { ...base.engine, ...overrides.engine } };
}
