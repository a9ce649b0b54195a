/**
 * A classified survey as a Camtrap DP 1.0.2 package: datapackage.json and the deployments,
 * media and observations tables, each machine classification marked as such with its model and
 * probability. The rules the standard sets that a run can break (coordinates, contributors) are
 * checked here, so an invalid package is never written silently.
 */
import { randomUUID, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { ClassificationResult } from '../engine/types.ts';
import { ClassifierError } from '../errors.ts';
import {
  DEPLOYMENT_COLUMNS,
  MEDIA_COLUMNS,
  OBSERVATION_COLUMNS,
  PROFILE_URL,
  type Row,
  type TableName,
  tableSchemaUrl,
} from './columns.ts';
import type { DeploymentRow } from './deployments.ts';
import { type MachineObservation, observationOf } from './observation.ts';
import { mediaTimestampOf, type SurveyTime, timestampPlus, videoTimestampOf } from './timestamps.ts';
import { type SurveyVideo, videoEvents, videoSeconds } from './video-events.ts';

export interface SurveyMedia {
  deploymentID: string;
  /** Relative to the survey folder, '/'-separated. */
  filePath: string;
  /** Sniffed format, e.g. 'jpeg' (a video: 'mp4', 'mov', 'matroska', 'webm', 'avi', 'flv'). */
  format: string | null;
  /** The file's modification time, used when the photo has no capture time (a video: no creation_time). */
  modified: Date;
  result?: ClassificationResult;
  /** A video: its observations are events, one per span of its summary. */
  kind?: 'video';
  /** The video's classification; absent when it failed (an `unclassified` observation, as for a photo). */
  video?: SurveyVideo;
  /** What makes the media id unique when filePath may repeat (an HTTP job's uploads named alike); default deploymentID/filePath. */
  key?: string;
}

export interface SurveyMetadata {
  projectTitle: string;
  /** "Name <email>" or "Name"; the first is the contact. */
  contributors: string[];
  samplingDesign: string;
  captureMethod: 'activityDetection' | 'timeLapse';
  /** The cameras' UTC offset, e.g. '+10:00'; null when not known (timestamps are then flagged). */
  utcOffset: string | null;
  /** Deployments as the user described them, by id. */
  deployments: Map<string, DeploymentRow>;
  /** The class set the run used, if any, for classifiedBy. */
  classSet?: string | null;
  now?: Date;
}

export interface CamtrapPackage {
  datapackage: Record<string, unknown>;
  tables: Record<TableName, Row<string>[]>;
}

const MEDIATYPES: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heic: 'image/heic',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  matroska: 'video/x-matroska',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  flv: 'video/x-flv',
};

/** The media type of a sniffed format; a file whose format is not known is typed by its kind. */
function mediatypeOf(media: SurveyMedia): string {
  return MEDIATYPES[media.format ?? ''] ?? (media.kind === 'video' ? 'video/mp4' : 'image/jpeg');
}

/** A stable id from the file's place in the survey, so a rerun gives the same ids. */
function mediaIdOf(media: SurveyMedia): string {
  return createHash('sha256')
    .update(media.key ?? `${media.deploymentID}/${media.filePath}`)
    .digest('hex')
    .slice(0, 16);
}

function contributorOf(text: string, index: number): Record<string, string> {
  const match = /^\s*(.*?)\s*<([^>]+)>\s*$/.exec(text);
  const title = match ? match[1] : text.trim();
  return { title, ...(match ? { email: match[2] } : {}), role: index === 0 ? 'contact' : 'contributor' };
}

interface MediaRecord {
  media: SurveyMedia;
  id: string;
  time: SurveyTime;
  /** When the media ends: a video's timestamp plus its length (a photo: its timestamp). */
  until: string;
}

