// Videos in the survey exports: `classify --format camtrap-dp|dwc-a` over a folder of two
// deployments, photos in one and a clip in the other. The clip is one media row; its observations
// are `event` observations, one per span of its summary, at absolute times (its creation_time plus
// the span's seconds); the package validates against ../shared/camtrap-dp, the Darwin Core Archive
// has one occurrence per animal observation (events included), --resume skips the video, and a
// video without creation_time falls back to the file's modification time, flagged.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { strFromU8, unzipSync } from 'fflate';
import { camtrapDpProblems } from './helpers/camtrap-dp-validator.ts';
import { REPO_ROOT, TEST_MODEL, sharedPath } from './helpers/shared.ts';
import { slideshowClip } from './helpers/survey-clips.ts';

const run = promisify(execFile);

async function classify(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'classify', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, MODEL_PATH: TEST_MODEL } },
    );
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

const rows = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
const META = ['--contributor', 'Jane Diver <jane@example.org>', '--project-title', 'Reef survey 2026'];

let survey: string;
let deployments: string;
// The slideshow was filmed from 01:30:00 UTC, which is 11:30:00 at +10:00.
const CREATED = '2026-03-01T01:30:00Z';

before(async () => {
  survey = mkdtempSync(path.join(tmpdir(), 'mc-survey-video-'));
  mkdirSync(path.join(survey, 'photos'));
  mkdirSync(path.join(survey, 'dive'));
  for (const name of ['DSCN0010.jpg', 'DSCN0012.jpg'])
    copyFileSync(sharedPath('images', 'camera', 'jpg', 'gps', name), path.join(survey, 'photos', name));
  await slideshowClip(path.join(survey, 'dive', 'slideshow.mp4'), CREATED);
  deployments = path.join(mkdtempSync(path.join(tmpdir(), 'mc-deployments-')), 'deployments.csv');
  writeFileSync(deployments, 'deploymentID,latitude,longitude,cameraDepth\ndive,-16.2864,145.7731,12\n');
});

test('photos and a video: a valid package, the video one media row with an event per span at absolute times; its DwC-A has them as occurrences', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-survey-video-out-'));
  const out = path.join(dir, 'package');
  const zip = path.join(dir, 'survey.zip');
  const common = [survey, ...META, '--deployments', deployments, '--utc-offset', '+10:00', '--quiet'];
  const first = await classify([...common, '--format', 'camtrap-dp', '--output', out]);
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stderr, /left out/);
  assert.deepEqual(camtrapDpProblems(out), []);

  const media = rows(path.join(out, 'media.csv'));
  assert.equal(media.length, 3);
  const video = media.find((m) => m.filePath === 'dive/slideshow.mp4');
  assert.ok(video, JSON.stringify(media));
  assert.equal(video.fileMediatype, 'video/mp4');
  assert.equal(video.deploymentID, 'dive');
  assert.equal(video.timestamp, '2026-03-01T11:30:00+10:00', 'creation_time is UTC, written at --utc-offset');

  const observations = rows(path.join(out, 'observations.csv'));
  const events = observations.filter((o) => o.mediaID === video.mediaID);
  assert.ok(
    events.every((o) => o.observationLevel === 'event' && o.eventID && o.classificationMethod === 'machine'),
    JSON.stringify(events),
  );
  assert.ok(events.every((o) => /^mobilenetv2-12-int8/.test(o.classifiedBy)));
  // The shark is on screen from 2 to 5 s (sampled every second): one event, 11:30:02 to 11:30:05.
  const shark = events.filter((o) => o.scientificName === 'Carcharodon carcharias');
  assert.equal(shark.length, 1, JSON.stringify(events));
  assert.equal(shark[0].observationType, 'animal');
  assert.equal(shark[0].eventStart, '2026-03-01T11:30:02+10:00');
  assert.equal(shark[0].eventEnd, '2026-03-01T11:30:05+10:00');
  assert.ok(Number(shark[0].classificationProbability) > 0.5);
  // The cat before and after it: two more events, and nothing outside the clip's 6 s.
  assert.deepEqual(
    events.map((o) => [o.eventStart.slice(11, 19), o.eventEnd.slice(11, 19)]),
    [
      ['11:30:00', '11:30:02'],
      ['11:30:02', '11:30:05'],
      ['11:30:05', '11:30:06'],
    ],
  );
  const photos = observations.filter((o) => o.mediaID !== video.mediaID);
  assert.ok(photos.length === 2 && photos.every((o) => o.observationLevel === 'media'));

  const byId = Object.fromEntries(rows(path.join(out, 'deployments.csv')).map((d) => [d.deploymentID, d]));
  assert.equal(byId.dive.deploymentStart, '2026-03-01T11:30:00+10:00');
  assert.equal(byId.dive.deploymentEnd, '2026-03-01T11:30:06+10:00', 'the deployment covers the end of the video');
  assert.equal(byId.dive.timestampIssues, '', 'a creation_time is a real time: not flagged');
  const datapackage = JSON.parse(readFileSync(path.join(out, 'datapackage.json'), 'utf8'));
  assert.deepEqual(datapackage.project.observationLevel, ['media', 'event']);
  assert.equal(datapackage.temporal.end, '2026-03-01');
  assert.ok(
    datapackage.taxonomic.some((t: { scientificName: string }) => t.scientificName === 'Carcharodon carcharias'),
  );

  // The Darwin Core Archive of the same run: one occurrence per animal observation, events included.
  const dwc = await classify([...common, '--format', 'dwc-a', '--output', zip]);
  assert.equal(dwc.code, 0, dwc.stderr);
  const [header, ...lines] = strFromU8(unzipSync(readFileSync(zip))['occurrence.txt'])
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'));
  const occurrences = lines.map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i]])));
  assert.equal(occurrences.length, observations.filter((o) => o.observationType === 'animal').length);
  const sharkOccurrence = occurrences.find((o) => o.scientificName === 'Carcharodon carcharias');
  assert.ok(sharkOccurrence, JSON.stringify(occurrences));
  assert.equal(sharkOccurrence.type, 'MovingImage');
  assert.equal(sharkOccurrence.eventDate, '2026-03-01T11:30:02+10:00/2026-03-01T11:30:05+10:00');
  assert.equal(sharkOccurrence.eventID, shark[0].eventID);
  assert.equal(sharkOccurrence.associatedMedia, 'dive/slideshow.mp4');
  assert.equal(sharkOccurrence.basisOfRecord, 'MachineObservation');
  assert.equal(sharkOccurrence.decimalLatitude, '-16.2864');

  // --resume over the package: a new photo is added, the video is not classified again.
  copyFileSync(
    sharedPath('images', 'camera', 'jpg', 'gps', 'DSCN0021.jpg'),
    path.join(survey, 'photos', 'DSCN0021.jpg'),
  );
  try {
    const again = await classify([
      ...common.filter((a) => a !== '--quiet'),
      '--format',
      'camtrap-dp',
      '--output',
      out,
      '--resume',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /3 already in/);
    assert.doesNotMatch(again.stderr, /frames of/, 'the video is not decoded again');
  } finally {
    // Other tests use the survey as it was.
    rmSync(path.join(survey, 'photos', 'DSCN0021.jpg'));
  }
  assert.deepEqual(camtrapDpProblems(out), []);
  assert.equal(rows(path.join(out, 'media.csv')).length, 4);
  const resumed = rows(path.join(out, 'observations.csv'));
  assert.deepEqual(
    resumed.filter((o) => o.mediaID === video.mediaID),
    events,
    'the video rows are kept as they were',
  );
  const dive = rows(path.join(out, 'deployments.csv')).find((d) => d.deploymentID === 'dive');
  assert.equal(dive?.deploymentEnd, '2026-03-01T11:30:06+10:00', 'still covering the end of the video');
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'datapackage.json'), 'utf8')).project.observationLevel, [
    'media',
    'event',
  ]);
});

