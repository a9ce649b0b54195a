import { Option, type Command } from 'commander';
import type { ClassifierOptions } from '../engine/classifier.ts';
import { engineOptionsFromEnv, parseInteger, parseNumber } from '../engine/engine-config.ts';

/** Model and engine flags shared by every command that loads the model. */
export function addEngineFlags(command: Command): Command {
  return command
    .option('--model <id>', 'catalogue model id (env MODEL_ID; default resnet50-v1-12)')
    .option('--model-path <file>', 'a local ImageNet ONNX classifier (env MODEL_PATH)')
    .option('--cache-dir <dir>', 'where downloaded models are kept (env MODEL_CACHE_DIR)')
    .option('--threads <n>', 'ONNX Runtime intra-op threads in all (env INTRA_OP_THREADS)')
    .option('--sessions <n>', 'model sessions running batches side by side (env PARALLEL_SESSIONS)')
    .option('--decode-threads <n>', 'image decoding threads (env DECODE_THREADS)')
    .option('--batch-size <n>', 'largest micro-batch (env MAX_BATCH)')
    .option('--batch-wait-ms <ms>', 'longest wait to fill a micro-batch (env MAX_BATCH_WAIT_MS)')
    .option('--max-pixels <n>', 'refuse images with more pixels (env MAX_PIXELS)')
    .option('--fast-resize', 'shrink large JPEG/WebP photos while decoding (faster, less exact; env SHRINK_ON_LOAD)')
    .addOption(
      new Option('--execution-provider <name>', 'cpu or cuda (env EXECUTION_PROVIDER)').choices(['cpu', 'cuda']),
    );
}

export interface EngineFlagValues {
  model?: string;
  modelPath?: string;
  cacheDir?: string;
  threads?: string;
  sessions?: string;
  decodeThreads?: string;
  batchSize?: string;
  batchWaitMs?: string;
  maxPixels?: string;
  fastResize?: boolean;
  executionProvider?: 'cpu' | 'cuda';
}

/** Environment first, flags over it. */
export function engineOptionsFromFlags(flags: EngineFlagValues): ClassifierOptions {
  const options = engineOptionsFromEnv();
  if (flags.model) {
    options.modelId = flags.model;
    if (!flags.modelPath) delete options.modelPath;
  }
  if (flags.modelPath) options.modelPath = flags.modelPath;
  if (flags.cacheDir) options.cacheDir = flags.cacheDir;
  if (flags.threads) options.intraOpThreads = parseInteger('--threads', flags.threads, 1, 256);
  if (flags.sessions) options.parallelSessions = parseInteger('--sessions', flags.sessions, 1, 64);
  if (flags.decodeThreads) options.decodeThreads = parseInteger('--decode-threads', flags.decodeThreads, 1, 256);
  if (flags.batchSize) options.maxBatch = parseInteger('--batch-size', flags.batchSize, 1, 1024);
  if (flags.batchWaitMs) options.maxWaitMs = parseNumber('--batch-wait-ms', flags.batchWaitMs, 0, 10_000);
  if (flags.maxPixels) options.maxPixels = parseInteger('--max-pixels', flags.maxPixels, 1, 2 ** 40);
  if (flags.fastResize) options.shrinkOnLoad = true;
  if (flags.executionProvider) options.executionProvider = flags.executionProvider;
  return options;
}
