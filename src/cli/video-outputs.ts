/** What `classify` writes about videos besides the rows: the summary CSV (--summary) and best-frame JPEGs (--thumbnails). */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import type { VideoLimits, VideoResult } from '../engine/video/classify-video.ts';
import type { SummaryEntry } from '../engine/video/summary.ts';
import { frameJpeg } from '../engine/video/thumbnail.ts';

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

function summaryRow(video: string, level: 'class' | 'group', entry: SummaryEntry): string[] {
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

export interface SummaryWriter {
  write(video: string, result: VideoResult): void;
  close(): Promise<void>;
}

/** One row per class and per marine group of each video; with --resume, appended to what is there. */
export async function openSummaryWriter(file: string, append: boolean): Promise<SummaryWriter> {
  const exists = append && ((await stat(file).catch(() => null))?.size ?? 0) > 0;
  const stream: WriteStream = createWriteStream(file, { flags: exists ? 'a' : 'w' });
  if (!exists) stream.write(stringifyCsv([SUMMARY_COLUMNS]));
  return {
    write(video, result) {
      const rows = [
        ...result.summary.classes.map((entry) => summaryRow(video, 'class', entry)),
        ...result.summary.groups.map((entry) => summaryRow(video, 'group', entry)),
      ];
      if (rows.length > 0) stream.write(stringifyCsv(rows));
    },
    close: () => new Promise((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve()))),
  };
}

/** A label as part of a file name: letters, digits, '-' and '_' only. */
function fileSafe(text: string): string {
  return text.replace(/[^\p{L}\p{N}_-]+/gu, '_').replace(/^_+|_+$/g, '') || 'frame';
}

/** The best frame of each class in the summary as DIR/<video>__<label>__<hh-mm-ss.mmm>.jpg; returns the files. */
export async function writeThumbnails(
  dir: string,
  video: string,
  result: VideoResult,
  limits: Partial<VideoLimits> & { maxPixels: number },
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const entry of result.summary.classes) {
    const name = `${fileSafe(path.parse(video).name)}__${fileSafe(entry.label)}__${entry.best_frame.replaceAll(':', '-')}.jpg`;
    const file = path.join(dir, name);
    await writeFile(file, await frameJpeg(video, entry.best_frame_seconds, limits));
    written.push(file);
  }
  return written;
}
