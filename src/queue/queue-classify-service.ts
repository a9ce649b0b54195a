/**
 * Redis mode: the API process loads no model. Each image becomes a single-image job that a worker
 * classifies; the call waits for it at most `timeoutMs`, then answers 504 classify_timeout. The
 * model is the one the live workers announce, read from Redis when asked, so it is right whichever
 * of API and workers started first.
 */
import { validateClassifyOptions, type ModelDescription } from '../engine/classifier.ts';
import type { ClassificationResult, ImageInput } from '../engine/types.ts';
import { ClassifierError, errorFromReply, shuttingDownError } from '../errors.ts';
import { isHttpUrl, sha256Of } from '../sources/input.ts';
import type { ClassifyService } from './classify-service.ts';
import type { RedisJobQueue } from './redis-queue.ts';
import type { WorkerAdvert } from './redis-workers.ts';
import { classificationOf, type ImageSpec, type JobOptions } from './types.ts';

/** How old a view of the workers a classify() may use for its cache key: one Redis read per second, not per image. */
const WORKERS_MAX_AGE_MS = 1000;

export function imageSpecOfInput(input: ImageInput): ImageSpec {
  if (input instanceof URL) return { kind: 'url', url: input.href };
  if (typeof input === 'string') return isHttpUrl(input) ? { kind: 'url', url: input } : { kind: 'path', path: input };
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return { kind: 'base64', data: bytes.toString('base64'), label: 'upload' };
}

export class QueueClassifyService implements ClassifyService {
  readonly #queue: RedisJobQueue;
  readonly #timeoutMs: number;
  #workers: WorkerAdvert[] = [];
  #workersReadAt = 0;
  /** The last model seen stays reported while workers come and go. */
  #lastModel: ModelDescription | null = null;
  #inFlight = 0;
  #closed = false;

  constructor(queue: RedisJobQueue, options: { timeoutMs?: number } = {}) {
    this.#queue = queue;
    this.#timeoutMs = options.timeoutMs ?? queue.settings.classifyTimeoutMs;
  }

  async model(): Promise<ModelDescription | null> {
    await this.#readWorkers();
    return this.#lastModel;
  }

  inFlight(): number {
    return this.#inFlight;
  }

  inferenceCpuSeconds(): null {
    return null;
  }

  decoding(): null {
    return null;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async classify(input: ImageInput, options: JobOptions = {}): Promise<ClassificationResult> {
    if (this.#closed) throw shuttingDownError();
    // Bad options are the caller's mistake: answer 400 now rather than after a trip through the queue.
    validateClassifyOptions(options);
    const image = imageSpecOfInput(input);
    const cached = await this.#cachedResult(image, options);
    if (cached) return cached;
    this.#inFlight++;
    try {
      return await this.#classifyByWorker(image, options);
    } finally {
      this.#inFlight--;
    }
  }

  async #readWorkers(): Promise<WorkerAdvert[]> {
    try {
      this.#workers = await this.#queue.workers();
      this.#workersReadAt = Date.now();
    } catch {
      // Keep the last view while Redis is away.
      return this.#workers;
    }
    if (this.#workers[0]) this.#lastModel = this.#workers[0].model;
    return this.#workers;
  }

  /** The cache key needs the model id: only usable when every live worker runs the same model. */
  async #soleModelId(): Promise<string | null> {
    const fresh = Date.now() - this.#workersReadAt < WORKERS_MAX_AGE_MS;
    const workers = fresh ? this.#workers : await this.#readWorkers();
    const ids = new Set(workers.map((w) => w.model.id));
    return ids.size === 1 ? [...ids][0] : null;
  }

  async #cachedResult(image: ImageSpec, options: JobOptions): Promise<ClassificationResult | null> {
    // An answer with a class set depends on the set as it is now: never from the cache.
    if (image.kind !== 'base64' || !this.#queue.settings.resultCache || options.classSet !== undefined) return null;
    const modelId = await this.#soleModelId();
    if (!modelId) return null;
    return this.#queue.cachedResult(modelId, options, sha256Of(Buffer.from(image.data, 'base64')));
  }

  async #classifyByWorker(image: ImageSpec, options: JobOptions): Promise<ClassificationResult> {
    const queue = this.#queue;
    const accepted = await queue.submit({ kind: 'single', images: [image], options });
    const record = await queue.waitFor(accepted.id, this.#timeoutMs);
    const result = classificationOf(record);
    if (record?.status === 'succeeded' && result) return result;
    if (record?.status === 'failed' && record.error) throw errorFromReply(record.error);
    // Not finished in time. A job no worker has taken yet is withdrawn, so it does not run for nobody.
    const withdrawn = (await queue.cancel(accepted.id).catch(() => 'not_cancellable')) === 'cancelled';
    throw new ClassifierError(
      'classify_timeout',
      withdrawn
        ? `No worker took the image within ${this.#timeoutMs} ms (are workers running and keeping up?); it was withdrawn. Try again, or use POST /jobs.`
        : `The image was not classified within ${this.#timeoutMs} ms; it is still being classified as job ${accepted.id} (GET /jobs/${accepted.id}).`,
    );
  }
}
