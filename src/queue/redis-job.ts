/**
 * What a job looks like in Redis, and how the API turns that back into the JobRecord that the
 * in-process queue would have answered with. Pure functions: no Redis here.
 */
import { ClassifierError, isErrorCode } from '../errors.ts';
import { errorBodyOf } from './error-body.ts';
import type {
  ClassifyJobSpec,
  ErrorBody,
  ExamplesJobSpec,
  ExamplesResult,
  JobItemResult,
  JobProgress,
  JobRecord,
  JobStatus,
  VideoJobResult,
  VideoJobSpec,
  VideoSource,
} from './types.ts';

/**
 * A video job's video as its job stores it. Paths and URLs travel as they are (a worker opens them
 * with its own IMAGE_ROOT and URL policy); an upload's bytes wait in Redis beside the job, under
 * RedisKeys.video(id), so that reading the job (each GET /jobs/{id}) does not carry them.
 */
export type StoredVideoSource =
  | Extract<VideoSource, { kind: 'path' } | { kind: 'url' }>
  | { kind: 'stored'; bytes: number; label: string };

/** A job's spec as stored: the queue's JobSpec, with the video source as it crosses Redis. */
export type StoredJobSpec =
  | ExamplesJobSpec
  | (Omit<ClassifyJobSpec, 'video'> & { video?: Omit<VideoJobSpec, 'source'> & { source: StoredVideoSource } });

/** BullMQ job data: the spec, plus what the API already knows about the images. */
export interface RedisJobData {
  spec: StoredJobSpec;
  /** sha256 of each inline (base64) image, null for URLs and paths: the cache key, computed where the bytes arrived. */
  sha256: (string | null)[];
}

/** BullMQ return value of a finished job: who ran it, not the results (those are in the results hash). */
export interface RedisJobReturn {
  /** hostname:pid of the worker process that finished the job. */
  worker: string;
  model: string;
  total: number;
  done: number;
  failed: number;
  cache_hits: number;
  /** Examples jobs: what was added (the job's `result`). */
  examples?: ExamplesResult;
  /** Video jobs: the timeline and summary (the job's `video`). */
  video?: VideoJobResult;
  /** Video jobs: why decoding stopped early, when it did (the frames before it are in `video`). */
  error?: ErrorBody | null;
}

/** One image's outcome as a worker stores it. */
export interface StoredItem extends JobItemResult {
  /** Served from the result cache rather than classified again. */
  cached?: boolean;
}

/** The record the Redis queue answers with: the shared JobRecord plus where and how often it ran. */
export interface RedisJobRecord extends JobRecord {
  /** hostname:pid of the worker that ran (or is running) the job; null before any started it. */
  worker: string | null;
  /** Times a worker started the job: more than 1 after a retry or after its worker died. */
  attempts: number;
}

/** BullMQ's job states (v6), and 'unknown' for a job that is gone. */
export type BullState =
  | 'completed'
  | 'failed'
  | 'active'
  | 'delayed'
  | 'waiting'
  | 'prioritized'
  | 'waiting-children'
  | 'paused'
  | 'unknown';

/** The parts of a BullMQ job the record is built from. */
export interface JobSnapshot {
  id: string;
  state: BullState;
  data: RedisJobData;
  /** ms since epoch. */
  timestamp: number;
  processedOn?: number | null;
  finishedOn?: number | null;
  failedReason?: string | null;
  attemptsStarted?: number;
  processedBy?: string | null;
  returnvalue?: RedisJobReturn | null;
  /** What the worker last reported with updateProgress (video jobs: frames done, total, ETA). */
  progress?: unknown;
  items: StoredItem[];
}

export function isFinishedState(state: BullState): boolean {
  return state === 'completed' || state === 'failed';
}

function iso(ms: number | null | undefined): string | null {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : null;
}

