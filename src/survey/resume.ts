/**
 * A Camtrap DP package read back: `classify --format camtrap-dp --resume` skips the media the
 * package already holds and writes the package again with the old rows and the new ones. The old
 * rows are kept as they are (their observations keep the model and time that made them, and rows
 * a person edited, e.g. classificationMethod `human`, stay edited); only the deployments' time
 * spans and the package's coverage are recomputed over both.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { ClassifierError } from '../errors.ts';
import { boundingBox, type CamtrapPackage, observationLevelsOf } from './camtrap-dp.ts';
import type { Row, TableName } from './columns.ts';
import type { DeploymentRow } from './deployments.ts';

const TABLES: TableName[] = ['deployments', 'media', 'observations'];

/** The package in `dir`, or null when there is none yet (no datapackage.json). */
export async function readCamtrapPackage(dir: string): Promise<CamtrapPackage | null> {
  const text = await readFile(path.join(dir, 'datapackage.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const datapackage = JSON.parse(text) as Record<string, unknown>;
    const tables = {} as Record<TableName, Row<string>[]>;
    for (const table of TABLES) {
      const rows = parse(await readFile(path.join(dir, `${table}.csv`), 'utf8'), { columns: true, bom: true });
      // Empty cells read back as absent, as they were written.
      tables[table] = (rows as Record<string, string>[]).map((row) =>
        Object.fromEntries(Object.entries(row).filter(([, value]) => value !== '')),
      );
    }
    return { datapackage, tables };
  } catch (err) {
    throw new ClassifierError(
      'resume_mismatch',
      `${dir} holds a datapackage.json but its tables cannot be read back (${(err as Error).message}); choose a new --output.`,
    );
  }
}

/** How a medium is recognised across runs: its deployment and its path in the survey. */
export const mediaKeyOf = (deploymentID: unknown, filePath: unknown): string => `${deploymentID}/${filePath}`;

export function packageMediaKeys(pkg: CamtrapPackage): Set<string> {
  return new Set(pkg.tables.media.map((m) => mediaKeyOf(m.deploymentID, m.filePath)));
}

/**
 * What the new run is told about its deployments: the previous package's rows (coordinates, depth,
 * flags) under what the user gives now, for the deployments the new media belong to.
 */
export function deploymentsForResume(
  previous: CamtrapPackage,
  given: Map<string, DeploymentRow>,
  newDeployments: ReadonlySet<string>,
): Map<string, DeploymentRow> {
  const old = new Map(previous.tables.deployments.map((d) => [String(d.deploymentID), d as DeploymentRow]));
  const unmatched = [...given.keys()].filter((id) => !old.has(id) && !newDeployments.has(id));
  if (unmatched.length > 0)
    throw new ClassifierError(
      'invalid_deployments',
      `The deployments file names ${unmatched.join(', ')}, which match no folder of the survey.`,
    );
  const rows = new Map<string, DeploymentRow>();
  for (const id of newDeployments) {
    const user = Object.fromEntries(Object.entries(given.get(id) ?? {}).filter(([, v]) => v !== null));
    // The time span is recomputed over old and new media below, so it is not carried in.
    const { deploymentStart: _start, deploymentEnd: _end, ...kept } = old.get(id) ?? {};
    if (old.has(id) || given.has(id)) rows.set(id, { ...kept, ...user, deploymentID: id });
  }
  return rows;
}

const byTime = (a: unknown, b: unknown) => Date.parse(String(a)) - Date.parse(String(b));

/** The previous package with the new run's rows added; deployments' spans and the coverage over both. */
export function mergeCamtrapPackages(previous: CamtrapPackage, next: CamtrapPackage): CamtrapPackage {
  const media = [...previous.tables.media, ...next.tables.media];
  const observations = [...previous.tables.observations, ...next.tables.observations];
  const deployments = new Map<string, DeploymentRow>();
  const spans = new Map<string, string[]>();
  for (const row of [...previous.tables.deployments, ...next.tables.deployments]) {
    const id = String(row.deploymentID);
    deployments.set(id, { ...deployments.get(id), ...row });
    // Each run's span covers its videos to their end, which media.csv does not say: kept as bounds.
    spans.set(id, [...(spans.get(id) ?? []), row.deploymentStart, row.deploymentEnd].filter(Boolean).map(String));
  }
  for (const [id, row] of deployments) {
    const times = [
      ...(spans.get(id) ?? []),
      ...media.filter((m) => m.deploymentID === id).map((m) => m.timestamp),
      ...observations.filter((o) => o.deploymentID === id).flatMap((o) => [o.eventStart, o.eventEnd]),
    ]
      .filter(Boolean)
      .map(String);
    times.sort(byTime);
    row.deploymentStart = times[0] ?? row.deploymentStart;
    row.deploymentEnd = times.at(-1) ?? row.deploymentEnd;
    const flagged = [previous, next].some((p) =>
      p.tables.deployments.some((d) => d.deploymentID === id && String(d.timestampIssues) === 'true'),
    );
    if (flagged) row.timestampIssues = true;
  }
  const days = [...media.map((m) => m.timestamp), ...observations.map((o) => o.eventEnd)]
    .filter(Boolean)
    .map((time) => String(time).slice(0, 10))
    .sort();
  const taxa = new Map<string, unknown>();
  for (const p of [previous, next])
    for (const taxon of (p.datapackage.taxonomic as { scientificName: string }[] | undefined) ?? [])
      if (!taxa.has(taxon.scientificName)) taxa.set(taxon.scientificName, taxon);
  const rows = [...deployments.values()];
  return {
    datapackage: {
      ...next.datapackage,
      // The same package, grown: it keeps its id.
      id: previous.datapackage.id ?? next.datapackage.id,
      spatial: boundingBox(rows),
      temporal: { start: days[0], end: days.at(-1) },
      taxonomic: [...taxa.values()],
      project: {
        ...(next.datapackage.project as Record<string, unknown>),
        observationLevel: observationLevelsOf(observations),
      },
    },
    tables: {
      deployments: rows,
      media,
      observations,
    },
  };
}
