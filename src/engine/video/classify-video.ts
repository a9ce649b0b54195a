/**
 * A video through the engine: ffprobe for what it is, ffmpeg for its sampled frames, and every
 * frame through the same resize/crop, batcher and model as a photo (Classifier.classifyFrame).
 * The answer is a timeline (one row per frame) and a summary per class and per marine group.
 */
import { ClassifierError, toClassifierError } from '../../errors.ts';
import { SETTINGS } from '../../settings/table.ts';
import { type LocalFilePolicy, resolveVideoFile } from '../../sources/file.ts';
import { findFfmpeg, type FfmpegTools } from '../../sources/video/ffmpeg-path.ts';
import { extractFrames, type Sampling } from '../../sources/video/frames.ts';
import type { VideoFormat } from '../../sources/sniff.ts';
import { probeVideo, sniffVideoFile, type VideoInfo } from '../../sources/video/probe.ts';
import type { Classifier } from '../classifier.ts';
import type { ClassificationResult, ClassifyOptions, ImageInfo } from '../types.ts';
import { type FrameScores, type LabelScore, summarizeFrames, type VideoSummary } from './summary.ts';
import { timecodeOf } from './timecode.ts';

export type { Sampling } from '../../sources/video/frames.ts';

/** ffprobe gets at least this long, whatever VIDEO_STALL_MS says (within VIDEO_TIMEOUT_MS). */
const PROBE_MIN_MS = 10_000;

export interface VideoLimits {
  ffmpegPath?: string | null;
  maxVideoSeconds: number;
  maxVideoFrames: number;
  videoStallMs: number;
  videoTimeoutMs: number;
}

export const DEFAULT_VIDEO_LIMITS: VideoLimits = {
  ffmpegPath: null,
  maxVideoSeconds: SETTINGS.maxVideoSeconds.default,
  maxVideoFrames: SETTINGS.maxVideoFrames.default,
  videoStallMs: SETTINGS.videoStallMs.default,
  videoTimeoutMs: SETTINGS.videoTimeoutMs.default,
};

export interface VideoOptions extends ClassifyOptions {
  /** Default: one frame per second. */
  sampling?: Sampling;
  minFrames?: number;
  /** Seconds. */
  gap?: number;
  smooth?: number;
  limits?: Partial<VideoLimits>;
}

export interface VideoProgress {
  done: number;
  /** Frames expected from the header (null when its length is unknown). */
  total: number | null;
}

export interface VideoRun {
  /** Which local paths may be opened (IMAGE_ROOT); default: any (the CLI's user names them). */
  files?: LocalFilePolicy;
  signal?: AbortSignal;
  onProgress?: (progress: VideoProgress) => void;
  /** How messages and `video.source` name the video when the path is not its name (an upload's temporary file: its file name or URL). */
  label?: string;
}

export interface FrameRow {
  index: number;
  seconds: number;
  timecode: string;
  result: ClassificationResult;
}

export interface VideoDescription {
  source: string;
  duration: number | null;
  width: number;
  height: number;
  frame_rate: number | null;
  codec: string;
  container: string;
  /** The container its first bytes name (mp4, mov, matroska, webm, avi, flv); null when they name none. */
  format: VideoFormat | null;
  creation_time: string | null;
  sampling: { every_seconds: number } | { keyframes: true };
}

export interface VideoResult {
  video: VideoDescription;
  frames: FrameRow[];
  summary: VideoSummary;
  /** Why decoding stopped early (video_truncated, video_stalled, ...); the frames before it are all here. */
  error: ClassifierError | null;
}

export interface VideoPlan {
  tools: FfmpegTools;
  /** What ffmpeg opens: the resolved path with the file protocol named. */
  file: string;
  info: VideoInfo;
  sampling: Sampling;
  /** Frames the sampling should give, from the header; null when the length is unknown. */
  expectedFrames: number | null;
  format: VideoFormat | null;
}

function samplingOf(options: VideoOptions): Sampling {
  const sampling = options.sampling ?? { every: SETTINGS.videoEvery.default / 1000 };
  if ('every' in sampling && !(sampling.every > 0))
    throw new ClassifierError('invalid_request', `The sampling step must be above 0 seconds, not ${sampling.every}.`);
  return sampling;
}

