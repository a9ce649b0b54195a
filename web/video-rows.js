// A video's downloads, in the CLI's columns: the timeline as `classify dive.mp4 --format csv`
// writes it (one row per frame, the photo columns of report.js, path `dive.mp4#t=hh:mm:ss.mmm`),
// and the summary as `--summary` writes it (src/cli/video-outputs.ts SUMMARY_COLUMNS).
// test/web-video.test.ts checks both against the CLI's own functions. Pure, no DOM.
import { csvColumns, csvField, csvRow } from './report.js';

/**
 * @typedef {import('./video-job.js').VideoAnswer} VideoAnswer
 * @typedef {import('./video-job.js').TimelineEntry} TimelineEntry
 * @typedef {import('./video-job.js').SummaryEntry} SummaryEntry
 * @typedef {import('./report.js').ImageReport} ImageReport
 */

/**
 * A frame's time on the wall clock: the container's creation time plus the frame's, as the engine computes it.
 * @param {string | null} creation
 * @param {number} seconds
 */
function frameTime(creation, seconds) {
  if (!creation) return null;
  return new Date(Date.parse(creation) + Math.round(seconds * 1000)).toISOString();
}

/**
 * One report per frame, as the CLI reports a video's frames. A job's timeline does not carry the
 * frame's pixel hash, so `sha256` is empty; `model` is the service's model when the page knows it.
 * @param {string} name the video's file name
 * @param {VideoAnswer} answer
 * @param {string} model
 * @returns {ImageReport[]}
 */
export function frameReports(name, answer, model) {
  const { video } = answer;
  return answer.timeline.map((frame) => ({
    path: `${name}#t=${frame.timecode}`,
    result: {
      answer: frame.answer,
      unknown: frame.unknown,
      top1: frame.unknown ? null : (frame.predictions[0] ?? null),
      predictions: frame.predictions,
      image: {
        width: video.width,
        height: video.height,
        format: 'video',
        taken_at: frameTime(video.creation_time, frame.seconds),
        latitude: null,
        longitude: null,
      },
      model,
      sha256: '',
    },
  }));
}

/**
 * The timeline CSV: header and one row per frame.
 * @param {string} name
 * @param {VideoAnswer} answer
 * @param {number} topK
 * @param {string} model
 */
export function timelineCsv(name, answer, topK, model) {
  const lines = [csvColumns(topK).map(csvField).join(',')];
  for (const report of frameReports(name, answer, model)) lines.push(csvRow(report, topK).map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}

export const SUMMARY_COLUMNS = [
  'video',
  'level',
  'label',
  'marine_group',
  'frames',
  'appearances',
  'first_seen',
  'last_seen',
  'seconds_on_screen',
  'best_probability',
  'mean_probability',
  'best_frame',
  'spans',
];

/**
 * @param {string} video
 * @param {'class'|'group'} level
 * @param {SummaryEntry} entry
 */
export function summaryRow(video, level, entry) {
  return [
    video,
    level,
    entry.label,
    entry.group ?? '',
    String(entry.frames),
    String(entry.appearances),
    entry.first_seen,
    entry.last_seen,
    entry.seconds_on_screen.toFixed(3),
    entry.best_probability.toFixed(6),
    entry.mean_probability.toFixed(6),
    entry.best_frame,
    entry.spans.map((span) => `${span.start}-${span.end}`).join(' '),
  ];
}

/**
 * The summary CSV: one row per class, then one per marine group.
 * @param {string} name
 * @param {VideoAnswer} answer
 */
export function summaryCsv(name, answer) {
  const rows = [
    SUMMARY_COLUMNS,
    ...answer.summary.classes.map((entry) => summaryRow(name, 'class', entry)),
    ...answer.summary.groups.map((entry) => summaryRow(name, 'group', entry)),
  ];
  return `${rows.map((row) => row.map(csvField).join(',')).join('\n')}\n`;
}