test('a video without creation_time: the file modification time stands in (in UTC, whatever --utc-offset), flagged', async () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'mc-survey-nodate-'));
  mkdirSync(path.join(folder, 'dive'));
  const clip = await slideshowClip(path.join(folder, 'dive', 'stripped.mp4'), null);
  const modified = new Date('2026-02-01T00:00:00Z');
  utimesSync(clip, modified, modified);
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mc-survey-nodate-out-')), 'package');
  const result = await classify([
    folder,
    ...META,
    '--deployments',
    deployments,
    '--utc-offset',
    '+10:00',
    '--format',
    'camtrap-dp',
    '--output',
    out,
    '--quiet',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(camtrapDpProblems(out), []);
  const [video] = rows(path.join(out, 'media.csv'));
  assert.equal(video.timestamp, '2026-02-01T00:00:00Z');
  const [dive] = rows(path.join(out, 'deployments.csv'));
  assert.equal(dive.timestampIssues, 'true');
  assert.equal(dive.deploymentEnd, '2026-02-01T00:00:06Z');
  const shark = rows(path.join(out, 'observations.csv')).find((o) => o.scientificName === 'Carcharodon carcharias');
  assert.equal(shark?.eventStart, '2026-02-01T00:00:02Z');
  assert.equal(shark?.eventEnd, '2026-02-01T00:00:05Z');
});

test('the shared jellyfish clip (no creation_time) as a deployment: a valid package with a jellyfish event', async () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'mc-survey-jelly-'));
  mkdirSync(path.join(folder, 'jelly'));
  copyFileSync(sharedPath('videos', 'pealayer-jellyfish.mp4'), path.join(folder, 'jelly', 'jellyfish.mp4'));
  const rowsFile = path.join(folder, 'deployments.csv');
  writeFileSync(rowsFile, 'deploymentID,latitude,longitude\njelly,36.6,-121.9\n');
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mc-survey-jelly-out-')), 'package');
  const result = await classify([
    path.join(folder, 'jelly'),
    ...META,
    '--deployments',
    rowsFile,
    '--format',
    'camtrap-dp',
    '--output',
    out,
    '--quiet',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(camtrapDpProblems(out), []);
  const [video] = rows(path.join(out, 'media.csv'));
  assert.equal(video.fileMediatype, 'video/mp4');
  const events = rows(path.join(out, 'observations.csv'));
  assert.ok(events.length > 0 && events.every((o) => o.observationLevel === 'event' && o.mediaID === video.mediaID));
  const jelly = events.find((o) => o.observationType === 'animal' && o.scientificName);
  assert.ok(jelly, JSON.stringify(events));
  const seconds = (time: string) => (Date.parse(time) - Date.parse(video.timestamp)) / 1000;
  for (const o of events) assert.ok(seconds(o.eventStart) >= 0 && seconds(o.eventEnd) <= 11, JSON.stringify(o));
});