/** The frames a sampling gives for a video of this length and rate (keyframes: at most one per frame). */
export function expectedFrameCount(info: VideoInfo, sampling: Sampling): number | null {
  if (info.duration === null) return null;
  if ('every' in sampling) return Math.max(1, Math.ceil(info.duration / sampling.every - 1e-9));
  return info.frameRate ? Math.ceil(info.duration * info.frameRate) : null;
}

/**
 * Checks the path against the file policy, finds ffmpeg, probes the file and checks the limits,
 * before anything is decoded. Messages name the video by `run.label`, else by `path`.
 */
export async function planVideo(
  path: string,
  options: VideoOptions,
  maxPixels: number,
  run: VideoRun = {},
): Promise<VideoPlan> {
  const limits = { ...DEFAULT_VIDEO_LIMITS, ...options.limits };
  const sampling = samplingOf(options);
  const source = run.label ?? path;
  const resolved = await resolveVideoFile(path, run.files ?? { allowFiles: true, root: null });
  const tools = findFfmpeg(limits.ffmpegPath);
  // The file protocol by name: a path like "pipe:0" or "concat:a|b" is then just a file name.
  const file = `file:${resolved}`;
  const info = await probeVideo(tools, file, {
    // Reading a header is quick, but ffprobe starting on a busy machine may take a moment more than a short stall limit.
    timeoutMs: Math.min(limits.videoTimeoutMs, Math.max(limits.videoStallMs, PROBE_MIN_MS)),
    signal: run.signal,
    source,
  });
  if (info.duration !== null && info.duration > limits.maxVideoSeconds)
    throw new ClassifierError(
      'video_too_long',
      `${source} is ${info.duration.toFixed(1)} s long; the limit is ${limits.maxVideoSeconds} s (MAX_VIDEO_SECONDS).`,
    );
  if (info.width * info.height > maxPixels)
    throw new ClassifierError(
      'image_too_many_pixels',
      `The frames of ${source} have ${info.width}x${info.height} pixels, more than the limit of ${maxPixels.toLocaleString('en-US')} (MAX_PIXELS).`,
    );
  const expectedFrames = expectedFrameCount(info, sampling);
  if ('every' in sampling && expectedFrames !== null && expectedFrames > limits.maxVideoFrames)
    throw new ClassifierError(
      'video_too_many_frames',
      `Sampling ${source} every ${sampling.every} s gives ${expectedFrames} frames; the limit is ${limits.maxVideoFrames} (MAX_VIDEO_FRAMES).`,
    );
  return { tools, file, info, sampling, expectedFrames, format: await sniffVideoFile(resolved) };
}

/** A frame's labels and scores as the summary reads them: the class set's when one is used, else ImageNet's. */
export function frameScoresOf(row: FrameRow): FrameScores {
  const r = row.result;
  if (r.custom) {
    const candidates = r.custom.top.map((t) => ({ label: t.label, score: t.similarity, group: null }));
    const answer = r.custom.unknown ? null : { label: r.custom.label, score: r.custom.similarity, group: null };
    return { seconds: row.seconds, answer, candidates };
  }
  const candidates: LabelScore[] = r.predictions.map((p) => ({
    label: p.label,
    score: p.probability,
    group: p.marine?.group ?? null,
  }));
  const top = r.top1;
  const answer =
    !r.unknown && top ? { label: top.label, score: top.probability, group: top.marine?.group ?? null } : null;
  return { seconds: row.seconds, answer, candidates };
}

/** The summary of frames classified with these options. */
export function summaryOf(rows: readonly FrameRow[], info: VideoInfo, options: VideoOptions): VideoSummary {
  const sampling = samplingOf(options);
  const minScore = options.minScore ?? 0;
  const threshold = rows.find((row) => row.result.custom)?.result.custom?.threshold;
  return summarizeFrames(rows.map(frameScoresOf), {
    step: 'every' in sampling ? sampling.every : null,
    duration: info.duration,
    minFrames: options.minFrames ?? SETTINGS.minFrames.default,
    gap: options.gap ?? SETTINGS.spanGapMs.default / 1000,
    slack: info.frameRate ? 1 / info.frameRate : 0,
    smooth: options.smooth ?? SETTINGS.smoothFrames.default,
    accept: (best) => (threshold !== undefined ? best.score >= threshold : best.score >= minScore),
  });
}

