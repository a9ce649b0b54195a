import type { ClassificationResult } from '../engine/types.ts';
import type { ClassifierError } from '../errors.ts';

/** One image's (or one video frame's) outcome as the CLI reports it. */
export interface ImageReport {
  /** The image, or for a video frame `video.mp4#t=hh:mm:ss.mmm`. */
  path: string;
  result?: ClassificationResult;
  error?: ClassifierError;
  /** For a video frame: which video and when. */
  frame?: { video: string; timecode: string; seconds: number };
}

/** "dive.mp4#t=00:01:02.500": a frame's row names its video and time (a W3C media fragment, in hh:mm:ss.mmm). */
export function framePath(video: string, timecode: string): string {
  return `${video}#t=${timecode}`;
}

/** The video a frame row's path names (the path itself for anything else). */
export function videoOfPath(rowPath: string): string {
  return rowPath.replace(/#t=\d+:\d{2}:\d{2}\.\d{3}$/, '');
}

/** Degrees with 6 decimals, as the engine rounds them ("-3.724753"); empty when unknown. */
function coordinate(value: number | null | undefined): string {
  return typeof value === 'number' ? value.toFixed(6) : '';
}

/** CSV columns for a given top-k; the web page's CSV download uses the same list. */
export function csvColumns(topK: number, customTopK = 0): string[] {
  const ranks: string[] = [];
  for (let k = 2; k <= topK; k++) ranks.push(`top${k}_label`, `top${k}_probability`);
  // With a class set: its answer and best labels (cosine similarities), after ImageNet's.
  const custom: string[] = customTopK > 0 ? ['custom_set', 'custom_label', 'custom_similarity'] : [];
  for (let k = 2; k <= customTopK; k++) custom.push(`custom_top${k}_label`, `custom_top${k}_similarity`);
  return [
    'path',
    'status',
    'answer',
    'top1_index',
    'top1_synset',
    'top1_label',
    'top1_probability',
    'marine_group',
    'scientific_name',
    ...ranks,
    ...custom,
    'width',
    'height',
    'taken_at',
    'latitude',
    'longitude',
    'sha256',
    'model',
    'error_code',
    'error',
  ];
}

function round(value: number): string {
  return value.toFixed(6);
}

/** The flat CSV row for one image; columns as in csvColumns(topK). */
export function csvRow(report: ImageReport, topK: number, customTopK = 0): string[] {
  const r = report.result;
  const custom: string[] = [];
  if (customTopK > 0) {
    const c = r?.custom;
    custom.push(c?.set ?? '', c?.label ?? '', c ? round(c.similarity) : '');
    for (let k = 2; k <= customTopK; k++) {
      const label = c?.top[k - 1];
      custom.push(label?.label ?? '', label ? round(label.similarity) : '');
    }
  }
  const best = r?.predictions[0];
  const ranks: string[] = [];
  for (let k = 2; k <= topK; k++) {
    const p = r?.predictions[k - 1];
    ranks.push(p?.label ?? '', p ? round(p.probability) : '');
  }
  const text = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  return [
    report.path,
    r ? 'ok' : 'error',
    text(r?.answer),
    text(best?.index),
    text(best?.synset),
    text(best?.label),
    best ? round(best.probability) : '',
    text(best?.marine?.group),
    text(best?.marine?.scientific_name),
    ...ranks,
    ...custom,
    text(r?.image.width),
    text(r?.image.height),
    text(r?.image.taken_at),
    coordinate(r?.image.latitude),
    coordinate(r?.image.longitude),
    text(r?.sha256),
    text(r?.model),
    text(report.error?.code),
    text(report.error?.message),
  ];
}

/** The JSON/JSONL record for one image. */
export function jsonRecord(report: ImageReport): Record<string, unknown> {
  if (report.result)
    return { path: report.path, status: 'ok', ...(report.frame ? { frame: report.frame } : {}), ...report.result };
  return { path: report.path, status: 'error', error: { code: report.error?.code, message: report.error?.message } };
}

function percent(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

/** A line a person reads in a terminal. */
export function tableLine(report: ImageReport): string {
  if (!report.result) return `${report.path}\tERROR ${report.error?.code}: ${report.error?.message}`;
  const r = report.result;
  const best = r.predictions[0];
  const marine = best?.marine ? `  [marine: ${best.marine.group}, ${best.marine.scientific_name}]` : '';
  if (r.custom) {
    const c = r.custom;
    const others = c.top
      .slice(1)
      .map((t) => `${t.label} ${t.similarity.toFixed(2)}`)
      .join(', ');
    const said = c.unknown
      ? `unknown (best: ${c.top[0]?.label} ${c.similarity.toFixed(2)})`
      : `${c.label} ${c.similarity.toFixed(2)}`;
    return `${report.path}\t${said}${others ? ` | ${others}` : ''}\t[ImageNet: ${best?.label} ${best ? percent(best.probability) : ''}]`;
  }
  const head = r.unknown
    ? `unknown (best: ${best?.label} ${best ? percent(best.probability) : ''})`
    : `${best.label} ${percent(best.probability)}${marine}`;
  const rest = r.predictions
    .slice(1)
    .map((p) => `${p.label} ${percent(p.probability)}`)
    .join(', ');
  return `${report.path}\t${head}${rest ? `\t| ${rest}` : ''}`;
}
