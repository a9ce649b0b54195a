/**
 * A clip's summary from its frames' answers: which classes (and marine groups) appear, when, for
 * how long, in how many separate spans, and the best frame of each. Pure functions of the frames,
 * so they are tested without ffmpeg or a model.
 */
import { timecodeOf } from './timecode.ts';

/** One label's score in one frame (ImageNet probability, or a class set's similarity). */
export interface LabelScore {
  label: string;
  score: number;
  /** Marine group of the label, null when it is no marine animal (or a custom label). */
  group: string | null;
}

/** What the summary needs of one classified frame. */
export interface FrameScores {
  seconds: number;
  /** The frame's own answer, null when it is `unknown` (below min_score / the class threshold). */
  answer: LabelScore | null;
  /** Its best labels (top-k), for smoothing. */
  candidates: LabelScore[];
}

export interface SummaryOptions {
  /** Sampling step in seconds (each frame stands for this long); null for keyframes (until the next frame). */
  step: number | null;
  /** Length of the video in seconds when known: the last frame stands until then at most. */
  duration: number | null;
  /** A label is listed when it is the answer in at least this many frames. */
  minFrames: number;
  /** Appearances this close (seconds) are one span. */
  gap: number;
  /** Tolerance added to `gap`: the length of one frame of the video, since sampled frames fall on its frame grid. */
  slack?: number;
  /** Average scores over this many frames before answering (1: each frame's own answer). */
  smooth: number;
  /** When a smoothed best label is an answer (not `unknown`): min_score, or the class set's threshold. */
  accept: (best: LabelScore) => boolean;
}

export interface Span {
  start: string;
  end: string;
  start_seconds: number;
  end_seconds: number;
}

export interface SummaryEntry {
  /** The class label, or the marine group in `groups`. */
  label: string;
  group: string | null;
  frames: number;
  /** Separate spans (appearances). */
  appearances: number;
  first_seen: string;
  first_seen_seconds: number;
  last_seen: string;
  last_seen_seconds: number;
  seconds_on_screen: number;
  spans: Span[];
  best_probability: number;
  mean_probability: number;
  best_frame: string;
  best_frame_seconds: number;
}

export interface VideoSummary {
  /** Frames classified. */
  frames: number;
  /** Per class that is an answer, most screen time first. */
  classes: SummaryEntry[];
  /** Per marine group, the same way (label = the group). */
  groups: SummaryEntry[];
  min_frames: number;
  gap_seconds: number;
  smooth_frames: number;
}

const EPSILON = 1e-6;

/** Each frame's answer after averaging every label's score over a centred window of `window` frames. */
export function smoothedAnswers(
  frames: readonly FrameScores[],
  window: number,
  accept: (best: LabelScore) => boolean,
): (LabelScore | null)[] {
  if (window <= 1) return frames.map((frame) => frame.answer);
  const before = Math.floor((window - 1) / 2);
  const after = window - 1 - before;
  return frames.map((_, i) => {
    const from = Math.max(0, i - before);
    const to = Math.min(frames.length - 1, i + after);
    const sums = new Map<string, LabelScore>();
    for (let j = from; j <= to; j++) {
      for (const c of frames[j].candidates) {
        const sum = sums.get(c.label);
        if (sum) sum.score += c.score;
        else sums.set(c.label, { ...c });
      }
    }
    let best: LabelScore | null = null;
    for (const sum of sums.values()) {
      sum.score /= to - from + 1;
      if (!best || sum.score > best.score) best = sum;
    }
    return best && accept(best) ? best : null;
  });
}

/** [start, end) in seconds that each frame stands for. */
export function frameIntervals(frames: readonly FrameScores[], options: Pick<SummaryOptions, 'step' | 'duration'>) {
  return frames.map((frame, i) => {
    const next = frames[i + 1]?.seconds;
    let end = next ?? (options.step !== null ? frame.seconds + options.step : (options.duration ?? frame.seconds));
    if (options.step !== null) end = Math.min(end, frame.seconds + options.step);
    if (next === undefined && options.duration !== null && options.duration > frame.seconds)
      end = Math.min(end, options.duration);
    return { start: frame.seconds, end: Math.max(end, frame.seconds) };
  });
}

interface Hit {
  start: number;
  end: number;
  score: number;
  seconds: number;
}

function round(value: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function entryOf(label: string, group: string | null, hits: Hit[], gap: number): SummaryEntry {
  // \`gap\` already holds the slack (summarizeFrames).
  const spans: { start: number; end: number }[] = [];
  for (const hit of hits) {
    const last = spans.at(-1);
    if (last && hit.start - last.end <= gap + EPSILON) last.end = Math.max(last.end, hit.end);
    else spans.push({ start: hit.start, end: hit.end });
  }
  const best = hits.reduce((a, b) => (b.score > a.score ? b : a));
  const first = hits[0].seconds;
  const lastSeen = hits[hits.length - 1].seconds;
  return {
    label,
    group,
    frames: hits.length,
    appearances: spans.length,
    first_seen: timecodeOf(first),
    first_seen_seconds: round(first, 3),
    last_seen: timecodeOf(lastSeen),
    last_seen_seconds: round(lastSeen, 3),
    seconds_on_screen: round(
      hits.reduce((total, hit) => total + (hit.end - hit.start), 0),
      3,
    ),
    spans: spans.map((span) => ({
      start: timecodeOf(span.start),
      end: timecodeOf(span.end),
      start_seconds: round(span.start, 3),
      end_seconds: round(span.end, 3),
    })),
    best_probability: round(best.score),
    mean_probability: round(hits.reduce((total, hit) => total + hit.score, 0) / hits.length),
    best_frame: timecodeOf(best.seconds),
    best_frame_seconds: round(best.seconds, 3),
  };
}

function entriesBy(
  answers: (LabelScore | null)[],
  intervals: { start: number; end: number }[],
  frames: readonly FrameScores[],
  keyOf: (answer: LabelScore) => string | null,
  options: SummaryOptions,
): SummaryEntry[] {
  const byKey = new Map<string, { group: string | null; hits: Hit[] }>();
  answers.forEach((answer, i) => {
    if (!answer) return;
    const key = keyOf(answer);
    if (key === null) return;
    const entry = byKey.get(key) ?? { group: answer.group, hits: [] };
    entry.hits.push({ ...intervals[i], score: answer.score, seconds: frames[i].seconds });
    byKey.set(key, entry);
  });
  return [...byKey.entries()]
    .filter(([, entry]) => entry.hits.length >= options.minFrames)
    .map(([key, entry]) => entryOf(key, entry.group, entry.hits, options.gap + (options.slack ?? 0)))
    .sort((a, b) => b.seconds_on_screen - a.seconds_on_screen || a.first_seen_seconds - b.first_seen_seconds);
}

/** The summary of a clip's frames (in time order). */
export function summarizeFrames(frames: readonly FrameScores[], options: SummaryOptions): VideoSummary {
  const answers = smoothedAnswers(frames, options.smooth, options.accept);
  const intervals = frameIntervals(frames, options);
  return {
    frames: frames.length,
    classes: entriesBy(answers, intervals, frames, (a) => a.label, options),
    groups: entriesBy(answers, intervals, frames, (a) => a.group, options),
    min_frames: options.minFrames,
    gap_seconds: options.gap,
    smooth_frames: options.smooth,
  };
}
