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
import type { ClassSetResolver } from '../classes/index.ts';
import type { ClassificationResult } from '../engine/types.ts';
import { engineOptionsOf } from '../queue/class-sets.ts';
import { type ClassifierError, toClassifierError } from '../errors.ts';
import { errorBodyOf } from '../queue/error-body.ts';
import { engineInputOf, sourceLabelOf } from '../queue/image-spec.ts';
import { servedFromCache, type ResultCache } from '../queue/redis-cache.ts';
import type { RedisJobData, RedisJobReturn, StoredItem } from '../queue/redis-job.ts';
import type { ResultStore } from '../queue/redis-results.ts';
import type { ExamplesJobSpec, ExamplesRunner, ImageSpec, JobOptions, JobProgress } from '../queue/types.ts';
import type { Limiter } from './limiter.ts';
import { runVideoJob, type VideoJobDeps } from './video-job.ts';

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
  /** Video jobs: back to the queue, later (its worker is busy with another video) or now (its worker stops). */
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
  moveToWait(token?: string): Promise<number>;
}

export interface ProcessorDeps {
  classifier: Pick<Classifier, 'classify' | 'model'>;
  store: ResultStore;
  cache: ResultCache | null;
  /** Bounds images in flight across all the jobs this worker runs. */
  limiter: Limiter;
  workerId: string;
  /** The class sets in Redis: `class_set` resolved with this worker's model, and examples jobs run. */
  classSets?: { resolver: ClassSetResolver; examples: ExamplesRunner } | null;
  /** Video jobs (ffmpeg, IMAGE_ROOT, the worker's one video slot); without it they fail with video_unsupported. */
  video?: VideoJobDeps | null;
}

/** Batch progress goes to Redis at most this often: one write per image would double a batch's Redis traffic. */
const PROGRESS_INTERVAL_MS = 250;

/** The function BullMQ's Worker calls for each job; `token` is the worker's lock on it (video jobs hand the job back with it). */
export function createJobProcessor(
  deps: ProcessorDeps,
): (job: ProcessableJob, token?: string) => Promise<RedisJobReturn> {
  return (job, token) => {
    if (job.data.spec.kind !== 'video') return new JobRun(deps, job).run();
    if (!deps.video)
      return Promise.reject(new UnrecoverableError('video_unsupported: This worker does not run video jobs.'));
    return runVideoJob(deps.video, job, token);
  };
}

/** Classifies one image, or serves it from the result cache when the same bytes were classified before. */
async function classifyImage(
  deps: ProcessorDeps,
  image: ImageSpec,
  sha256: string | null,
  options: JobOptions,
): Promise<{ result: ClassificationResult; cached: boolean }> {
  const { classifier } = deps;
  // An answer with a class set depends on the set as it is now: never cached.
  const cache = options.classSet === undefined ? deps.cache : null;
  const started = performance.now();
  if (cache && sha256) {
    const hit = await cache.get(classifier.model.id, options, sha256);
    if (hit) return { result: servedFromCache(hit, performance.now() - started), cached: true };
  }
  const result = await classifier.classify(
    engineInputOf(image),
    await engineOptionsOf(options, deps.classSets?.resolver ?? null),
  );
  if (cache) await cache.set(classifier.model.id, options, result);
  return { result, cached: false };
}

/** One attempt at one job: which images are done, which failed for now, and what to tell BullMQ at the end. */
class JobRun {
  readonly #deps: ProcessorDeps;
  readonly #job: ProcessableJob;
  readonly #total: number;
  readonly #lastAttempt: boolean;
  #id = '';
  #finished = new Map<number, StoredItem>();
  readonly #transient: ClassifierError[] = [];
  #cacheHits = 0;
  #lastProgressAt = 0;

