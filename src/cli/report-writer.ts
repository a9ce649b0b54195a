import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { ClassifierError } from '../errors.ts';
import { timelineEntryOf, type VideoResult } from '../engine/video/classify-video.ts';
import { csvColumns, csvRow, framePath, jsonRecord, tableLine, videoOfPath, type ImageReport } from './report-rows.ts';
import { isHttpUrl } from '../sources/input.ts';

export type OutputFormat = 'table' | 'json' | 'jsonl' | 'csv';

export interface ReportWriter {
  write(report: ImageReport): void;
  /**
   * A whole video at once, after it is done, so an interrupted video leaves no rows and --resume
   * redoes it: csv/jsonl/table one row per frame (and an error row when it stopped early), json one
   * record with its timeline and summary.
   */
  writeVideo(video: string, outcome: { result?: VideoResult; error?: ClassifierError }): void;
  close(): Promise<void>;
}

/** Paths compare by absolute path so a resumed run matches rows whichever way the folder was named; a frame's row counts for its video. */
export function reportKey(item: string): string {
  const video = videoOfPath(item);
  return isHttpUrl(video) ? video : path.resolve(video);
}

/** A video's record in JSON output: what it is, its timeline, its summary. */
export function videoRecord(
  video: string,
  outcome: { result?: VideoResult; error?: ClassifierError },
): Record<string, unknown> {
  const error = outcome.error ?? outcome.result?.error ?? null;
  const result = outcome.result;
  return {
    path: video,
    kind: 'video',
    status: error ? (result && result.frames.length > 0 ? 'partial' : 'error') : 'ok',
    ...(result
      ? {
          video: result.video,
          model: result.frames[0]?.result.model ?? null,
          timeline: result.frames.map(timelineEntryOf),
          summary: result.summary,
        }
      : {}),
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
  };
}

/** The per-frame reports of a video (and its error row when it stopped early or failed). */
export function videoReports(video: string, outcome: { result?: VideoResult; error?: ClassifierError }): ImageReport[] {
  const frames = (outcome.result?.frames ?? []).map((frame) => ({
    path: framePath(video, frame.timecode),
    result: frame.result,
    frame: { video, timecode: frame.timecode, seconds: Math.round(frame.seconds * 1000) / 1000 },
  }));
  const error = outcome.error ?? outcome.result?.error ?? undefined;
  return error ? [...frames, { path: video, error }] : frames;
}

/** A run killed mid-write leaves half a line; cut it so appended rows start on a fresh line. */
async function dropPartialLastLine(file: string): Promise<void> {
  const text = await readFile(file);
  if (text.length === 0 || text[text.length - 1] === 0x0a) return;
  await truncate(file, text.lastIndexOf(0x0a) + 1);
}

export interface PreviousReports {
  keys: Set<string>;
  /** For JSON output, which is one array and so is rewritten whole. */
  jsonRecords: unknown[];
}

/** What an existing output file already holds, for --resume. */
export async function readPreviousReports(
  file: string,
  format: OutputFormat,
  topK: number,
  customTopK = 0,
): Promise<PreviousReports> {
  const none: PreviousReports = { keys: new Set(), jsonRecords: [] };
  if (!(await stat(file).catch(() => null))) return none;
  if (format === 'table') {
    throw new ClassifierError(
      'resume_unsupported',
      '--resume needs --format csv, jsonl or json: a table cannot be read back.',
    );
  }
  if (format === 'json') {
    const records = JSON.parse((await readFile(file, 'utf8')) || '[]') as { path?: string }[];
    // A video's record holds all of it (written once the video is done).
    return { keys: new Set(records.map((r) => reportKey(String(r.path)))), jsonRecords: records };
  }
  await dropPartialLastLine(file);
  const text = await readFile(file, 'utf8');
  if (format === 'jsonl') {
    const keys = new Set<string>();
    for (const line of text.split('\n')) {
      if (line.trim()) keys.add(reportKey(String((JSON.parse(line) as { path?: string }).path)));
    }
    return { keys, jsonRecords: [] };
  }
  const rows = parseCsv(text, { relax_column_count: true }) as string[][];
  const expected = csvColumns(topK, customTopK);
  if (rows.length > 0 && rows[0].join(',') !== expected.join(',')) {
    throw new ClassifierError(
      'resume_mismatch',
      `${file} has other columns than this run would write (different --top-k or --classes?); resume with the same options or choose a new --output.`,
    );
  }
  return { keys: new Set(rows.slice(1).map((row) => reportKey(row[0]))), jsonRecords: [] };
}

export interface WriterOptions {
  format: OutputFormat;
  topK: number;
  /** Custom labels per image in the CSV (0: no class set, no custom columns). */
  customTopK?: number;
  /** null writes to `stdout`. */
  output: string | null;
  append: boolean;
  previous: PreviousReports;
  stdout: (line: string) => void;
}

export function openReportWriter(options: WriterOptions): ReportWriter {
  const { format, topK } = options;
  const customTopK = options.customTopK ?? 0;
  let stream: WriteStream | null = null;
  let emit: (text: string) => void;
  if (options.output) {
    const fileExists = options.previous.keys.size > 0 || options.previous.jsonRecords.length > 0;
    const append = options.append && format !== 'json' && fileExists;
    const s = createWriteStream(options.output, { flags: append ? 'a' : 'w' });
    stream = s;
    emit = (text) => void s.write(text);
    if (format === 'csv' && !append) emit(stringifyCsv([csvColumns(topK, customTopK)]));
  } else {
    emit = (text) => options.stdout(text.replace(/\n$/, ''));
    if (format === 'csv') emit(stringifyCsv([csvColumns(topK, customTopK)]));
  }

  let jsonCount = 0;
  if (format === 'json') {
    emit('[\n');
    for (const record of options.previous.jsonRecords) emit(`${jsonCount++ ? ',\n' : ''}${JSON.stringify(record)}`);
  }

  function write(report: ImageReport): void {
    if (format === 'csv') emit(stringifyCsv([csvRow(report, topK, customTopK)]));
    else if (format === 'jsonl') emit(`${JSON.stringify(jsonRecord(report))}\n`);
    else if (format === 'json') emit(`${jsonCount++ ? ',\n' : ''}${JSON.stringify(jsonRecord(report))}`);
    else emit(`${tableLine(report)}\n`);
  }

  return {
    write,
    writeVideo(video, outcome) {
      if (format === 'json') emit(`${jsonCount++ ? ',\n' : ''}${JSON.stringify(videoRecord(video, outcome))}`);
      else for (const report of videoReports(video, outcome)) write(report);
    },
    async close() {
      if (format === 'json') emit('\n]\n');
      if (stream) {
        const s = stream;
        await new Promise<void>((resolve, reject) => s.end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
    },
  };
}
