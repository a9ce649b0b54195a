/**
 * The in-process job queue: bounded, FIFO, and fed one image at a time so that single-image and
 * batch jobs share the engine fairly and keep its micro-batcher full. Jobs live only as long as
 * the process; a deployment that needs them to survive restarts uses the Redis queue.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Classifier, ClassifierSettings } from '../engine/classifier.ts';
import { classifyVideo, timelineEntryOf, type VideoLimits } from '../engine/video/classify-video.ts';
import type { LocalFilePolicy } from '../sources/file.ts';
import { type OpenedVideo, openVideoSource, type VideoUrlPolicy } from '../sources/video/video-source.ts';
import type { ClassificationResult } from '../engine/types.ts';
import { ClassifierError, emptyJobError, shuttingDownError } from '../errors.ts';
import { errorBodyOf } from './error-body.ts';
import { engineInputOf, inlineBytesOf, sourceLabelOf } from './image-spec.ts';
import {
  FINISHED_STATUSES,
  type CancelOutcome,
  type ClassifyJobSpec,
  type ErrorBody,
  type ExamplesJobSpec,
  type ExamplesRunner,
  type JobClassifyFn,
  type ImageSpec,
  type JobItemResult,
  type JobQueue,
  type JobRecord,
  type JobSpec,
  type QueueEvent,
  type QueueStats,
} from './types.ts';

export interface MemoryQueueOptions {
  /** Jobs accepted but not started; past this, submit answers queue_full. */
  maxWaiting: number;
  /** Upload bytes (as base64) that unfinished jobs may hold; bounds memory under a flood of uploads. */
  maxHeldBytes: number;
  /** How long a finished job stays readable. */
  retentionMs: number;
  /** Images classified at the same time. Default: enough to keep decoding threads and full batches busy. */
  concurrency?: number;
  /** Finished jobs kept at most, whatever their age; the oldest are dropped first. */
  maxRetained?: number;
  onEvent?: (event: QueueEvent) => void;
  /** Runs examples jobs (photos added to a class set); without it they are refused. */
  examples?: ExamplesRunner | null;
  /**
   * Video jobs: which local files they may name (IMAGE_ROOT), ffmpeg's limits, and how `video_url`
   * is downloaded (without it video URLs are refused); the queue closes that fetcher when it closes.
   */
  video?: { files: LocalFilePolicy; limits: VideoLimits; urls?: VideoUrlPolicy };
}

/** What the queue classifies with: one image at a time (options naming a class set by name), and frames for video jobs. */
export interface QueueClassifier {
  classify: JobClassifyFn;
  settings: ClassifierSettings;
  classifyFrame?: Classifier['classifyFrame'];
}

/**
 * Videos decoded at once. Each is one ffmpeg (a few cores' worth of decoding at high resolution)
 * feeding the same engine; more would only split it, so further video jobs wait in the queue.
 */
export const VIDEOS_AT_ONCE = 2;

/** The engine as the queue uses it: images, and frames for video jobs. */

interface Entry {
  record: JobRecord;
  /** Dropped once the job finishes, so retained jobs do not keep their uploads. */
  spec: JobSpec | null;
  nextImage: number;
  runningImages: number;
  heldBytes: number;
  createdAtMs: number;
  waiters: Set<() => void>;
  /** A running video job's cancel: stops its ffmpeg. */
  abort?: AbortController;
}

type Outcome = { result: ClassificationResult } | { error: ErrorBody };

/** The video was opened already (openVideoSource checked IMAGE_ROOT): ffmpeg may read the file it gave. */
const OPENED_FILE: LocalFilePolicy = { allowFiles: true, root: null };

/** Deletes a queued video job's uploaded file (the job will never run); other sources own no file. */
async function dropUpload(spec: JobSpec | null): Promise<void> {
  if (spec?.kind !== 'video' || spec.video?.source.kind !== 'upload') return;
  await rm(spec.video.source.file, { force: true }).catch(() => {});
}