  constructor(deps: ProcessorDeps, job: ProcessableJob) {
    this.#deps = deps;
    this.#job = job;
    this.#total = job.data.spec.images.length;
    this.#lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  }

  async run(): Promise<RedisJobReturn> {
    const id = this.#job.id;
    if (!id) throw new UnrecoverableError('The job has no id.');
    this.#id = id;
    const { spec } = this.#job.data;
    if (spec.kind === 'examples') return this.#runExamples(spec);
    // Images an earlier run of this job already finished (it was retried, or its worker died) are not redone.
    const earlier = this.#job.attemptsStarted > 1 ? await this.#deps.store.read(id) : [];
    this.#finished = new Map(earlier.map((item) => [item.index, item]));
    await this.#runMissingImages();
    await this.#reportProgress(true);
    if (this.#deps.cache) await this.#deps.cache.countHits(this.#cacheHits);
    return this.#outcome();
  }

  /**
   * Photos added to a class set: embedded here, stored in Redis in one write. A retried run starts
   * over (photos stored by an earlier run are duplicates, counted once). Each photo's outcome is
   * stored as it ends, so GET /jobs/{id} shows progress.
   */
  async #runExamples(spec: ExamplesJobSpec): Promise<RedisJobReturn> {
    const runner = this.#deps.classSets?.examples;
    if (!runner) throw new UnrecoverableError('internal_error: this worker has no class-set store.');
    const writes: Promise<void>[] = [];
    let index = 0;
    let failed = 0;
    let result: Awaited<ReturnType<ExamplesRunner>>;
    try {
      result = await runner(spec, (_progress, photo) => {
        if (!photo) return;
        if (photo.error) failed++;
        const item: StoredItem = photo.error
          ? { index, source: photo.source, error: photo.error }
          : { index, source: photo.source };
        index++;
        writes.push(this.#deps.store.write(this.#id, item));
      });
    } catch (err) {
      const error = toClassifierError(err);
      if (error.retryable && !this.#lastAttempt) throw new Error(`${error.code}: ${error.message}`);
      throw new UnrecoverableError(`${error.code}: ${error.message}`);
    } finally {
      await Promise.allSettled(writes);
    }
    return {
      worker: this.#deps.workerId,
      model: this.#deps.classifier.model.id,
      total: this.#total,
      done: index,
      failed,
      cache_hits: 0,
      examples: result,
    };
  }

  /** Every image not finished yet, as many at a time as the worker's limiter allows. */
  async #runMissingImages(): Promise<void> {
    const { limiter } = this.#deps;
    const running = new Set<Promise<void>>();
    for (let index = 0; index < this.#total; index++) {
      if (this.#finished.has(index)) continue;
      await limiter.acquire();
      const task: Promise<void> = this.#runImage(index).finally(() => {
        limiter.release();
        running.delete(task);
      });
      running.add(task);
    }
    await Promise.all(running);
  }

  async #runImage(index: number): Promise<void> {
    const { spec, sha256 } = this.#job.data;
    const image = spec.images[index];
    const source = sourceLabelOf(image);
    let item: StoredItem;
    try {
      const options = spec.kind === 'examples' ? {} : spec.options;
      const { result, cached } = await classifyImage(this.#deps, image, sha256[index] ?? null, options);
      if (cached) this.#cacheHits++;
      item = cached ? { index, source, result, cached } : { index, source, result };
    } catch (err) {
      const error = toClassifierError(err);
      if (error.retryable && !this.#lastAttempt) {
        this.#transient.push(error);
        return;
      }
      item = { index, source, error: errorBodyOf(error) };
    }
    await this.#deps.store.write(this.#id, item);
    this.#finished.set(index, item);
    await this.#reportProgress(false);
  }

  #failedCount(): number {
    return [...this.#finished.values()].filter((item) => item.error).length;
  }

  async #reportProgress(force: boolean): Promise<void> {
    if (this.#job.data.spec.kind !== 'batch') return;
    const now = Date.now();
    if (!force && now - this.#lastProgressAt < PROGRESS_INTERVAL_MS) return;
    this.#lastProgressAt = now;
    await this.#job.updateProgress({ done: this.#finished.size, failed: this.#failedCount(), total: this.#total });
  }

  /** The job's return value, or the error that tells BullMQ to retry it (plain Error) or give it up (UnrecoverableError). */
  #outcome(): RedisJobReturn {
    const total = this.#total;
    if (this.#transient.length > 0) {
      const first = this.#transient[0];
      // A plain Error: BullMQ retries it (attempts and exponential backoff come with the job).
      throw new Error(
        `${this.#transient.length} of ${total} images failed transiently, first ${first.code}: ${first.message}`,
      );
    }
    const failed = this.#failedCount();
    if (failed === total) {
      const first = [...this.#finished.values()].sort((a, b) => a.index - b.index).find((item) => item.error)?.error;
      throw new UnrecoverableError(first ? `${first.code}: ${first.message}` : 'every image failed');
    }
    return {
      worker: this.#deps.workerId,
      model: this.#deps.classifier.model.id,
      total,
      done: this.#finished.size,
      failed,
      cache_hits: this.#cacheHits,
    };
  }
}
