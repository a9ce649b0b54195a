import { Option, type Command } from 'commander';
import { progressReporter } from '../engine/download-progress.ts';
import { DEFAULT_MODEL_ID } from '../engine/catalogue.ts';
import { settingsSummary } from '../engine/classifier.ts';
import { parseInteger, parseNumber } from '../engine/engine-config.ts';
import {
  LOG_LEVELS,
  parseDurationMs,
  serviceConfig,
  type LogLevel,
  type ServiceConfigOverrides,
} from '../http/config.ts';
import { shownModel } from '../http/model-view.ts';
import { startService } from '../http/service.ts';
import { addEngineFlags, engineOptionsFromFlags, type EngineFlagValues } from './engine-flags.ts';

interface ServeFlags extends EngineFlagValues {
  queue?: string;
  host?: string;
  port?: string;
  queueLimit?: string;
  jobConcurrency?: string;
  jobRetention?: string;
  queueMaxBytes?: string;
  maxBodyBytes?: string;
  maxBatchImages?: string;
  apiKey: string[];
  rateLimitMax?: string;
  rateLimitWindow?: string;
  allowHost: string[];
  urlTimeoutMs?: string;
  imageRoot?: string;
  webRoot?: string;
  trustProxy?: boolean;
  logLevel?: LogLevel;
}

function collect(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

function integerFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  return value === undefined ? undefined : parseInteger(name, value, min, max);
}

/** Flags over the environment (which serviceConfig reads), each flag named after its variable. */
function overridesOf(flags: ServeFlags): ServiceConfigOverrides {
  return {
    host: flags.host,
    port: integerFlag('--port', flags.port, 0, 65535),
    engine: engineOptionsFromFlags(flags),
    queueUrl: flags.queue,
    queueLimit: integerFlag('--queue-limit', flags.queueLimit, 1, 1_000_000),
    jobConcurrency: integerFlag('--job-concurrency', flags.jobConcurrency, 1, 4096),
    jobRetentionSeconds:
      flags.jobRetention === undefined
        ? undefined
        : parseNumber('--job-retention', flags.jobRetention, 0, 30 * 24 * 3600),
    queueMaxBytes: integerFlag('--queue-max-bytes', flags.queueMaxBytes, 1024, 2 ** 40),
    maxBodyBytes: integerFlag('--max-body-bytes', flags.maxBodyBytes, 1024, 2 ** 31),
    maxBatchImages: integerFlag('--max-batch-images', flags.maxBatchImages, 1, 100_000),
    apiKeys: flags.apiKey.length > 0 ? flags.apiKey : undefined,
    rateLimitMax: integerFlag('--rate-limit-max', flags.rateLimitMax, 0, 1_000_000_000),
    rateLimitWindowMs:
      flags.rateLimitWindow === undefined ? undefined : parseDurationMs('--rate-limit-window', flags.rateLimitWindow),
    urlAllowHosts: flags.allowHost.length > 0 ? flags.allowHost : undefined,
    urlTimeoutMs: integerFlag('--url-timeout-ms', flags.urlTimeoutMs, 1, 600_000),
    imageRoot: flags.imageRoot,
    webRoot: flags.webRoot,
    trustProxy: flags.trustProxy,
    logLevel: flags.logLevel,
  };
}

/** Resolves on the first SIGTERM or SIGINT; a second one means "now", and exits at once. */
function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** `marine-classifier serve`: the HTTP API, the page and the job queue in one process. */
export function registerServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description('Start the HTTP service (API at /classify and /jobs, docs at /docs, page at /)')
    .option(
      '--host <address>',
      'address to listen on (env HOST; default 127.0.0.1, use 0.0.0.0 to accept connections from other machines)',
    )
    .option('--port <n>', 'port (env PORT; default 8000)')
    .option(
      '--queue <url>',
      'Redis URL: queue jobs there for `worker` processes and load no model here (env QUEUE_URL)',
    )
    .option(
      '--queue-limit <n>',
      'images /classify works on at once, and jobs that may wait; beyond it 503 queue_full (env QUEUE_LIMIT; default 256)',
    )
    .option(
      '--job-concurrency <n>',
      'images the job queue classifies at once (env JOB_CONCURRENCY; default from threads and batch size)',
    )
    .option(
      '--job-retention <seconds>',
      'how long finished jobs stay readable (env JOB_RETENTION_SECONDS; default 3600)',
    )
    .option(
      '--queue-max-bytes <n>',
      'upload bytes queued jobs may hold in memory (env QUEUE_MAX_BYTES; default 512 MiB)',
    )
    .option('--max-body-bytes <n>', 'largest request body or upload (env MAX_BODY_BYTES; default 25 MiB)')
    .option('--max-batch-images <n>', 'most images in one batch job (env MAX_BATCH_IMAGES; default 256)')
    .option(
      '--api-key <key>',
      'accept this API key; repeatable; none means no authentication (env API_KEYS, comma-separated)',
      collect,
      [],
    )
    .option('--rate-limit-max <n>', 'requests per client per window, 0 for no limit (env RATE_LIMIT_MAX; default 0)')
    .option(
      '--rate-limit-window <duration>',
      'rate limit window, e.g. 60000, 30s, 1m (env RATE_LIMIT_WINDOW; default 1m)',
    )
    .option(
      '--allow-host <host>',
      'host name, IP or CIDR image URLs may reach although private; repeatable (env URL_ALLOW_HOSTS)',
      collect,
      [],
    )
    .option('--url-timeout-ms <ms>', 'limit for downloading an image URL (env URL_TIMEOUT_MS; default 15000)')
    .option(
      '--image-root <dir>',
      'let requests name files (image_path) inside this folder (env IMAGE_ROOT; default: no local files)',
    )
    .option('--web-root <dir>', 'folder served at / (env WEB_ROOT; default the bundled web/ page)')
    .option(
      '--trust-proxy',
      'take client addresses from X-Forwarded-For, for rate limiting behind your own proxy (env TRUST_PROXY)',
    )
    .addOption(new Option('--log-level <level>', 'log level (env LOG_LEVEL; default info)').choices([...LOG_LEVELS]));
  addEngineFlags(command).action(async (flags: ServeFlags) => {
    const config = serviceConfig(overridesOf(flags));
    const modelName = config.engine.modelPath ?? config.engine.modelId ?? DEFAULT_MODEL_ID;
    const service = await startService(config, { onDownloadProgress: progressReporter(`Downloading ${modelName}`) });
    const log = service.app.log;
    log.info(
      { url: service.url, model: shownModel(await service.classifier.model()).id },
      `Marine Classifier listening on ${service.url} (API docs at ${service.url}/docs)`,
    );
    // With the Redis queue there is no engine here; the workers log their own settings.
    if (service.engine) log.info({ engine: service.engine.settings }, settingsSummary(service.engine.settings));

    const signal = await shutdownSignal();
    log.info({ signal }, 'Shutting down: no new requests; finishing requests and running jobs');
    await service.close();
    log.info('Stopped');
    // Everything is closed; exiting explicitly keeps a stray timer in a dependency from holding the process up.
    process.exit(0);
  });
}
