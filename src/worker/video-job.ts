/**
 * A video job on a worker: the worker that takes the job decodes the video (ffmpeg), its frames go
 * through this worker's engine, and the timeline and summary become the job's return value.
 * - one video at a time per worker: a video taken while another decodes goes back to the queue
 *   (after a short delay) for a worker that is free, so images are never starved;
 * - DELETE leaves a cancel request in Redis, which the run looks for while it decodes: ffmpeg is
 *   stopped and the job fails with request_cancelled, which the API shows as cancelled;
 * - shutdown (SIGTERM) stops ffmpeg at once and puts the job back in the queue, where it starts over
 *   on the next worker (a restarted one included): nothing accepted is lost, nothing is half-done;
 * - the video's temporary file (an upload, a download) is deleted however the run ends.
 */
import { writeFile } from 'node:fs/promises';
import { DelayedError, UnrecoverableError, WaitingError } from 'bullmq';
import type { ClassSetResolver } from '../classes/index.ts';
import type { Classifier } from '../engine/classifier.ts';
import { classifyVideo, timelineEntryOf, type VideoLimits } from '../engine/video/classify-video.ts';
import { ClassifierError, shuttingDownError, toClassifierError } from '../errors.ts';
import { engineOptionsOf } from '../queue/class-sets.ts';
import { errorBodyOf } from '../queue/error-body.ts';
import type { RedisJobData, RedisJobReturn, StoredVideoSource } from '../queue/redis-job.ts';
import type { VideoStore } from '../queue/redis-videos.ts';
import type { JobProgress, VideoSource } from '../queue/types.ts';
import type { LocalFilePolicy } from '../sources/file.ts';
import {
  type OpenedVideo,
  openVideoSource,
  temporaryVideoPath,
  type VideoUrlPolicy,
} from '../sources/video/video-source.ts';

/** How often a running video looks for a cancel request: "at once" for a person pressing stop. */
const CANCEL_POLL_MS = 200;
/** A video taken by a worker busy with another goes back to the queue for this long. */
const BUSY_DELAY_MS = 1000;
/** Progress goes to Redis at most this often. */
const PROGRESS_INTERVAL_MS = 250;

export interface VideoJobDeps {
  classifier: Pick<Classifier, 'classifyFrame' | 'settings' | 'model'>;
  /** What `path` sources may name (the worker's IMAGE_ROOT) and ffmpeg's limits. */
  files: LocalFilePolicy;
  /** How `video_url` is downloaded here; null: video URLs are refused. */
  urls: VideoUrlPolicy | null;
  limits: VideoLimits;
  store: VideoStore;
  resolver: ClassSetResolver | null;
  /** Aborted when the worker shuts down: the running video stops and goes back to the queue. */
  stopping: AbortSignal;
  /** True while this worker decodes a video. */
  slot: { busy: boolean };
  workerId: string;
}

/** The parts of a BullMQ job a video run uses. */
export interface VideoProcessableJob {
  id?: string;
  data: RedisJobData;
  attemptsMade: number;
  opts: { attempts?: number };
  updateProgress(progress: JobProgress): Promise<void>;
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
  moveToWait(token?: string): Promise<number>;
}

function cancelledError(): ClassifierError {
  return new ClassifierError('request_cancelled', 'The job was cancelled.');
}

/** The video as openVideoSource takes it: an upload's bytes, read from Redis, become a temporary file. */
async function sourceOf(deps: VideoJobDeps, id: string, stored: StoredVideoSource): Promise<VideoSource> {
  if (stored.kind !== 'stored') return stored;
  const bytes = await deps.store.readUpload(id);
  if (!bytes)
    throw new UnrecoverableError(
      'job_failed: The uploaded video is no longer in the queue (no worker took the job in time); submit it again.',
    );
  const file = temporaryVideoPath();
  await writeFile(file, bytes, { mode: 0o600 });
  return { kind: 'upload', file, label: stored.label };
}