function deploymentRows(records: MediaRecord[], given: Map<string, DeploymentRow>): DeploymentRow[] {
  const byDeployment = new Map<string, MediaRecord[]>();
  for (const record of records) {
    const list = byDeployment.get(record.media.deploymentID) ?? [];
    list.push(record);
    byDeployment.set(record.media.deploymentID, list);
  }
  const unmatched = [...given.keys()].filter((id) => !byDeployment.has(id));
  if (unmatched.length > 0)
    throw new ClassifierError(
      'invalid_deployments',
      `The deployments file names ${unmatched.join(', ')}, which match no folder of the survey (${[...byDeployment.keys()].join(', ')}).`,
    );
  return [...byDeployment].map(([id, list]) => {
    const row: DeploymentRow = { ...given.get(id), deploymentID: id };
    const gps = list.map((r) => r.media.result?.image).filter((i) => i && i.latitude !== null && i.longitude !== null);
    if (row.latitude == null || row.longitude == null) {
      if (gps.length === 0)
        throw new ClassifierError(
          'survey_incomplete',
          `Deployment '${id}' has no coordinates: none of its photos has GPS in EXIF (videos are not read for GPS). Give its latitude and longitude in a --deployments file.`,
        );
      row.latitude = round6(gps.reduce((sum, i) => sum + (i?.latitude ?? 0), 0) / gps.length);
      row.longitude = round6(gps.reduce((sum, i) => sum + (i?.longitude ?? 0), 0) / gps.length);
    }
    const times = list.flatMap((r) => [r.time.timestamp, r.until]).sort((a, b) => Date.parse(a) - Date.parse(b));
    row.deploymentStart ??= times[0];
    row.deploymentEnd ??= times.at(-1);
    if (list.some((r) => r.time.issue)) row.timestampIssues = true;
    return row;
  });
}

const round6 = (value: number) => Math.round(value * 1e6) / 1e6;

interface ObservationRecord {
  row: Row<string>;
  observation: MachineObservation;
}

/** A photo's one `media` observation; a video's `event` observations (or one `unclassified` when it failed). */
function observationRows(record: MediaRecord, classifiedBy: string, classifiedAt: string): ObservationRecord[] {
  const { media } = record;
  const classified = Boolean(media.result ?? media.video);
  const machine = {
    classificationMethod: classified ? 'machine' : null,
    classifiedBy: classified ? classifiedBy : null,
    classificationTimestamp: classified ? classifiedAt : null,
  };
  if (media.video) return videoEvents(record.id, media.deploymentID, record.time.timestamp, media.video, machine);
  const observation = observationOf(media.result);
  const row = {
    observationID: `${record.id}-1`,
    deploymentID: media.deploymentID,
    mediaID: record.id,
    eventStart: record.time.timestamp,
    eventEnd: record.time.timestamp,
    observationLevel: 'media',
    observationType: observation.observationType,
    scientificName: observation.scientificName,
    ...machine,
    classificationProbability: observation.probability === null ? null : Number(observation.probability.toFixed(6)),
  };
  return [{ row, observation }];
}

function taxonomicOf(observations: ObservationRecord[]): Record<string, unknown>[] {
  const taxa = new Map<string, Record<string, unknown>>();
  for (const { observation } of observations) {
    const marine = observation.marine;
    if (!marine || taxa.has(marine.scientific_name)) continue;
    taxa.set(marine.scientific_name, {
      scientificName: marine.scientific_name,
      ...(marine.taxon_id ? { taxonID: marine.taxon_id } : {}),
      taxonRank: marine.taxon_rank,
      vernacularNames: { eng: marine.vernacular_name },
    });
  }
  return [...taxa.values()];
}

