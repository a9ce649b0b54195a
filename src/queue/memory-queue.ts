/**
 * The in-process job queue: bounded, FIFO, and fed one image at a time so that single-image and
 * batch jobs share the engine fairly and keep its micro-batcher full. Jobs live only as long as
 * the process; a deployment that needs them to survive restarts uses the Redis queue.
 */
import { randomUUID } from 'node:crypto';
import type { Classifier } from '../engine/classifier.ts';
import { ClassifierError, emptyJobError, shuttingDownError } from '../errors.ts';
import { errorBodyOf } from './error-body.ts';
import { engineInputOf, inlineBytesOf, sourceLabelOf } from './image-spec.ts';
import {
  FINISHED_STATUSES,
  type CancelOutcome,
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
}

interface Entry {
  record: JobRecord;
  /** Dropped once the job finishes, so retained jobs do not keep their uploads. */
  spec: JobSpec | null;
  nextImage: number;
  runningImages: number;
  heldBytes: number;
  createdAtMs: number;
  waiters: Set<() => void>;
}

function queueFull(message: string): ClassifierError {
  return new ClassifierError('queue_full', message);
}

export function createMemoryQueue(
  classifier: Pick<Classifier, 'classify' | 'settings'>,
  options: MemoryQueueOptions,
): JobQueue {
  const concurrency = options.concurrency ?? classifier.settings.decodeThreads * 2 + classifier.settings.maxBatch * 2;
  const maxRetained = options.maxRetained ?? 10_000;
  const jobs = new Map<string, Entry>();
  /** Jobs with images not yet started, oldest first. */
  const pending: Entry[] = [];
  /** Finished job ids in the order they finished (Map keeps insertion order), with the time they finished. */
  const finishedAt = new Map<string, number>();
  let waitingJobs = 0;
  let activeImages = 0;
  let heldBytes = 0;
  let closing = false;
  let closed: (() => void) | null = null;
  let closedPromise: Promise<void> | null = null;

  const sweepTimer = setInterval(sweep, Math.max(1000, Math.min(options.retentionMs, 60_000)));
  sweepTimer.unref();

  function emit(event: QueueEvent): void {
    try {
      options.onEvent?.(event);
    } catch {
      // A metrics callback must not break the queue.
    }
  }

  function snapshot(entry: Entry): JobRecord {
    const copy = structuredClone(entry.record);
    copy.results?.sort((a, b) => a.index - b.index);
    return copy;
  }

  function isExpired(id: string, now = Date.now()): boolean {
    const at = finishedAt.get(id);
    return at !== undefined && now - at > options.retentionMs;
  }

  function evict(id: string): void {
    jobs.delete(id);
    finishedAt.delete(id);
  }

  function sweep(): void {
    const now = Date.now();
    // Oldest-finished first, so the walk stops at the first job still within retention.
    for (const id of finishedAt.keys()) {
      if (!isExpired(id, now)) break;
      evict(id);
    }
  }

  function nextStartable(): Entry | undefined {
    // While closing, running jobs are completed but queued ones are not started.
    return closing ? pending.find((e) => e.record.status === 'running') : pending[0];
  }

  function pump(): void {
    while (activeImages < concurrency) {
      const entry = nextStartable();
      if (!entry) break;
      startImage(entry);
    }
    if (closing && activeImages === 0 && closed) closed();
  }

  function startImage(entry: Entry): void {
    const { record } = entry;
    const spec = entry.spec!;
    if (record.status === 'queued') {
      record.status = 'running';
      record.started_at = new Date().toISOString();
      waitingJobs--;
      emit({ type: 'started', job: snapshot(entry), wait_ms: Date.now() - entry.createdAtMs });
    }
    const index = entry.nextImage++;
    if (entry.nextImage >= spec.images.length) pending.splice(pending.indexOf(entry), 1);
    entry.runningImages++;
    activeImages++;
    const image = spec.images[index];
    Promise.resolve()
      .then(() => classifier.classify(engineInputOf(image), spec.options))
      .then(
        (result) => {
          if (record.kind === 'single') record.result = result;
          else record.results!.push({ index, source: sourceLabelOf(image), result });
        },
        (err: unknown) => {
          const error = errorBodyOf(err);
          record.progress.failed++;
          if (record.kind === 'single') record.error = error;
          else record.results!.push({ index, source: sourceLabelOf(image), error });
        },
      )
      .finally(() => {
        record.progress.done++;
        entry.runningImages--;
        activeImages--;
        if (entry.runningImages === 0 && entry.nextImage >= spec.images.length) finish(entry);
        pump();
      });
  }

  function release(entry: Entry): void {
    heldBytes -= entry.heldBytes;
    entry.heldBytes = 0;
    entry.spec = null;
  }

  function markFinished(entry: Entry): void {
    const { record } = entry;
    record.finished_at = new Date().toISOString();
    release(entry);
    finishedAt.set(record.id, Date.now());
    while (finishedAt.size > maxRetained) evict(finishedAt.keys().next().value!);
    for (const wake of entry.waiters) wake();
    emit({ type: 'finished', job: snapshot(entry) });
  }

  function finish(entry: Entry): void {
    const { record } = entry;
    const { failed, total } = record.progress;
    if (record.kind === 'batch') {
      record.results!.sort((a, b) => a.index - b.index);
      // A batch fails only when nothing in it could be classified; partial failures are per image.
      if (failed === total) record.error = record.results![0]?.error ?? null;
    }
    record.status = failed === total ? 'failed' : 'succeeded';
    markFinished(entry);
  }

  return {
    async submit(spec) {
      if (closing) throw shuttingDownError();
      if (spec.images.length === 0) throw emptyJobError();
      const bytes = inlineBytesOf(spec.images);
      if (bytes > options.maxHeldBytes) {
        throw new ClassifierError(
          'job_too_large',
          `The job's images take ${bytes} bytes; the queue holds at most ${options.maxHeldBytes}.`,
        );
      }
      if (waitingJobs >= options.maxWaiting)
        throw queueFull(`The job queue is full (${waitingJobs} jobs waiting); try again shortly.`);
      if (heldBytes + bytes > options.maxHeldBytes)
        throw queueFull('The job queue holds as many uploaded images as it can; try again shortly.');

      const id = randomUUID();
      const total = spec.images.length;
      const record: JobRecord = {
        id,
        kind: spec.kind,
        status: 'queued',
        created_at: new Date().toISOString(),
        started_at: null,
        finished_at: null,
        progress: { done: 0, failed: 0, total },
        ...(spec.kind === 'single' ? { result: null } : { results: [] }),
        error: null,
      };
      const entry: Entry = {
        record,
        spec,
        nextImage: 0,
        runningImages: 0,
        heldBytes: bytes,
        createdAtMs: Date.now(),
        waiters: new Set(),
      };
      jobs.set(id, entry);
      pending.push(entry);
      waitingJobs++;
      heldBytes += bytes;
      // Answer with the job as accepted; it may start the moment pump() runs.
      const accepted = snapshot(entry);
      pump();
      return accepted;
    },

    async get(id) {
      const entry = jobs.get(id);
      if (!entry) return null;
      if (isExpired(id)) {
        evict(id);
        return null;
      }
      return snapshot(entry);
    },

    async cancel(id): Promise<CancelOutcome> {
      const entry = jobs.get(id);
      if (!entry || isExpired(id)) return 'not_found';
      if (entry.record.status !== 'queued') return 'not_cancellable';
      pending.splice(pending.indexOf(entry), 1);
      waitingJobs--;
      entry.record.status = 'cancelled';
      markFinished(entry);
      return 'cancelled';
    },

    async waitFor(id, timeoutMs) {
      const entry = jobs.get(id);
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
    },

    async stats(): Promise<QueueStats> {
      let completed = 0;
      let failed = 0;
      let active = 0;
      for (const entry of jobs.values()) {
        const status = entry.record.status;
        if (status === 'succeeded') completed++;
        else if (status === 'failed') failed++;
        else if (status === 'running') active++;
      }
      return { waiting: waitingJobs, active, completed, failed, workers: concurrency };
    },

    async ready() {
      return !closing;
    },

    close() {
      closedPromise ??= new Promise<void>((resolve) => {
        closing = true;
        clearInterval(sweepTimer);
        closed = resolve;
        pump();
      });
      return closedPromise;
    },
  };
}
