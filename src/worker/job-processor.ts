/**
 * What a worker does with one job: classify its images through the engine (or the result
 * cache), store each image's outcome as it finishes, and tell BullMQ how the job ended:
 * - transient failures (ClassifierError.retryable: fetch timeouts, upstream 5xx) leave their
 *   images undone and throw, so BullMQ retries the job with backoff and only those images run again;
 * - bad input is final: its error is stored for the image, never retried;
 * - a job whose every image failed throws UnrecoverableError, so it ends failed without a retry.
 */
import { UnrecoverableError } from 'bullmq';
import type { Classifier } from '../engine/classifier.ts';
import type { ClassificationResult, ClassifyOptions } from '../engine/types.ts';
import { ClassifierError, toClassifierError } from '../errors.ts';
import { errorBodyOf } from '../queue/error-body.ts';
import { engineInputOf, sourceLabelOf } from '../queue/image-spec.ts';
import { servedFromCache, type ResultCache } from '../queue/redis-cache.ts';
import type { RedisJobData, RedisJobReturn, StoredItem } from '../queue/redis-job.ts';
import type { ResultStore } from '../queue/redis-results.ts';
import type { ImageSpec, JobProgress } from '../queue/types.ts';
import type { Limiter } from './limiter.ts';

/** The parts of a BullMQ job the processor uses (a structural type, so tests can hand in a plain object). */
export interface ProcessableJob {
  id?: string;
  data: RedisJobData;
  /** Failed attempts so far (a stalled, re-delivered run does not count). */
  attemptsMade: number;
  /** Runs started, this one included: above 1 after a retry or after the job's worker was lost. */
  attemptsStarted: number;
  opts: { attempts?: number };
  updateProgress(progress: JobProgress): Promise<void>;
}

export interface ProcessorDeps {
  classifier: Pick<Classifier, 'classify' | 'model'>;
  store: ResultStore;
  cache: ResultCache | null;
  /** Bounds images in flight across all the jobs this worker runs. */
  limiter: Limiter;
  workerId: string;
}

/** Batch progress goes to Redis at most this often: one write per image would double a batch's Redis traffic. */
const PROGRESS_INTERVAL_MS = 250;

export function createJobProcessor(deps: ProcessorDeps): (job: ProcessableJob) => Promise<RedisJobReturn> {
  const { classifier, store, cache } = deps;

  async function classifyImage(
    image: ImageSpec,
    sha256: string | null,
    options: ClassifyOptions,
  ): Promise<{ result: ClassificationResult; cached: boolean }> {
    const started = performance.now();
    if (cache && sha256) {
      const hit = await cache.get(classifier.model.id, options, sha256);
      if (hit) return { result: servedFromCache(hit, performance.now() - started), cached: true };
    }
    const result = await classifier.classify(engineInputOf(image), options);
    if (cache) await cache.set(classifier.model.id, options, result);
    return { result, cached: false };
  }

  return async function processJob(job) {
    const id = job.id;
    if (!id) throw new UnrecoverableError('The job has no id.');
    const { spec, sha256 } = job.data;
    const total = spec.images.length;
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    // Images an earlier run of this job already finished (it was retried, or its worker died) are not redone.
    const earlier = job.attemptsStarted > 1 ? await store.read(id) : [];
    const finished = new Map<number, StoredItem>(earlier.map((item) => [item.index, item]));
    const transient: ClassifierError[] = [];
    let cacheHits = 0;
    let lastProgressAt = 0;

    const failedCount = () => [...finished.values()].filter((item) => item.error).length;
    const reportProgress = async (force: boolean) => {
      if (spec.kind !== 'batch') return;
      const now = Date.now();
      if (!force && now - lastProgressAt < PROGRESS_INTERVAL_MS) return;
      lastProgressAt = now;
      await job.updateProgress({ done: finished.size, failed: failedCount(), total });
    };

    async function runImage(index: number): Promise<void> {
      const image = spec.images[index];
      const source = sourceLabelOf(image);
      let item: StoredItem;
      try {
        const { result, cached } = await classifyImage(image, sha256[index] ?? null, spec.options);
        if (cached) cacheHits++;
        item = cached ? { index, source, result, cached } : { index, source, result };
      } catch (err) {
        const error = toClassifierError(err);
        if (error.retryable && !lastAttempt) {
          transient.push(error);
          return;
        }
        item = { index, source, error: errorBodyOf(error) };
      }
      await store.write(id!, item);
      finished.set(index, item);
      await reportProgress(false);
    }

    const running = new Set<Promise<void>>();
    for (let index = 0; index < total; index++) {
      if (finished.has(index)) continue;
      await deps.limiter.acquire();
      const task: Promise<void> = runImage(index).finally(() => {
        deps.limiter.release();
        running.delete(task);
      });
      running.add(task);
    }
    await Promise.all(running);
    await reportProgress(true);
    if (cache) await cache.countHits(cacheHits);

    if (transient.length > 0) {
      const first = transient[0];
      // A plain Error: BullMQ retries it (attempts and exponential backoff come with the job).
      throw new Error(
        `${transient.length} of ${total} images failed transiently, first ${first.code}: ${first.message}`,
      );
    }
    const failed = failedCount();
    if (failed === total) {
      const first = [...finished.values()].sort((a, b) => a.index - b.index).find((item) => item.error)!.error!;
      throw new UnrecoverableError(`${first.code}: ${first.message}`);
    }
    return {
      worker: deps.workerId,
      model: classifier.model.id,
      total,
      done: finished.size,
      failed,
      cache_hits: cacheHits,
    };
  };
}
