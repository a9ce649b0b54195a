/**
 * In Redis mode the API process loads no model: this stands in for the engine wherever the HTTP
 * app calls classify() (POST /classify). Each image becomes a single-image job that a worker
 * classifies; the call waits for it at most `timeoutMs`, then answers 504 classify_timeout.
 * The model it reports is the one the live workers announce.
 */
import {
  validateClassifyOptions,
  type Classifier,
  type ClassifierSettings,
  type ManyOutcome,
  type ModelDescription,
} from '../engine/classifier.ts';
import type { ClassificationResult, ClassifyOptions, ImageInput } from '../engine/types.ts';
import { ClassifierError, errorFromReply, shuttingDownError } from '../errors.ts';
import { classifyEach } from '../engine/classify-many.ts';
import { isHttpUrl, sha256Of } from '../sources/input.ts';
import type { RedisJobQueue } from './redis-queue.ts';
import { HEARTBEAT_MS, type WorkerAdvert } from './redis-workers.ts';
import type { ImageSpec } from './types.ts';

export interface QueueClassifier extends Classifier {
  /** Reads the workers' announcements again (done every few seconds anyway). */
  refresh(): Promise<void>;
}

/** What the API reports before any worker has announced itself. */
const NO_WORKER_MODEL: ModelDescription = {
  id: 'none (no worker connected)',
  path: '',
  catalogue: null,
  signature: { inputName: '', outputName: '', layout: 'NCHW', size: 224, fixedBatch: null, classes: 1000 },
};
const NO_WORKER_SETTINGS: ClassifierSettings = {
  intraOpThreads: 0,
  parallelSessions: 0,
  sessionThreads: 0,
  soloSession: false,
  decodeThreads: 0,
  maxBatch: 0,
  maxWaitMs: 0,
  maxPixels: 0,
  shrinkOnLoad: false,
  maxImageBytes: 0,
};

export function imageSpecOfInput(input: ImageInput): ImageSpec {
  if (input instanceof URL) return { kind: 'url', url: input.href };
  if (typeof input === 'string') return isHttpUrl(input) ? { kind: 'url', url: input } : { kind: 'path', path: input };
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return { kind: 'base64', data: bytes.toString('base64'), label: 'upload' };
}

export function createQueueClassifier(queue: RedisJobQueue, options: { timeoutMs?: number } = {}): QueueClassifier {
  const timeoutMs = options.timeoutMs ?? queue.settings.classifyTimeoutMs;
  let workers: WorkerAdvert[] = [];
  let inFlight = 0;
  let closed = false;
  // Updated in place, never replaced: wrappers that copy the classifier ({...classifier}) keep seeing the current model.
  const model: ModelDescription = structuredClone(NO_WORKER_MODEL);
  const settings: ClassifierSettings = { ...NO_WORKER_SETTINGS };

  async function refresh(): Promise<void> {
    try {
      workers = await queue.workers();
    } catch {
      // Keep the last view while Redis is away.
      return;
    }
    // The last model seen stays reported when workers come and go.
    if (workers[0]) {
      Object.assign(model, workers[0].model);
      Object.assign(settings, workers[0].settings);
    }
  }
  // Often while no worker is known, so the first one's model shows on /readyz within a second
  // (it is counted there at once); then at half the heartbeat.
  const NO_WORKER_REFRESH_MS = 500;
  let timer: NodeJS.Timeout | undefined;
  async function keepRefreshing(): Promise<void> {
    await refresh();
    if (closed) return;
    timer = setTimeout(() => void keepRefreshing(), workers.length > 0 ? HEARTBEAT_MS / 2 : NO_WORKER_REFRESH_MS);
    timer.unref();
  }
  void keepRefreshing();

  /** The cache key needs the model id: only usable when every live worker runs the same model. */
  function soleModelId(): string | null {
    const ids = new Set(workers.map((w) => w.model.id));
    return ids.size === 1 ? [...ids][0] : null;
  }

  async function classify(input: ImageInput, classifyOptions: ClassifyOptions = {}): Promise<ClassificationResult> {
    if (closed) throw shuttingDownError();
    // Bad options are the caller's mistake: answer 400 now rather than after a trip through the queue.
    validateClassifyOptions(classifyOptions);
    const image = imageSpecOfInput(input);
    const modelId = soleModelId();
    if (image.kind === 'base64' && modelId && queue.settings.resultCache) {
      const hit = await queue.cachedResult(modelId, classifyOptions, sha256Of(Buffer.from(image.data, 'base64')));
      if (hit) return hit;
    }
    inFlight++;
    try {
      const accepted = await queue.submit({ kind: 'single', images: [image], options: classifyOptions });
      const record = await queue.waitFor(accepted.id, timeoutMs);
      if (record?.status === 'succeeded' && record.result) return record.result;
      if (record?.status === 'failed' && record.error) throw errorFromReply(record.error);
      // Not finished in time. A job no worker has taken yet is withdrawn, so it does not run for nobody.
      const withdrawn = (await queue.cancel(accepted.id).catch(() => 'not_cancellable')) === 'cancelled';
      throw new ClassifierError(
        'classify_timeout',
        withdrawn
          ? `No worker took the image within ${timeoutMs} ms (are workers running and keeping up?); it was withdrawn. Try again, or use POST /jobs.`
          : `The image was not classified within ${timeoutMs} ms; it is still being classified as job ${accepted.id} (GET /jobs/${accepted.id}).`,
      );
    } finally {
      inFlight--;
    }
  }

  function classifyMany(
    inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
    { concurrency = 64, ...classifyOptions }: ClassifyOptions & { concurrency?: number } = {},
  ): AsyncGenerator<ManyOutcome> {
    return classifyEach(classify, inputs, classifyOptions, concurrency);
  }

  return {
    model,
    settings,
    classify,
    classifyMany,
    inFlight: () => inFlight,
    inferenceCpuSeconds: () => null,
    refresh,
    async close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