/** Why a job failed when no image carries the reason: BullMQ's own failures (a worker lost too often, a crash). */
export function errorOfFailedReason(reason: string | null | undefined): ErrorBody {
  const text = reason || 'The job failed.';
  if (/stalled/i.test(text)) {
    return {
      code: 'worker_lost',
      message: 'The workers running this job stopped responding too many times; it was given up. Submit it again.',
      status: 503,
    };
  }
  // A worker gives a job up with "code: message" (UnrecoverableError): the client gets that error.
  const coded = /^([a-z_]+): ([\s\S]+)$/.exec(text);
  if (coded && isErrorCode(coded[1])) return errorBodyOf(new ClassifierError(coded[1], coded[2]));
  return { code: 'job_failed', message: text, status: 500 };
}

function statusOf(snapshot: JobSnapshot, failed: number, total: number): JobStatus {
  switch (snapshot.state) {
    case 'completed':
      return failed === total ? 'failed' : 'succeeded';
    case 'failed':
      return 'failed';
    case 'active':
      return 'running';
    default:
      // Waiting again after a retry backoff or after its worker died: it started, and is not finished.
      return snapshot.processedOn ? 'running' : 'queued';
  }
}

/** A video job's progress as its worker reported it (zeros until it did). */
function videoProgressOf(progress: unknown): JobProgress {
  const reported = progress as Partial<JobProgress> | null | undefined;
  if (typeof reported !== 'object' || reported === null || typeof reported.done !== 'number')
    return { done: 0, failed: 0, total: 0 };
  return {
    done: reported.done,
    failed: reported.failed ?? 0,
    total: reported.total ?? 0,
    eta_seconds: reported.eta_seconds ?? null,
  };
}

/**
 * A video job's record. A video that went back to the queue (its worker stopped, or was busy with
 * another video) starts over, so it shows queued again. A worker cancelled by DELETE fails the job
 * with request_cancelled, which shows as cancelled, as in the in-process queue.
 */
function videoRecordOf(snapshot: JobSnapshot, record: RedisJobRecord): RedisJobRecord {
  const { state, returnvalue } = snapshot;
  record.video = null;
  if (state === 'completed') {
    const frames = returnvalue?.video?.timeline.length ?? 0;
    record.status = 'succeeded';
    record.video = returnvalue?.video ?? null;
    record.error = returnvalue?.error ?? null;
    record.progress = { done: frames, failed: 0, total: frames, eta_seconds: 0 };
  } else if (state === 'failed') {
    record.progress = videoProgressOf(snapshot.progress);
    if (record.error?.code === 'request_cancelled') record.status = 'cancelled';
  } else if (state === 'active') record.progress = videoProgressOf(snapshot.progress);
  else {
    record.status = 'queued';
    record.started_at = null;
  }
  return record;
}

export function recordOf(snapshot: JobSnapshot): RedisJobRecord {
  const { spec } = snapshot.data;
  const total = spec.images.length;
  const items = [...snapshot.items].sort((a, b) => a.index - b.index);
  const failed = items.filter((item) => item.error).length;
  const status = statusOf(snapshot, failed, total);
  const finished = status === 'succeeded' || status === 'failed';
  let error: ErrorBody | null = null;
  if (status === 'failed')
    error = items.find((item) => item.error)?.error ?? errorOfFailedReason(snapshot.failedReason);
  const record: RedisJobRecord = {
    id: snapshot.id,
    kind: spec.kind,
    status,
    created_at: iso(snapshot.timestamp) ?? new Date(0).toISOString(),
    started_at: iso(snapshot.processedOn),
    finished_at: finished ? (iso(snapshot.finishedOn) ?? new Date().toISOString()) : null,
    progress: { done: items.length, failed, total },
    error,
    worker: snapshot.returnvalue?.worker ?? snapshot.processedBy ?? null,
    attempts: snapshot.attemptsStarted ?? 0,
  };
  if (spec.kind === 'video') return videoRecordOf(snapshot, record);
  if (spec.kind === 'examples') record.result = snapshot.returnvalue?.examples ?? null;
  else if (spec.kind === 'single') record.result = items[0]?.result ?? null;
  else record.results = items;
  return record;
}

/** The record of a job cancelled before it started, kept after BullMQ removed the job. */
export function cancelledRecordOf(snapshot: JobSnapshot, now = Date.now()): RedisJobRecord {
  const record = recordOf({ ...snapshot, state: 'waiting', items: [] });
  record.status = 'cancelled';
  record.finished_at = new Date(now).toISOString();
  return record;
}