/** GeoJSON box around the deployments (the package's `spatial`). */
export function boundingBox(deployments: DeploymentRow[]): Record<string, unknown> {
  const lats = deployments.map((d) => Number(d.latitude));
  const lons = deployments.map((d) => Number(d.longitude));
  const [s, n, w, e] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  return {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}

/**
 * What the standard requires and photos cannot say, checked before any work (the CLI checks it
 * before classifying). `how` names the way to give each: CLI flags or HTTP parameters.
 */
export function checkSurveyMetadata(
  meta: Pick<SurveyMetadata, 'contributors' | 'projectTitle'>,
  how: { contributor: string; projectTitle: string } = {
    contributor: '--contributor "Name <email>"',
    projectTitle: '--project-title',
  },
): void {
  if (meta.contributors.length === 0)
    throw new ClassifierError(
      'survey_incomplete',
      `A Camtrap DP package needs a contributor: give ${how.contributor}.`,
    );
  if (!meta.projectTitle.trim())
    throw new ClassifierError(
      'survey_incomplete',
      `A Camtrap DP package needs a project title: give ${how.projectTitle}.`,
    );
}

/** The package for `media`, or the ClassifierError that says what the standard still needs. */
export function buildCamtrapPackage(media: SurveyMedia[], meta: SurveyMetadata): CamtrapPackage {
  checkSurveyMetadata(meta);
  if (media.length === 0) throw new ClassifierError('survey_incomplete', 'The survey has no media to package.');
  const now = meta.now ?? new Date();
  const classifiedAt = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const records = media.map((m): MediaRecord => {
    const time =
      m.kind === 'video'
        ? videoTimestampOf(m.video?.video.creation_time ?? null, m.modified, meta.utcOffset)
        : mediaTimestampOf(m.result?.image.taken_at ?? null, m.modified, meta.utcOffset);
    const until = m.video ? timestampPlus(time.timestamp, videoSeconds(m.video), 'up') : time.timestamp;
    return { media: m, id: mediaIdOf(m), time, until };
  });
  const deployments = deploymentRows(records, meta.deployments);
  const model = media.map((m) => m.result?.model ?? m.video?.model).find(Boolean) ?? 'unknown model';
  // A video classified with a class set names it in its frames (its spans are the set's labels).
  const classSet =
    meta.classSet ?? media.map((m) => m.video?.timeline.find((f) => f.custom)?.custom?.set).find(Boolean);
  const classifiedBy = classSet
    ? `${model} + class set ${classSet} (Marine Classifier)`
    : `${model} (Marine Classifier)`;
  const mediaRows = records.map(({ media: m, id, time }) => ({
    mediaID: id,
    deploymentID: m.deploymentID,
    captureMethod: meta.captureMethod,
    timestamp: time.timestamp,
    filePath: m.filePath,
    filePublic: false,
    fileName: path.posix.basename(m.filePath),
    fileMediatype: mediatypeOf(m),
  }));
  const observations = records.flatMap((r) => observationRows(r, classifiedBy, classifiedAt));
  const times = records.flatMap((r) => [r.time.timestamp.slice(0, 10), r.until.slice(0, 10)]).sort();
  const resource = (name: TableName) => ({
    name,
    path: `${name}.csv`,
    profile: 'tabular-data-resource',
    format: 'csv',
    mediatype: 'text/csv',
    encoding: 'utf-8',
    schema: tableSchemaUrl(name),
  });
  return {
    datapackage: {
      resources: [resource('deployments'), resource('media'), resource('observations')],
      profile: PROFILE_URL,
      name:
        meta.projectTitle
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-|-$/g, '') || 'survey',
      id: randomUUID(),
      created: classifiedAt,
      title: meta.projectTitle,
      contributors: meta.contributors.map(contributorOf),
      sources: [{ title: `Marine Classifier, machine classification with ${model}` }],
      project: {
        title: meta.projectTitle,
        samplingDesign: meta.samplingDesign,
        captureMethod: [meta.captureMethod],
        individualAnimals: false,
        observationLevel: observationLevelsOf(observations.map((o) => o.row)),
      },
      spatial: boundingBox(deployments),
      temporal: { start: times[0], end: times.at(-1) },
      taxonomic: taxonomicOf(observations),
    },
    tables: {
      deployments,
      media: mediaRows,
      observations: observations.map((o) => o.row),
    },
  };
}

/** The package's `project.observationLevel`: the levels its observations use (media for photos, event for videos). */
export function observationLevelsOf(observations: Row<string>[]): string[] {
  const levels = new Set(observations.map((o) => String(o.observationLevel)));
  return ['media', 'event'].filter((level) => levels.has(level));
}

const COLUMNS: Record<TableName, readonly string[]> = {
  deployments: DEPLOYMENT_COLUMNS,
  media: MEDIA_COLUMNS,
  observations: OBSERVATION_COLUMNS,
};

function csvOf(table: TableName, rows: Row<string>[]): string {
  const columns = COLUMNS[table];
  const cell = (value: unknown) => (value === null || value === undefined ? '' : String(value));
  return stringify([columns as string[], ...rows.map((row) => columns.map((c) => cell(row[c])))]);
}

/** The package's files by name: the three CSV tables and datapackage.json. */
export function camtrapFilesOf(pkg: CamtrapPackage): Record<string, string> {
  const files: Record<string, string> = {};
  for (const table of Object.keys(COLUMNS) as TableName[]) files[`${table}.csv`] = csvOf(table, pkg.tables[table]);
  files['datapackage.json'] = `${JSON.stringify(pkg.datapackage, null, 2)}\n`;
  return files;
}

/** Writes the package into `dir` (created if needed): datapackage.json and the three CSV files. */
export async function writeCamtrapPackage(dir: string, pkg: CamtrapPackage): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(camtrapFilesOf(pkg))) await writeFile(path.join(dir, name), text);
}