function describe(source: string, plan: VideoPlan): VideoDescription {
  const { info, sampling } = plan;
  return {
    source,
    duration: info.duration,
    width: info.width,
    height: info.height,
    frame_rate: info.frameRate === null ? null : Math.round(info.frameRate * 1000) / 1000,
    codec: info.codec,
    container: info.container,
    format: plan.format,
    creation_time: info.creationTime,
    sampling: 'every' in sampling ? { every_seconds: sampling.every } : { keyframes: true },
  };
}

/** When the frame was filmed, if the container says when the video started. */
function frameTime(creationTime: string | null, seconds: number): string | null {
  if (!creationTime) return null;
  return new Date(Date.parse(creationTime) + Math.round(seconds * 1000)).toISOString();
}

/**
 * Classifies the sampled frames of a local video file. Throws when nothing could be classified;
 * an error after some frames (cut short, stalled, too many) comes back in `error` with those frames.
 * Cancelling `signal` stops ffmpeg at once and throws.
 */
export async function classifyVideo(
  classifier: Pick<Classifier, 'classifyFrame' | 'settings'>,
  path: string,
  options: VideoOptions = {},
  run: VideoRun = {},
): Promise<VideoResult> {
  const plan = await planVideo(path, options, classifier.settings.maxPixels, run);
  const source = run.label ?? path;
  const { tools, file, info, sampling } = plan;
  const limits = { ...DEFAULT_VIDEO_LIMITS, ...options.limits };
  const { sampling: _s, minFrames: _m, gap: _g, smooth: _sm, limits: _l, ...classify } = options;
  const rows: FrameRow[] = [];
  const inFlight = new Set<Promise<void>>();
  // Enough frames in flight to fill batches and keep the resizing threads busy, few enough to bound memory.
  const window = Math.max(2, classifier.settings.maxBatch * 2);
  let failure: ClassifierError | null = null;
  let done = 0;
  const report = () => run.onProgress?.({ done, total: plan.expectedFrames });
  report();
  const frames = extractFrames(tools, file, {
    sampling,
    maxFrames: limits.maxVideoFrames,
    maxPixels: classifier.settings.maxPixels,
    stallMs: limits.videoStallMs,
    timeoutMs: limits.videoTimeoutMs,
    signal: run.signal,
    source,
    duration: info.duration,
  });
  try {
    for await (const frame of frames) {
      const image: ImageInfo = {
        width: frame.width,
        height: frame.height,
        format: 'video',
        taken_at: frameTime(info.creationTime, frame.seconds),
        latitude: null,
        longitude: null,
      };
      const task = classifier
        .classifyFrame({ data: frame.data, width: frame.width, height: frame.height, image }, classify, run.signal)
        .then((result) => {
          rows.push({ index: frame.index, seconds: frame.seconds, timecode: timecodeOf(frame.seconds), result });
          done++;
          report();
        })
        .catch((err: unknown) => {
          failure ??= toClassifierError(err);
        })
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= window) await Promise.race(inFlight);
      if (failure) throw failure;
    }
  } catch (err) {
    await Promise.allSettled(inFlight);
    run.signal?.throwIfAborted();
    const error = toClassifierError(err);
    // Errors of the frames themselves, or with nothing decoded, fail the whole video.
    if (rows.length === 0 || !error.code.startsWith('video_')) throw error;
    failure = error;
  }
  await Promise.allSettled(inFlight);
  run.signal?.throwIfAborted();
  rows.sort((a, b) => a.index - b.index);
  const stoppedEarly = failure && (failure as ClassifierError).code.startsWith('video_') ? failure : null;
  if (failure && !stoppedEarly) throw failure;
  return {
    video: describe(source, plan),
    frames: rows,
    summary: summaryOf(rows, info, options),
    error: stoppedEarly,
  };
}

/** One frame of a timeline as answers give it (CLI JSON, GET /jobs/{id}). */
export interface TimelineEntry {
  timecode: string;
  seconds: number;
  answer: string;
  unknown: boolean;
  marine_group: string | null;
  predictions: ClassificationResult['predictions'];
  custom?: ClassificationResult['custom'];
}

export function timelineEntryOf(frame: FrameRow): TimelineEntry {
  const r = frame.result;
  return {
    timecode: frame.timecode,
    seconds: Math.round(frame.seconds * 1000) / 1000,
    answer: r.answer,
    unknown: r.unknown,
    marine_group: r.top1?.marine?.group ?? null,
    predictions: r.predictions,
    ...(r.custom ? { custom: r.custom } : {}),
  };
}
