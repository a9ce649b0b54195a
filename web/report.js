// Report rows for the page's downloads. The CSV columns and row values mirror the CLI's
// src/cli/report-rows.ts (csvColumns / csvRow / jsonRecord) so a spreadsheet made from the page
// and one made from `marine-classifier classify --format csv` line up; test/web.test.ts checks
// that they agree. Pure functions, no DOM: usable in the browser and in Node.

/**
 * @typedef {{ group: string, scientific_name: string, taxon_rank: string, vernacular_name: string,
 *   taxon_id: string | null }} MarineInfo
 * @typedef {{ index: number, synset: string, label: string, probability: number, marine: MarineInfo | null }} Prediction
 * @typedef {{ label: string, similarity: number, score: number }} CustomLabelScore
 * @typedef {{ set: string, label: string, unknown: boolean, similarity: number, threshold: number,
 *   top: CustomLabelScore[] }} CustomAnswer
 * @typedef {{ answer: string, unknown: boolean, top1: Prediction | null, predictions: Prediction[],
 *   image: { width: number, height: number, format: string, taken_at: string | null, latitude: number | null, longitude: number | null },
 *   model: string, sha256: string, timings?: object, custom?: CustomAnswer }} ClassificationResult
 * @typedef {{ code: string, message: string, status?: number }} ErrorBody
 * @typedef {{ path: string, result?: ClassificationResult, error?: ErrorBody }} ImageReport
 */

/**
 * CSV columns for a given top-k, as the CLI writes them; with a class set (customTopK > 0) its
 * answer and best labels follow ImageNet's.
 * @param {number} topK
 * @param {number} [customTopK]
 */
export function csvColumns(topK, customTopK = 0) {
  const ranks = [];
  for (let k = 2; k <= topK; k++) ranks.push(`top${k}_label`, `top${k}_probability`);
  const custom = customTopK > 0 ? ['custom_set', 'custom_label', 'custom_similarity'] : [];
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

/** @param {number} value */
function round(value) {
  return value.toFixed(6);
}

/** @param {unknown} value */
function text(value) {
  return value === null || value === undefined ? '' : String(value);
}

/**
 * Degrees with 6 decimals, as the engine rounds them ("-3.724753"); empty when unknown.
 * @param {number | null | undefined} value
 */
function coordinate(value) {
  return typeof value === 'number' ? value.toFixed(6) : '';
}

/**
 * The flat row for one image; columns as in csvColumns(topK, customTopK).
 * @param {ImageReport} report
 * @param {number} topK
 * @param {number} [customTopK]
 */
export function csvRow(report, topK, customTopK = 0) {
  const r = report.result;
  const custom = [];
  if (customTopK > 0) {
    const c = r?.custom;
    custom.push(c?.set ?? '', c?.label ?? '', c ? round(c.similarity) : '');
    for (let k = 2; k <= customTopK; k++) {
      const label = c?.top[k - 1];
      custom.push(label?.label ?? '', label ? round(label.similarity) : '');
    }
  }
  const best = r?.predictions[0];
  const ranks = [];
  for (let k = 2; k <= topK; k++) {
    const p = r?.predictions[k - 1];
    ranks.push(p?.label ?? '', p ? round(p.probability) : '');
  }
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

/**
 * The JSON record for one image, as the CLI's --format json writes it.
 * @param {ImageReport} report
 */
export function jsonRecord(report) {
  if (report.result) return { path: report.path, status: 'ok', ...report.result };
  return { path: report.path, status: 'error', error: { code: report.error?.code, message: report.error?.message } };
}

/**
 * One CSV field, quoted when it holds a comma, a quote or a line break (as csv-stringify does).
 * @param {unknown} value
 */
export function csvField(value) {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A whole CSV document: header then one row per report, "\n" line ends like the CLI.
 * @param {ImageReport[]} reports
 * @param {number} topK
 * @param {number} [customTopK]
 */
export function toCsv(reports, topK, customTopK = 0) {
  const lines = [csvColumns(topK, customTopK).map(csvField).join(',')];
  for (const report of reports) lines.push(csvRow(report, topK, customTopK).map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * A JSON array document like the CLI's --format json.
 * @param {ImageReport[]} reports
 */
export function toJson(reports) {
  return `[\n${reports.map((r) => JSON.stringify(jsonRecord(r))).join(',\n')}\n]\n`;
}
