/**
 * A classified video as Camtrap DP observations: one `event` observation per span of each class in
 * the video's summary (the spans `classify` reports), with eventStart/eventEnd as absolute times
 * (the video's timestamp plus the span's seconds), the same observation rules as a photo, and the
 * span's best frame probability. See docs/survey.md "Videos".
 */
import type { TimelineEntry, VideoDescription } from '../engine/video/classify-video.ts';
import type { Span, SummaryEntry, VideoSummary } from '../engine/video/summary.ts';
import type { Row } from './columns.ts';
import { type MachineObservation, observationOfClass } from './observation.ts';
import { timestampPlus } from './timestamps.ts';

/** What a video's classification gives the survey: the CLI's VideoResult and a video job's answer both fit. */
export interface SurveyVideo {
  /** The model's id (classifiedBy). */
  model: string | null;
  video: VideoDescription;
  timeline: TimelineEntry[];
  summary: VideoSummary;
}

export interface VideoEvent {
  row: Row<string>;
  observation: MachineObservation;
}

const EPSILON = 1e-6;

/**
 * The span's observation: an ImageNet class by the photo rules, with the best probability any
 * frame of the span gives it; a class set's label (no ImageNet class of that name) is an animal
 * without a scientific name and without a probability (a cosine similarity is not one).
 */
function spanObservation(entry: SummaryEntry, span: Span, timeline: readonly TimelineEntry[]): MachineObservation {
  const inSpan = timeline.filter(
    (frame) => frame.seconds >= span.start_seconds - EPSILON && frame.seconds < span.end_seconds - EPSILON,
  );
  const matches = inSpan.flatMap((frame) => frame.predictions.filter((p) => p.label === entry.label));
  const anywhere = matches[0] ?? timeline.flatMap((f) => f.predictions).find((p) => p.label === entry.label);
  if (!anywhere || timeline.some((frame) => frame.custom))
    return { observationType: 'animal', scientificName: null, probability: null };
  const best = matches.length > 0 ? Math.max(...matches.map((p) => p.probability)) : entry.best_probability;
  return observationOfClass(anywhere, best);
}

/** Seconds the video lasts: its header's length, else up to its last span or frame. */
export function videoSeconds(video: SurveyVideo): number {
  const spans = video.summary.classes.flatMap((entry) => entry.spans.map((s) => s.end_seconds));
  const frames = video.timeline.map((frame) => frame.seconds);
  return video.video.duration ?? Math.max(0, ...spans, ...frames);
}

/**
 * The video's observations. No span at all (nothing named in enough frames) is one `unknown` event
 * over the whole clip, so every classified video has an observation, as every photo has.
 */
export function videoEvents(
  mediaID: string,
  deploymentID: string,
  timestamp: string,
  video: SurveyVideo,
  machine: Row<string>,
): VideoEvent[] {
  const spans = video.summary.classes
    .flatMap((entry) => entry.spans.map((span) => ({ entry, span })))
    .sort((a, b) => a.span.start_seconds - b.span.start_seconds || a.entry.label.localeCompare(b.entry.label));
  const whole = { start_seconds: 0, end_seconds: videoSeconds(video) };
  const events = spans.length
    ? spans.map(({ entry, span }) => ({
        span: span as Pick<Span, 'start_seconds' | 'end_seconds'>,
        observation: spanObservation(entry, span, video.timeline),
      }))
    : [
        {
          span: whole,
          observation: { observationType: 'unknown', scientificName: null, probability: null } as MachineObservation,
        },
      ];
  return events.map(({ span, observation }, index) => ({
    observation,
    row: {
      observationID: `${mediaID}-${index + 1}`,
      deploymentID,
      mediaID,
      // Spans of two classes over the same seconds are one stretch of footage: they share it.
      eventID: `${mediaID}/${span.start_seconds}-${span.end_seconds}`,
      eventStart: timestampPlus(timestamp, span.start_seconds, 'down'),
      eventEnd: timestampPlus(timestamp, span.end_seconds, 'up'),
      observationLevel: 'event',
      observationType: observation.observationType,
      scientificName: observation.scientificName,
      ...machine,
      classificationProbability: observation.probability === null ? null : Number(observation.probability.toFixed(6)),
    },
  }));
}
