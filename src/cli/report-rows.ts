import type { ClassificationResult } from '../engine/types.ts';
import type { ClassifierError } from '../errors.ts';

/** One image's outcome as the CLI reports it. */
export interface ImageReport {
  path: string;
  result?: ClassificationResult;
  error?: ClassifierError;
}

/** Degrees with 6 decimals, as the engine rounds them ("-3.724753"); empty when unknown. */
function coordinate(value: number | null | undefined): string {
  return typeof value === 'number' ? value.toFixed(6) : '';
}

/** CSV columns for a given top-k; the web page's CSV download uses the same list. */
export function csvColumns(topK: number): string[] {
  const ranks: string[] = [];
  for (let k = 2; k <= topK; k++) ranks.push(`top${k}_label`, `top${k}_probability`);
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
export function csvRow(report: ImageReport, topK: number): string[] {
  const r = report.result;
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
  if (report.result) return { path: report.path, status: 'ok', ...report.result };
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
  const head = r.unknown
    ? `unknown (best: ${best?.label} ${best ? percent(best.probability) : ''})`
    : `${best.label} ${percent(best.probability)}${marine}`;
  const rest = r.predictions
    .slice(1)
    .map((p) => `${p.label} ${percent(p.probability)}`)
    .join(', ');
  return `${report.path}\t${head}${rest ? `\t| ${rest}` : ''}`;
}
