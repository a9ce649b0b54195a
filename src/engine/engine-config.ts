import { type ClassifierError, invalidSettingError } from '../errors.ts';
import type { ClassifierOptions } from './classifier.ts';

/**
 * Engine settings from the environment, shared by every entry point (CLI, HTTP service, worker)
 * so one variable means the same thing everywhere. Command-line flags override these.
 */
export function engineOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ClassifierOptions {
  const options: ClassifierOptions = {};
  if (env.MODEL_PATH) options.modelPath = env.MODEL_PATH;
  if (env.MODEL_ID) options.modelId = env.MODEL_ID;
  if (env.MODEL_CACHE_DIR) options.cacheDir = env.MODEL_CACHE_DIR;
  if (env.MODEL_DOWNLOAD) options.download = parseBoolean('MODEL_DOWNLOAD', env.MODEL_DOWNLOAD);
  if (env.INTRA_OP_THREADS) options.intraOpThreads = parseInteger('INTRA_OP_THREADS', env.INTRA_OP_THREADS, 1, 256);
  if (env.PARALLEL_SESSIONS) options.parallelSessions = parseInteger('PARALLEL_SESSIONS', env.PARALLEL_SESSIONS, 1, 64);
  if (env.SOLO_SESSION) options.soloSession = parseBoolean('SOLO_SESSION', env.SOLO_SESSION);
  if (env.DECODE_THREADS) options.decodeThreads = parseInteger('DECODE_THREADS', env.DECODE_THREADS, 1, 256);
  if (env.MAX_BATCH) options.maxBatch = parseInteger('MAX_BATCH', env.MAX_BATCH, 1, 1024);
  if (env.MAX_BATCH_WAIT_MS) options.maxWaitMs = parseNumber('MAX_BATCH_WAIT_MS', env.MAX_BATCH_WAIT_MS, 0, 10_000);
  if (env.MAX_PIXELS) options.maxPixels = parseInteger('MAX_PIXELS', env.MAX_PIXELS, 1, 2 ** 40);
  if (env.INTRA_OP_SPINNING) options.allowSpinning = parseBoolean('INTRA_OP_SPINNING', env.INTRA_OP_SPINNING);
  if (env.SHRINK_ON_LOAD) options.shrinkOnLoad = parseBoolean('SHRINK_ON_LOAD', env.SHRINK_ON_LOAD);
  if (env.EXECUTION_PROVIDER) {
    if (env.EXECUTION_PROVIDER !== 'cpu' && env.EXECUTION_PROVIDER !== 'cuda')
      throw badSetting('EXECUTION_PROVIDER', env.EXECUTION_PROVIDER, 'cpu or cuda');
    options.executionProvider = env.EXECUTION_PROVIDER;
  }
  return options;
}

function badSetting(name: string, value: string, expected: string): ClassifierError {
  return invalidSettingError(name, value, expected);
}

export function parseInteger(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw badSetting(name, value, `a whole number from ${min} to ${max}`);
  return n;
}

export function parseNumber(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw badSetting(name, value, `a number from ${min} to ${max}`);
  return n;
}

export function parseBoolean(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw badSetting(name, value, 'true or false');
}