export async function runVideoJob(
  deps: VideoJobDeps,
  job: VideoProcessableJob,
  token: string | undefined,
): Promise<RedisJobReturn> {
  const id = job.id;
  const { spec } = job.data;
  if (!id || spec.kind === 'examples' || !spec.video) throw new UnrecoverableError('internal_error: not a video job.');
  if (deps.slot.busy) {
    await job.moveToDelayed(Date.now() + BUSY_DELAY_MS, token);
    throw new DelayedError();
  }
  deps.slot.busy = true;
  const abort = new AbortController();
  const stop = () => abort.abort(shuttingDownError());
  deps.stopping.addEventListener('abort', stop);
  if (deps.stopping.aborted) stop();
  const watch = setInterval(() => {
    deps.store.cancelRequested(id).then(
      (yes) => yes && abort.abort(cancelledError()),
      () => undefined, // Redis away: looked for again shortly.
    );
  }, CANCEL_POLL_MS);
  let opened: OpenedVideo | null = null;
  try {
    if (await deps.store.cancelRequested(id)) abort.abort(cancelledError());
    abort.signal.throwIfAborted();
    // A run that starts over (its last worker stopped) does not show the last run's progress meanwhile.
    await job.updateProgress({ done: 0, failed: 0, total: 0, eta_seconds: null });
    opened = await openVideoSource(await sourceOf(deps, id, spec.video.source), {
      files: deps.files,
      urls: deps.urls ?? undefined,
      signal: abort.signal,
    });
    abort.signal.throwIfAborted();
    const result = await decode(deps, job, opened, abort.signal);
    await deps.store.removeUpload(id).catch(() => undefined);
    return result;
  } catch (err) {
    throw await failureOf(deps, job, token, abort.signal.aborted ? abort.signal.reason : err);
  } finally {
    clearInterval(watch);
    deps.stopping.removeEventListener('abort', stop);
    deps.slot.busy = false;
    await opened?.release().catch(() => undefined);
  }
}

async function decode(
  deps: VideoJobDeps,
  job: VideoProcessableJob,
  opened: OpenedVideo,
  signal: AbortSignal,
): Promise<RedisJobReturn> {
  const { spec } = job.data;
  if (spec.kind === 'examples' || !spec.video) throw new UnrecoverableError('internal_error: not a video job.');
  const { video } = spec;
  const started = Date.now();
  let lastReport = 0;
  const result = await classifyVideo(
    deps.classifier,
    opened.file,
    {
      ...(await engineOptionsOf(spec.options, deps.resolver)),
      sampling: video.sampling,
      minFrames: video.minFrames,
      gap: video.gap,
      smooth: video.smooth,
      limits: deps.limits,
    },
    {
      // openVideoSource applied the worker's IMAGE_ROOT; this is the file it resolved or wrote.
      files: { allowFiles: true, root: null },
      label: opened.label,
      signal,
      onProgress: ({ done, total }) => {
        const now = Date.now();
        if (done > 0 && now - lastReport < PROGRESS_INTERVAL_MS) return;
        lastReport = now;
        const expected = Math.max(total ?? done, done);
        const elapsed = (now - started) / 1000;
        const eta = done > 0 ? Math.round(((expected - done) * elapsed) / done) : null;
        // Progress is for people watching; a lost update is replaced by the next one.
        job.updateProgress({ done, failed: 0, total: expected, eta_seconds: eta }).catch(() => undefined);
      },
    },
  );
  return {
    worker: deps.workerId,
    model: deps.classifier.model.id,
    total: result.frames.length,
    done: result.frames.length,
    failed: 0,
    cache_hits: 0,
    video: { video: result.video, timeline: result.frames.map(timelineEntryOf), summary: result.summary },
    error: result.error ? errorBodyOf(result.error) : null,
  };
}

/** What the run throws for BullMQ: back to the queue on shutdown, a retry for a transient error, else final. */
async function failureOf(
  deps: VideoJobDeps,
  job: VideoProcessableJob,
  token: string | undefined,
  reason: unknown,
): Promise<Error> {
  if (reason instanceof UnrecoverableError) {
    await deps.store.removeUpload(job.id ?? '').catch(() => undefined);
    return reason;
  }
  const error = toClassifierError(reason);
  if (error.code === 'shutting_down') {
    // Back to the queue, not counted as a failed attempt. Should this fail (Redis away), the job's lock lapses and BullMQ's stalled check puts it back instead.
    await job.moveToWait(token).catch(() => undefined);
    return new WaitingError();
  }
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if (error.code !== 'request_cancelled' && error.retryable && !lastAttempt)
    return new Error(`${error.code}: ${error.message}`);
  await deps.store.removeUpload(job.id ?? '').catch(() => undefined);
  return new UnrecoverableError(`${error.code}: ${error.message}`);
}
