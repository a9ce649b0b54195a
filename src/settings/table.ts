/**
 * Every setting of every command, declared once. The environment parser, the commands' flags and
 * their --help, and the configuration tables in the docs are all derived from this table
 * (`npm run docs` rewrites the docs; test/settings.test.ts fails when they drift).
 */
import { Type } from '@sinclair/typebox';
import { type CommandName, optional, type Setting, setting } from './declaration.ts';

const MiB = 1024 * 1024;
const DAY_S = 24 * 3600;

/** The largest image any source (upload, URL, file) may hand the engine, unless MAX_BODY_BYTES says otherwise. */
export const DEFAULT_MAX_IMAGE_BYTES = 25 * MiB;
export const DEFAULT_URL_TIMEOUT_MS = 15_000;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });
const num = (minimum: number, maximum: number) => Type.Number({ minimum, maximum });
const choice = <const T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)));

const ENGINE: readonly CommandName[] = ['classify', 'serve', 'worker', 'models'];
const SOURCES: readonly CommandName[] = ['serve', 'worker'];
const SOURCE_LIMITS: readonly CommandName[] = ['classify', 'serve', 'worker'];
const QUEUE: readonly CommandName[] = ['serve', 'worker'];

export const SETTINGS = {
  // Engine: the model and how it runs.
  modelPath: optional({
    env: 'MODEL_PATH',
    flag: '--model-path <file>',
    schema: Type.String(),
    help: 'a local ImageNet ONNX classifier (wins over MODEL_ID)',
    group: 'Engine',
    commands: ENGINE,
  }),
  modelId: optional({
    env: 'MODEL_ID',
    flag: '--model <id>',
    schema: Type.String({ minLength: 1 }),
    defaultText: 'resnet50-v1-12',
    help: 'catalogue model id, downloaded and verified on first use',
    group: 'Engine',
    commands: ENGINE,
  }),
  cacheDir: optional({
    env: 'MODEL_CACHE_DIR',
    flag: '--cache-dir <dir>',
    schema: Type.String({ minLength: 1 }),
    form: 'path',
    defaultText: '$XDG_CACHE_HOME/marine-classifier/models, else ~/.cache/marine-classifier/models',
    help: 'where downloaded models are kept',
    group: 'Engine',
    commands: ENGINE,
  }),
  download: setting({
    env: 'MODEL_DOWNLOAD',
    schema: Type.Boolean(),
    default: true,
    help: 'false refuses to download a model (fails with how to get it instead)',
    group: 'Engine',
    commands: ENGINE,
  }),
  intraOpThreads: optional({
    env: 'INTRA_OP_THREADS',
    flag: '--threads <n>',
    schema: int(1, 256),
    defaultText: 'cores',
    help: 'ONNX Runtime intra-op threads in all, shared by the parallel sessions',
    group: 'Engine',
    commands: ENGINE,
  }),
  parallelSessions: optional({
    env: 'PARALLEL_SESSIONS',
    flag: '--sessions <n>',
    schema: int(1, 64),
    defaultText: 'chosen at start-up: 2 for a heavy model, 1 for a light one or on one core',
    help: 'model sessions running batches side by side, each with its share of the threads and its own copy of the model',
    group: 'Engine',
    commands: ENGINE,
  }),
  soloSession: optional({
    env: 'SOLO_SESSION',
    schema: Type.Boolean(),
    defaultText: 'serve, worker: true with 2+ parallel sessions; classify: false',
    help: 'one more session with every thread, for a lone image while the others are idle',
    group: 'Engine',
    commands: ENGINE,
  }),
  decodeThreads: optional({
    env: 'DECODE_THREADS',
    flag: '--decode-threads <n>',
    schema: int(1, 256),
    defaultText: 'cores',
    help: 'image decoding threads',
    group: 'Engine',
    commands: ENGINE,
  }),
  maxBatch: setting({
    env: 'MAX_BATCH',
    flag: '--batch-size <n>',
    schema: int(1, 1024),
    default: 8,
    help: 'largest micro-batch',
    group: 'Engine',
    commands: ENGINE,
  }),
  maxWaitMs: setting({
    env: 'MAX_BATCH_WAIT_MS',
    flag: '--batch-wait-ms <ms>',
    schema: num(0, 10_000),
    default: 2,
    help: 'longest wait to fill a micro-batch while more images are on their way',
    group: 'Engine',
    commands: ENGINE,
  }),
  maxPixels: setting({
    env: 'MAX_PIXELS',
    flag: '--max-pixels <n>',
    schema: int(1, 2 ** 40),
    default: 100_000_000,
    help: 'refuse images with more pixels (decompression bombs)',
    group: 'Engine',
    commands: ENGINE,
  }),
  allowSpinning: setting({
    env: 'INTRA_OP_SPINNING',
    schema: Type.Boolean(),
    default: false,
    help: 'let idle ONNX Runtime threads busy-wait (they would take the decoders’ cores)',
    group: 'Engine',
    commands: ENGINE,
  }),
  shrinkOnLoad: setting({
    env: 'SHRINK_ON_LOAD',
    flag: '--fast-resize',
    schema: Type.Boolean(),
    default: false,
    help: 'shrink large JPEG/WebP photos while decoding (faster, less exact)',
    group: 'Engine',
    commands: ENGINE,
  }),
  executionProvider: setting({
    env: 'EXECUTION_PROVIDER',
    flag: '--execution-provider <name>',
    schema: choice(['cpu', 'cuda']),
    default: 'cpu',
    help: 'where the model runs',
    group: 'Engine',
    commands: ENGINE,
  }),

  // Image sources: what the engine may read and fetch for requests and jobs.
  maxBodyBytes: setting({
    env: 'MAX_BODY_BYTES',
    flag: '--max-body-bytes <n>',
    schema: int(1024, 2 ** 31),
    default: DEFAULT_MAX_IMAGE_BYTES,
    defaultText: '25 MiB',
    help: 'largest image from any source, and largest request body or upload (413)',
    group: 'Image sources',
    commands: SOURCE_LIMITS,
  }),
  urlTimeoutMs: setting({
    env: 'URL_TIMEOUT_MS',
    flag: '--url-timeout-ms <ms>',
    schema: int(1, 600_000),
    default: DEFAULT_URL_TIMEOUT_MS,
    help: 'limit for downloading an image URL',
    group: 'Image sources',
    commands: SOURCE_LIMITS,
  }),
  urlAllowHosts: setting({
    env: 'URL_ALLOW_HOSTS',
    flag: '--allow-host <host>',
    schema: Type.Array(Type.String()),
    form: 'list',
    default: [],
    defaultText: 'none',
    help: 'host names, IPs or CIDRs that image URLs may reach although private (comma-separated; flag repeatable)',
    group: 'Image sources',
    commands: SOURCES,
  }),
  imageRoot: optional({
    env: 'IMAGE_ROOT',
    flag: '--image-root <dir>',
    schema: Type.String({ minLength: 1 }),
    form: 'path',
    defaultText: 'none: no local files',
    help: 'let requests and jobs name files (image_path) inside this folder',
    group: 'Image sources',
    commands: SOURCES,
  }),

  // HTTP service.
  host: setting({
    env: 'HOST',
    flag: '--host <address>',
    schema: Type.String({ minLength: 1 }),
    default: '127.0.0.1',
    help: 'address to listen on; 0.0.0.0 accepts connections from other machines (containers)',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  port: setting({
    env: 'PORT',
    flag: '--port <n>',
    schema: int(0, 65535),
    default: 8000,
    help: 'port to listen on',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  maxBatchImages: setting({
    env: 'MAX_BATCH_IMAGES',
    flag: '--max-batch-images <n>',
    schema: int(1, 100_000),
    default: 256,
    help: 'most images in one batch job',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  apiKeys: setting({
    env: 'API_KEYS',
    flag: '--api-key <key>',
    schema: Type.Array(Type.String()),
    form: 'list',
    default: [],
    defaultText: 'none: no authentication',
    help: 'API keys (comma-separated; flag repeatable); when set, the API needs Authorization: Bearer KEY or X-API-Key: KEY',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  rateLimitMax: setting({
    env: 'RATE_LIMIT_MAX',
    flag: '--rate-limit-max <n>',
    schema: int(0, 1_000_000_000),
    default: 0,
    defaultText: '0 (off)',
    help: 'requests per client (API key, else address) per window (429); 0 for no limit',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  rateLimitWindowMs: setting({
    env: 'RATE_LIMIT_WINDOW',
    flag: '--rate-limit-window <duration>',
    schema: int(1, 7 * DAY_S * 1000),
    form: 'duration',
    default: 60_000,
    defaultText: '1m',
    help: 'rate limit window, e.g. 60000, 30s, 1m',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  webRoot: optional({
    env: 'WEB_ROOT',
    flag: '--web-root <dir>',
    schema: Type.String(),
    form: 'path',
    emptyIsValue: true,
    defaultText: 'the bundled web/ page',
    help: 'folder served at /; empty serves no page',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  trustProxy: setting({
    env: 'TRUST_PROXY',
    flag: '--trust-proxy',
    schema: Type.Boolean(),
    default: false,
    help: 'take client addresses from X-Forwarded-For, for rate limiting behind your own proxy',
    group: 'HTTP service',
    commands: ['serve'],
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    flag: '--log-level <level>',
    schema: choice(LOG_LEVELS),
    default: 'info',
    help: 'log level of the structured JSON logs (pino)',
    group: 'HTTP service',
    commands: ['serve'],
  }),

  // Job queue: in-process, or Redis (QUEUE_URL) shared by API processes and workers.
  queueUrl: optional({
    env: 'QUEUE_URL',
    flag: '--queue <url>',
    schema: Type.String({ pattern: '^rediss?://\\S+$' }),
    expected: 'a redis:// or rediss:// URL such as redis://127.0.0.1:6379',
    defaultText: 'none: in-process queue',
    help: 'Redis URL: jobs go to Redis for `worker` processes and `serve` loads no model',
    group: 'Job queue',
    commands: QUEUE,
  }),
  queueLimit: setting({
    env: 'QUEUE_LIMIT',
    flag: '--queue-limit <n>',
    schema: int(1, 1_000_000),
    default: 256,
    help: 'in-process: images /classify works on at once, and jobs that may wait; beyond it 503 queue_full',
    group: 'Job queue',
    commands: ['serve'],
  }),
  jobConcurrency: optional({
    env: 'JOB_CONCURRENCY',
    flag: '--job-concurrency <n>',
    schema: int(1, 4096),
    defaultText: 'from threads and batch size',
    help: 'in-process: images the job queue classifies at once',
    group: 'Job queue',
    commands: ['serve'],
  }),
  jobRetentionSeconds: setting({
    env: 'JOB_RETENTION_SECONDS',
    flag: '--job-retention <seconds>',
    schema: num(0, 30 * DAY_S),
    default: 3600,
    help: 'how long finished jobs stay readable',
    group: 'Job queue',
    commands: QUEUE,
  }),
  queueMaxBytes: setting({
    env: 'QUEUE_MAX_BYTES',
    flag: '--queue-max-bytes <n>',
    schema: int(1024, 2 ** 40),
    default: 512 * MiB,
    defaultText: '512 MiB',
    help: 'in-process: upload bytes queued jobs may hold in memory; Redis: the largest job (413 job_too_large)',
    group: 'Job queue',
    commands: QUEUE,
  }),
  queuePrefix: setting({
    env: 'QUEUE_PREFIX',
    schema: Type.String({ pattern: '^[\\w.-]{1,64}$' }),
    expected: "1-64 letters, digits, '.', '_' or '-'",
    default: 'marine',
    help: 'Redis: prefix of every key of this deployment, so several can share one Redis',
    group: 'Job queue',
    commands: QUEUE,
  }),
  jobAttempts: setting({
    env: 'JOB_ATTEMPTS',
    schema: int(1, 100),
    default: 3,
    help: 'Redis: tries per job for transient failures (URL fetch timeouts, upstream 5xx, a lost worker)',
    group: 'Job queue',
    commands: QUEUE,
  }),
  jobBackoffMs: setting({
    env: 'JOB_BACKOFF_MS',
    schema: int(0, 3_600_000),
    default: 1000,
    help: 'Redis: first retry delay; doubles each retry',
    group: 'Job queue',
    commands: QUEUE,
  }),
  queueMaxWaiting: setting({
    env: 'QUEUE_MAX_WAITING',
    schema: int(1, 100_000_000),
    default: 100_000,
    help: 'Redis, API: jobs waiting before 503 queue_full',
    group: 'Job queue',
    commands: QUEUE,
  }),
  classifyTimeoutMs: setting({
    env: 'CLASSIFY_TIMEOUT_MS',
    schema: int(100, 3_600_000),
    default: 30_000,
    help: 'Redis, API: how long POST /classify waits for a worker (504 classify_timeout)',
    group: 'Job queue',
    commands: QUEUE,
  }),
  redisCommandTimeoutMs: setting({
    env: 'REDIS_COMMAND_TIMEOUT_MS',
    schema: int(100, 600_000),
    default: 5000,
    help: 'Redis, API: a Redis command taking longer fails (503) instead of hanging a request',
    group: 'Job queue',
    commands: QUEUE,
  }),
  jobLockMs: setting({
    env: 'JOB_LOCK_MS',
    schema: int(500, 3_600_000),
    default: 30_000,
    help: 'Redis, worker: a job’s lock; a worker that stops renewing it loses the job after this long',
    group: 'Job queue',
    commands: QUEUE,
  }),
  jobStalledIntervalMs: optional({
    env: 'JOB_STALLED_INTERVAL_MS',
    schema: int(500, 3_600_000),
    defaultText: 'JOB_LOCK_MS',
    help: 'Redis, worker: how often workers look for jobs of vanished workers',
    group: 'Job queue',
    commands: QUEUE,
  }),
  jobMaxStalled: setting({
    env: 'JOB_MAX_STALLED',
    schema: int(0, 100),
    default: 2,
    help: 'Redis: times a job may be taken back from a vanished worker before it fails (worker_lost)',
    group: 'Job queue',
    commands: QUEUE,
  }),
  resultCache: setting({
    env: 'RESULT_CACHE',
    schema: Type.Boolean(),
    default: false,
    help: 'Redis: reuse results for identical images (same sha256, model and options)',
    group: 'Job queue',
    commands: QUEUE,
  }),
  resultCacheTtlSeconds: setting({
    env: 'RESULT_CACHE_TTL_SECONDS',
    schema: int(1, 365 * DAY_S),
    default: 7 * DAY_S,
    defaultText: '7 days',
    help: 'Redis: how long cached results are kept',
    group: 'Job queue',
    commands: QUEUE,
  }),

  // Worker processes.
  workerConcurrency: optional({
    env: 'WORKER_CONCURRENCY',
    flag: '--concurrency <n>',
    schema: int(1, 4096),
    defaultText: '2 × batch size',
    help: 'jobs taken at once',
    group: 'Worker',
    commands: ['worker'],
  }),
  workerImageConcurrency: optional({
    env: 'WORKER_IMAGE_CONCURRENCY',
    schema: int(1, 4096),
    defaultText: '2 × (decode threads + batch size)',
    help: 'images in flight across those jobs',
    group: 'Worker',
    commands: ['worker'],
  }),
  workerShutdownTimeoutMs: setting({
    env: 'WORKER_SHUTDOWN_TIMEOUT_MS',
    schema: int(0, 24 * 3_600_000),
    default: 5 * 60_000,
    help: 'longest SIGTERM waits for running jobs (they go back to the queue after)',
    group: 'Worker',
    commands: ['worker'],
  }),

  // Options of one classify run (no environment variable).
  topK: setting({
    flag: '-k, --top-k <n>',
    schema: int(1, 1000),
    default: 5,
    help: 'predictions per image',
    group: 'classify',
    commands: ['classify'],
  }),
  minScore: setting({
    flag: '--min-score <p>',
    schema: num(0, 1),
    default: 0,
    help: 'answer "unknown" when the top probability is below this',
    group: 'classify',
    commands: ['classify'],
  }),
  classifyConcurrency: optional({
    flag: '--concurrency <n>',
    schema: int(1, 10_000),
    defaultText: 'enough to keep the engine busy',
    help: 'images in flight at once',
    group: 'classify',
    commands: ['classify'],
  }),
} satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;

/** The value of every setting, typed from the table. */
export type Settings = {
  -readonly [K in SettingKey]: (typeof SETTINGS)[K] extends Setting<infer _S, infer V> ? V : never;
};
