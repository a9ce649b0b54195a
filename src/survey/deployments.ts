/**
 * Deployments of a survey: which folder each photo belongs to, and where and when each
 * deployment was, from the user's deployments CSV or else the photos' own EXIF.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { ClassifierError } from '../errors.ts';
import { DEPLOYMENT_COLUMNS, type DeploymentColumn, type Row } from './columns.ts';

export type DeploymentRow = Row<DeploymentColumn>;

/**
 * The deployment a file belongs to: the first folder below the input folder that holds it, or the
 * input folder's own name for files directly in it (or named one by one).
 */
export function deploymentOf(file: string, roots: readonly string[]): { deploymentID: string; filePath: string } {
  const absolute = path.resolve(file);
  const root =
    roots
      .map((r) => path.resolve(r))
      .filter((r) => absolute.startsWith(r + path.sep))
      .sort((a, b) => b.length - a.length)[0] ?? path.dirname(absolute);
  const parts = path.relative(root, absolute).split(path.sep);
  const deploymentID = parts.length > 1 ? parts[0] : path.basename(root);
  // Relative to the survey folder (the pattern Camtrap DP requires: no leading '.', '/' or '~', no '..').
  return { deploymentID, filePath: parts.join('/') };
}

type ColumnType = 'string' | 'number' | 'integer' | 'boolean' | 'datetime';
const COLUMN_TYPES: Partial<Record<DeploymentColumn, ColumnType>> = {
  latitude: 'number',
  longitude: 'number',
  coordinateUncertainty: 'integer',
  deploymentStart: 'datetime',
  deploymentEnd: 'datetime',
  cameraDelay: 'integer',
  cameraHeight: 'number',
  cameraDepth: 'number',
  cameraTilt: 'integer',
  cameraHeading: 'integer',
  detectionDistance: 'number',
  timestampIssues: 'boolean',
  baitUse: 'boolean',
};
const RANGES: Partial<Record<DeploymentColumn, [number, number]>> = {
  latitude: [-90, 90],
  longitude: [-180, 180],
  coordinateUncertainty: [1, Number.POSITIVE_INFINITY],
  cameraDelay: [0, Number.POSITIVE_INFINITY],
  cameraHeight: [0, Number.POSITIVE_INFINITY],
  cameraDepth: [0, Number.POSITIVE_INFINITY],
  cameraTilt: [-90, 90],
  cameraHeading: [0, 360],
  detectionDistance: [0, Number.POSITIVE_INFINITY],
};
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})$/;

function badDeployments(file: string, message: string): ClassifierError {
  return new ClassifierError('invalid_deployments', `${file}: ${message}`);
}

/** One cell as text (a CSV cell, or a JSON value written out): checked against its column's type and range. */
function cellOf(file: string, where: string, column: DeploymentColumn, text: string): string | number | boolean | null {
  if (text === '') return null;
  const type = COLUMN_TYPES[column] ?? 'string';
  if (type === 'boolean') {
    if (text !== 'true' && text !== 'false') throw badDeployments(file, `${where}: '${text}' is not true or false`);
    return text === 'true';
  }
  if (type === 'datetime') {
    if (!DATETIME.test(text))
      throw badDeployments(file, `${where}: '${text}' is not a time like 2024-05-01T09:30:00+10:00`);
    return text;
  }
  if (type === 'string') return text;
  const value = Number(text);
  if (!Number.isFinite(value) || (type === 'integer' && !Number.isInteger(value)))
    throw badDeployments(file, `${where}: '${text}' is not ${type === 'integer' ? 'a whole number' : 'a number'}`);
  const [min, max] = RANGES[column] ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  if (value < min || value > max) throw badDeployments(file, `${where}: ${value} is outside ${min} to ${max}`);
  return value;
}

function checkColumns(file: string, header: readonly string[]): void {
  const known = new Set<string>(DEPLOYMENT_COLUMNS);
  const unknown = header.filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw badDeployments(
      file,
      `unknown columns ${unknown.join(', ')}; use the Camtrap DP deployments columns (${DEPLOYMENT_COLUMNS.join(', ')})`,
    );
}

/** Rows of cells as text, by column, each checked; `where(i)` names row i in a message. */
function deploymentTableOf(
  file: string,
  body: Record<string, string>[],
  where: (index: number) => string,
): Map<string, DeploymentRow> {
  const rows = new Map<string, DeploymentRow>();
  body.forEach((cells, index) => {
    checkColumns(file, Object.keys(cells));
    const row: DeploymentRow = {};
    for (const [column, text] of Object.entries(cells))
      row[column as DeploymentColumn] = cellOf(file, `${where(index)}, ${column}`, column as DeploymentColumn, text);
    const id = row.deploymentID;
    if (typeof id !== 'string') throw badDeployments(file, `${where(index)} has no deploymentID`);
    if (rows.has(id)) throw badDeployments(file, `deploymentID '${id}' appears twice`);
    rows.set(id, row);
  });
  return rows;
}

/** Deployments given as JSON objects in the deployments table's columns (the HTTP export's body), checked as the CSV is. */
export function deploymentsFromRows(
  rows: readonly Record<string, string | number | boolean | null>[],
  name = 'deployments',
): Map<string, DeploymentRow> {
  const cells = rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([column, value]) => [column, value === null ? '' : String(value)])),
  );
  return deploymentTableOf(name, cells, (index) => `row ${index + 1}`);
}

/** The user's deployments CSV, in the deployments table's own columns, checked cell by cell. */
export async function readDeploymentsCsv(file: string): Promise<Map<string, DeploymentRow>> {
  let records: string[][];
  try {
    records = parse(await readFile(file, 'utf8'), { bom: true, skip_empty_lines: true }) as string[][];
  } catch (err) {
    throw badDeployments(file, `cannot be read as CSV (${(err as Error).message})`);
  }
  const [header = [], ...body] = records;
  checkColumns(file, header);
  if (!header.includes('deploymentID')) throw badDeployments(file, 'has no deploymentID column');
  const cells = body.map((line) => Object.fromEntries(header.map((column, i) => [column, line[i] ?? ''])));
  return deploymentTableOf(file, cells, (index) => `line ${index + 2}`);
}