function queueFull(message: string): ClassifierError {
  return new ClassifierError('queue_full', message);
}

/** A new in-process queue; the same as `new MemoryQueue(...)`. */
export function createMemoryQueue(classifier: QueueClassifier, options: MemoryQueueOptions): MemoryQueue {
  return new MemoryQueue(classifier, options);
}

function newEntry(spec: JobSpec, heldBytes: number): Entry {
  const record: JobRecord = {
    id: randomUUID(),
    kind: spec.kind,
    status: 'queued',
    created_at: new Date().toISOString(),
    started_at: null,
    finished_at: null,
    progress: { done: 0, failed: 0, total: spec.images.length },
    ...(spec.kind === 'single' ? { result: null } : spec.kind === 'video' ? { video: null } : { results: [] }),
    error: null,
  };
  return { record, spec, nextImage: 0, runningImages: 0, heldBytes, createdAtMs: Date.now(), waiters: new Set() };
}

function snapshot(entry: Entry): JobRecord {
  const copy = structuredClone(entry.record);
  copy.results?.sort((a, b) => a.index - b.index);
  return copy;
}

/** Records one image's outcome on its job. */
/** A batch job's per-image results, created with its first one. */
function resultsOf(record: JobRecord): JobItemResult[] {
  record.results ??= [];
  return record.results;
}

function recordOutcome(record: JobRecord, index: number, image: ImageSpec, outcome: Outcome): void {
  if ('error' in outcome) {
    record.progress.failed++;
    if (record.kind === 'single') record.error = outcome.error;
    else resultsOf(record).push({ index, source: sourceLabelOf(image), error: outcome.error });
  } else if (record.kind === 'single') record.result = outcome.result;
  else resultsOf(record).push({ index, source: sourceLabelOf(image), result: outcome.result });
}

/** Sets a job's final status from its images' outcomes. */
function settle(record: JobRecord): void {
  const { failed, total } = record.progress;
  if (record.kind === 'batch') {
    const results = resultsOf(record);
    results.sort((a, b) => a.index - b.index);
    // A batch fails only when nothing in it could be classified; partial failures are per image.
    if (failed === total) record.error = results[0]?.error ?? null;
  }
  record.status = failed === total ? 'failed' : 'succeeded';
}

export class MemoryQueue implements JobQueue {
  readonly #classifier: QueueClassifier;
  readonly #options: MemoryQueueOptions;
  readonly #concurrency: number;
  readonly #maxRetained: number;
  readonly #jobs = new Map<string, Entry>();
  /** Jobs with images not yet started, oldest first. */
  readonly #pending: Entry[] = [];
  /** Finished job ids in the order they finished (Map keeps insertion order), with the time they finished. */
  readonly #finishedAt = new Map<string, number>();
  readonly #sweepTimer: NodeJS.Timeout;
  #waitingJobs = 0;
  #activeImages = 0;
  #activeVideos = 0;
  #heldBytes = 0;
  #closing = false;
  #closed: (() => void) | null = null;
  #closedPromise: Promise<void> | null = null;

  constructor(classifier: QueueClassifier, options: MemoryQueueOptions) {
    this.#classifier = classifier;
    this.#options = options;
    this.#concurrency = options.concurrency ?? classifier.settings.decodeThreads * 2 + classifier.settings.maxBatch * 2;
    this.#maxRetained = options.maxRetained ?? 10_000;
    this.#sweepTimer = setInterval(() => this.#sweep(), Math.max(1000, Math.min(options.retentionMs, 60_000)));
    this.#sweepTimer.unref();
  }

  async submit(spec: JobSpec): Promise<JobRecord> {
    const bytes = this.#admit(spec);
    const entry = newEntry(spec, bytes);
    this.#jobs.set(entry.record.id, entry);
    this.#pending.push(entry);
    this.#waitingJobs++;
    this.#heldBytes += bytes;
    // Answer with the job as accepted; it may start the moment pump() runs.
    const accepted = snapshot(entry);
    this.#pump();
    return accepted;
  }

