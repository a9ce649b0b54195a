/**
 * The job queue contract. The in-process queue (memory-queue.ts) and a Redis/BullMQ one
 * implement the same interface, so everything that crosses it is plain JSON: specs carry image
 * bytes as base64, records carry the engine's results as they are.
 */
import type { ClassificationResult, ClassifyOptions, ImageInput } from '../engine/types.ts';
import type { Sampling, TimelineEntry, VideoDescription } from '../engine/video/classify-video.ts';
import type { VideoSummary } from '../engine/video/summary.ts';
import type { ErrorCode } from '../errors.ts';

/** One image of a job, as it can be stored in Redis: never a Buffer, never a URL object. */
export type ImageSpec =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; data: string /** e.g. the uploaded file's name; "upload" when it had none. */; label: string }
  | { kind: 'path'; path: string };

// VideoSource is declared beside openVideoSource (sources/ sits below queue/); it crosses the queue as it is.
export type { VideoSource } from '../sources/video/video-source.ts';
import type { VideoSource } from '../sources/video/video-source.ts';

/** A video job's video and how to sample and summarise it. */
export interface VideoJobSpec {
  source: VideoSource;
  sampling: Sampling;
  minFrames?: number;
  /** Seconds. */
  gap?: number;
  smooth?: number;
}

/**
 * Classification options as they cross the queue: plain JSON. A class set travels by name (and
 * an optional threshold) and is resolved to the engine's CustomClasses where the image is classified.
 */
export interface JobOptions extends Omit<ClassifyOptions, 'classes'> {
  /** A class set's name: the answer is its label (or `unknown`). */
  classSet?: string;
  /** Overrides the set's threshold (a cosine similarity). */
  classThreshold?: number;
}

/** One image through whatever classifies here, with options that name a set rather than hold one. */
export type JobClassifyFn = (
  input: ImageInput,
  options?: JobOptions,
  cancel?: AbortSignal,
) => Promise<ClassificationResult>;

export interface ClassifyJobSpec {
  /** A single job answers with `result`, a batch with `results` (even for a one-image batch), a video with `video`. */
  kind: 'single' | 'batch' | 'video';
  /** Empty for a video job. */
  images: ImageSpec[];
  options: JobOptions;
  video?: VideoJobSpec;
}

/** A video job's answer: what the video is, one entry per sampled frame, the summary. */
export interface VideoJobResult {
  video: VideoDescription;
  timeline: TimelineEntry[];
  summary: VideoSummary;
}

/** Photos added to a class set: image i is labelled labels[i]; the job's `result` is an ExamplesResult. */
export interface ExamplesJobSpec {
  kind: 'examples';
  set: string;
  images: ImageSpec[];
  labels: string[];
}

export type JobSpec = ClassifyJobSpec | ExamplesJobSpec;

/** What adding examples answers (POST /class-sets/{name}/examples, or an examples job's result). */
export interface ExamplesResult {
  added: number;
  duplicates: { source: string; label: string; existing_label: string }[];
  skipped: { source: string; error: ErrorBody }[];
  set: ClassSetView;
}

/** A class set as the API shows it. */
export interface ClassSetView {
  name: string;
  model: { id: string; sha256: string } | null;
  dim: number | null;
  threshold: number | null;
  labels: { label: string; count: number }[];
  examples: number;
  created_at: string;
  updated_at: string;
}

/** Runs an examples job where the model is; reports progress as photos are embedded. */
export type ExamplesRunner = (
  spec: ExamplesJobSpec,
  /** After each photo: the counts, and that photo (its error when it was skipped). */
  progress: (progress: JobProgress, photo?: { source: string; error: ErrorBody | null }) => void,
) => Promise<ExamplesResult>;

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const FINISHED_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** The body of an error answer, also used for a job's or an image's failure. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  status: number;
}

export interface JobItemResult {
  index: number;
  source: string;
  result?: ClassificationResult;
  error?: ErrorBody;
}

export interface JobProgress {
  /** Images (video jobs: frames) finished, successfully or not. */
  done: number;
  /** Of those, the ones that failed. */
  failed: number;
  /** Video jobs: the frames the sampling should give, from the header (0 until it is read). */
  total: number;
  /** Video jobs: seconds left at the pace so far (null until there is a pace). */
  eta_seconds?: number | null;
}

export interface JobRecord {
  id: string;
  kind: JobSpec['kind'];
  status: JobStatus;
  /** ISO-8601 UTC. */
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: JobProgress;
  /** Single-image jobs: the classification once it succeeded, else null. Examples jobs: what was added. */
  result?: ClassificationResult | ExamplesResult | null;
  /** Batch jobs: one entry per finished image, in input order. */
  results?: JobItemResult[];
  /** Video jobs: the timeline and summary (with `error` too when decoding stopped early). */
  video?: VideoJobResult | null;
  /** Why a job failed (a single image's error, or every image of a batch failing), or why a video stopped early. */
  error?: ErrorBody | null;
}

/** A classification job's `result` (examples jobs have an ExamplesResult there instead). */
export function classificationOf(record: JobRecord | null | undefined): ClassificationResult | null {
  const result = record?.result;
  return result && 'answer' in result ? result : null;
}

export type CancelOutcome = 'cancelled' | 'not_cancellable' | 'not_found';

export interface QueueStats {
  /** Jobs accepted and not started. */
  waiting: number;
  /** Jobs with at least one image started and not all finished. */
  active: number;
  /** Finished jobs still retained, by outcome. */
  completed: number;
  failed: number;
  /** Images the queue runs at the same time. */
  workers: number;
}

export type QueueEvent = { type: 'started'; job: JobRecord; wait_ms: number } | { type: 'finished'; job: JobRecord };

export interface JobQueue {
  /** Accepts a job, or throws ClassifierError 'queue_full' (503, retryable) when it cannot take more. */
  submit(spec: JobSpec): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | null>;
  /** Queued jobs can be cancelled, and running video jobs (ffmpeg is stopped); a running image job finishes. */
  cancel(id: string): Promise<CancelOutcome>;
  /** The job once finished, or as it stands when `timeoutMs` runs out; null if unknown. */
  waitFor(id: string, timeoutMs: number): Promise<JobRecord | null>;
  stats(): Promise<QueueStats>;
  /** True while the queue accepts and runs jobs. */
  ready(): Promise<boolean>;
  /** Stops taking and starting jobs, lets running jobs finish, then resolves. */
  close(): Promise<void>;
}