  async get(id: string): Promise<JobRecord | null> {
    const entry = this.#jobs.get(id);
    if (!entry) return null;
    if (this.#isExpired(id)) {
      this.#evict(id);
      return null;
    }
    return snapshot(entry);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const entry = this.#jobs.get(id);
    if (!entry || this.#isExpired(id)) return 'not_found';
    if (entry.record.status === 'running' && entry.abort) {
      // A video job: ffmpeg is stopped now; the answer waits until it is gone.
      entry.abort.abort(new ClassifierError('request_cancelled', 'The job was cancelled.'));
      await this.waitFor(id, 30_000);
      return 'cancelled';
    }
    if (entry.record.status !== 'queued') return 'not_cancellable';
    this.#pending.splice(this.#pending.indexOf(entry), 1);
    this.#waitingJobs--;
    entry.record.status = 'cancelled';
    await dropUpload(entry.spec);
    this.#markFinished(entry);
    return 'cancelled';
  }

  async waitFor(id: string, timeoutMs: number): Promise<JobRecord | null> {
    const entry = this.#jobs.get(id);
    if (!entry) return null;
    if (!FINISHED_STATUSES.has(entry.record.status)) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          entry.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        entry.waiters.add(wake);
      });
    }
    return snapshot(entry);
  }

  async stats(): Promise<QueueStats> {
    let completed = 0;
    let failed = 0;
    let active = 0;
    for (const entry of this.#jobs.values()) {
      const status = entry.record.status;
      if (status === 'succeeded') completed++;
      else if (status === 'failed') failed++;
      else if (status === 'running') active++;
    }
    return { waiting: this.#waitingJobs, active, completed, failed, workers: this.#concurrency };
  }

  async ready(): Promise<boolean> {
    return !this.#closing;
  }

  close(): Promise<void> {
    this.#closedPromise ??= new Promise<void>((resolve) => {
      this.#closing = true;
      clearInterval(this.#sweepTimer);
      // Videos can run for hours: they stop now (ffmpeg with them) instead of holding up shutdown.
      for (const entry of this.#jobs.values()) entry.abort?.abort(shuttingDownError());
      // Queued jobs never start now: their uploaded videos go with them.
      const uploads = this.#pending.filter((e) => e.record.status === 'queued').map((e) => dropUpload(e.spec));
      this.#closed = () => {
        Promise.all(uploads)
          .then(() => this.#options.video?.urls?.fetcher.close())
          .catch(() => {})
          .finally(resolve);
      };
      this.#pump();
    });
    return this.#closedPromise;
  }

  /** The job's inline bytes, or the reason it cannot be taken now. */
  #admit(spec: JobSpec): number {
    const options = this.#options;
    if (this.#closing) throw shuttingDownError();
    if (spec.kind === 'video') {
      if (!spec.video || !this.#options.video || !this.#classifier.classifyFrame)
        throw new ClassifierError('video_unsupported', 'This queue was started without video support.');
    } else if (spec.images.length === 0) throw emptyJobError();
    if (spec.kind === 'examples' && !options.examples)
      throw new ClassifierError('internal_error', 'This queue cannot add examples to class sets.');
    const bytes = inlineBytesOf(spec.images);
    if (bytes > options.maxHeldBytes) {
      throw new ClassifierError(
        'job_too_large',
        `The job's images take ${bytes} bytes; the queue holds at most ${options.maxHeldBytes}.`,
      );
    }
    if (this.#waitingJobs >= options.maxWaiting)
      throw queueFull(`The job queue is full (${this.#waitingJobs} jobs waiting); try again shortly.`);
    if (this.#heldBytes + bytes > options.maxHeldBytes)
      throw queueFull('The job queue holds as many uploaded images as it can; try again shortly.');
    return bytes;
  }

  #emit(event: QueueEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A metrics callback must not break the queue.
    }
  }

  #isExpired(id: string, now = Date.now()): boolean {
    const at = this.#finishedAt.get(id);
    return at !== undefined && now - at > this.#options.retentionMs;
  }

  #evict(id: string): void {
    this.#jobs.delete(id);
    this.#finishedAt.delete(id);
  }

  #sweep(): void {
    const now = Date.now();
    // Oldest-finished first, so the walk stops at the first job still within retention.
    for (const id of this.#finishedAt.keys()) {
      if (!this.#isExpired(id, now)) break;
      this.#evict(id);
    }
  }

  #nextStartable(): Entry | undefined {
    // While closing, running jobs are completed but queued ones are not started.
    if (this.#closing) return this.#pending.find((e) => e.record.status === 'running');
    // First in, first out, except that a video waits while VIDEOS_AT_ONCE are being decoded.
    return this.#pending.find((e) => e.spec?.kind !== 'video' || this.#activeVideos < VIDEOS_AT_ONCE);
  }

  #pump(): void {
    while (this.#activeImages < this.#concurrency) {
      const entry = this.#nextStartable();
      if (!entry) break;
      this.#startImage(entry);
    }
    if (this.#closing && this.#activeImages === 0 && this.#closed) {
      const closed = this.#closed;
      this.#closed = null;
      closed();
    }
  }

  #startImage(entry: Entry): void {
    const { record } = entry;
    const spec = entry.spec;
    if (!spec) return; // finished or cancelled meanwhile
    if (record.status === 'queued') {
      record.status = 'running';
      record.started_at = new Date().toISOString();
      this.#waitingJobs--;
      this.#emit({ type: 'started', job: snapshot(entry), wait_ms: Date.now() - entry.createdAtMs });
    }
    if (spec.kind === 'examples') {
      this.#startExamples(entry, spec);
      return;
    }
    if (spec.kind === 'video') {
      this.#startVideo(entry, spec);
      return;
    }
    const index = entry.nextImage++;
    if (entry.nextImage >= spec.images.length) this.#pending.splice(this.#pending.indexOf(entry), 1);
    entry.runningImages++;
    this.#activeImages++;
    const image = spec.images[index];
    Promise.resolve()
      .then(() => this.#classifier.classify(engineInputOf(image), spec.options))
      .then(
        (result): Outcome => ({ result }),
        (err: unknown): Outcome => ({ error: errorBodyOf(err) }),
      )
      .then((outcome) => recordOutcome(record, index, image, outcome))
      .finally(() => {
        record.progress.done++;
        entry.runningImages--;
        this.#activeImages--;
        if (entry.runningImages === 0 && entry.nextImage >= spec.images.length) {
          settle(record);
          this.#markFinished(entry);
        }
        this.#pump();
      });
  }

  /** An examples job runs whole in one slot: the runner embeds its photos through the engine's own batching. */
  #startExamples(entry: Entry, spec: ExamplesJobSpec): void {
    const { record } = entry;
    entry.nextImage = spec.images.length;
    this.#pending.splice(this.#pending.indexOf(entry), 1);
    entry.runningImages++;
    this.#activeImages++;
    const runner = this.#options.examples as ExamplesRunner;
    Promise.resolve()
      .then(() =>
        runner(spec, (progress) => {
          record.progress = { ...progress };
        }),
      )
      .then(
        (result) => {
          record.result = result;
          // As in Redis mode: a job none of whose photos could be read has failed.
          const failedAll = result.added === 0 && result.skipped.length === spec.images.length;
          record.status = failedAll ? 'failed' : 'succeeded';
          if (failedAll) record.error = result.skipped[0]?.error ?? null;
        },
        (err: unknown) => {
          record.error = errorBodyOf(err);
          record.status = 'failed';
        },
      )
      .finally(() => {
        record.progress.done = record.progress.total;
        entry.runningImages--;
        this.#activeImages--;
        this.#markFinished(entry);
        this.#pump();
      });
  }

  /** A video job: one slot of the queue's concurrency, its frames into the engine as they decode. */
  #startVideo(entry: Entry, spec: ClassifyJobSpec): void {
    const { record } = entry;
    const video = spec.video;
    const setup = this.#options.video;
    const classifyFrame = this.#classifier.classifyFrame;
    this.#pending.splice(this.#pending.indexOf(entry), 1);
    entry.nextImage = 1;
    this.#activeImages++;
    this.#activeVideos++;
    const abort = new AbortController();
    entry.abort = abort;
    const started = Date.now();
    const engine = { settings: this.#classifier.settings, classifyFrame: classifyFrame?.bind(this.#classifier) };
    let opened: OpenedVideo | null = null;
    Promise.resolve()
      .then(async () => {
        // #admit checked these; here for the type checker.
        if (!video || !setup || !engine.classifyFrame)
          throw new ClassifierError('video_unsupported', 'No video support.');
        // A URL is downloaded here, an upload is already on disk; either way ffmpeg reads a local file.
        opened = await openVideoSource(video.source, { files: setup.files, urls: setup.urls, signal: abort.signal });
        abort.signal.throwIfAborted();
        return classifyVideo(
          { settings: engine.settings, classifyFrame: engine.classifyFrame },
          opened.file,
          {
            ...spec.options,
            sampling: video.sampling,
            minFrames: video.minFrames,
            gap: video.gap,
            smooth: video.smooth,
            limits: setup.limits,
          },
          {
            files: OPENED_FILE,
            label: opened.label,
            signal: abort.signal,
            onProgress: ({ done, total }) => {
              const progress = record.progress;
              progress.done = done;
              progress.total = Math.max(total ?? done, done);
              const elapsed = (Date.now() - started) / 1000;
              progress.eta_seconds = done > 0 ? Math.round(((progress.total - done) * elapsed) / done) : null;
            },
          },
        );
      })
      // The outcome is recorded once the temporary file (upload or download) is gone, so a job seen finished has none.
      .then(
        (result) => () => {
          record.video = {
            video: result.video,
            timeline: result.frames.map(timelineEntryOf),
            summary: result.summary,
          };
          record.progress.done = result.frames.length;
          record.progress.total = result.frames.length;
          record.progress.eta_seconds = 0;
          record.error = result.error ? errorBodyOf(result.error) : null;
          record.status = 'succeeded';
        },
        (err: unknown) => () => {
          const reason = abort.signal.aborted ? abort.signal.reason : err;
          record.error = errorBodyOf(reason);
          record.status = record.error.code === 'request_cancelled' ? 'cancelled' : 'failed';
        },
      )
      .then(async (settleVideo) => {
        // An upload that never opened is deleted too.
        await ((opened as OpenedVideo | null)?.release() ?? dropUpload(spec)).catch(() => {});
        settleVideo();
      })
      .finally(() => {
        entry.abort = undefined;
        this.#activeImages--;
        this.#activeVideos--;
        this.#markFinished(entry);
        this.#pump();
      });
  }

  #markFinished(entry: Entry): void {
    const { record } = entry;
    record.finished_at = new Date().toISOString();
    // Retained jobs do not keep their uploads.
    this.#heldBytes -= entry.heldBytes;
    entry.heldBytes = 0;
    entry.spec = null;
    this.#finishedAt.set(record.id, Date.now());
    for (const id of this.#finishedAt.keys()) {
      if (this.#finishedAt.size <= this.#maxRetained) break;
      this.#evict(id);
    }
    for (const wake of entry.waiters) wake();
    this.#emit({ type: 'finished', job: snapshot(entry) });
  }
}
