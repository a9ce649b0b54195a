// GET and POST /jobs/{id}/export: a batch job over photos in two deployment folders below
// IMAGE_ROOT, classified by the real model on a real server, downloaded as a Camtrap DP package
// (validated offline against the shared schemas) and as a Darwin Core Archive; and the clear
// errors: a job still running, no contributor, no coordinates, bad deployment rows, an unknown job.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { XMLParser } from 'fast-xml-parser';
import { strFromU8, unzipSync } from 'fflate';
import type { RunningService } from '../src/http/service.ts';
import type { JobRecord } from '../src/queue/types.ts';
import { camtrapDpProblems } from './helpers/camtrap-dp-validator.ts';
import { expectError, json, pollJob, postJson, sharedPath, startTestService } from './helpers/http-fixtures.ts';

const SHARKS = ['n01484850_great_white_shark.JPEG', 'n01491361_tiger_shark.JPEG', 'n01494475_hammerhead.JPEG'];
const GPS = ['DSCN0010.jpg', 'DSCN0012.jpg'];
const META = { contributor: ['Jane Diver <jane@example.org>'], project_title: 'Reef survey 2026' };
const REEF_A = {
  deploymentID: 'reef-a',
  latitude: -16.2864,
  longitude: 145.7731,
  cameraDepth: 12.5,
  habitat: 'coral reef, outer slope',
};

let service: RunningService;
let jobId: string;

/** IMAGE_ROOT with two deployments: reef-a (ImageNet sharks, no GPS) and gps-b (camera photos with GPS). */
function surveyRoot(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'mc-http-survey-'));
  for (const [folder, names, from] of [
    ['reef-a', SHARKS, sharedPath('images', 'imagenet-marine')],
    ['gps-b', GPS, sharedPath('images', 'camera', 'jpg', 'gps')],
  ] as const) {
    mkdirSync(path.join(root, folder));
    for (const name of names) copyFileSync(path.join(from, name), path.join(root, folder, name));
  }
  return root;
}

const images = [...SHARKS.map((n) => `reef-a/${n}`), ...GPS.map((n) => `gps-b/${n}`)].map((p) => ({ image_path: p }));
const exportUrl = (id: string, query = '') => `${service.url}/jobs/${encodeURIComponent(id)}/export${query}`;

before(async () => {
  service = await startTestService({ imageRoot: surveyRoot(), jobConcurrency: 1 });
  const accepted = await json<{ id: string }>(postJson(`${service.url}/jobs`, { images }), 202);
  jobId = accepted.id;
  // A second job queued behind the first (one image at a time): still waiting when asked for its export.
  const waiting = await json<{ id: string }>(postJson(`${service.url}/jobs`, { images }), 202);
  await expectError(fetch(exportUrl(waiting.id, '?format=camtrap-dp')), 409, 'job_not_finished');
  const job = await pollJob<JobRecord>(`${service.url}/jobs/${jobId}`, {}, 60_000);
  assert.equal(job.status, 'succeeded');
});

after(async () => {
  await service?.close();
});

function unzip(res: Response, bytes: ArrayBuffer): Record<string, string> {
  assert.equal(res.headers.get('content-type'), 'application/zip');
  assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="job-.*\.zip"$/);
  const files = unzipSync(new Uint8Array(bytes));
  return Object.fromEntries(Object.entries(files).map(([name, data]) => [name, strFromU8(data)]));
}

async function download(method: 'GET' | 'POST', body: Record<string, unknown>): Promise<Record<string, string>> {
  const res =
    method === 'POST'
      ? await postJson(exportUrl(jobId), body)
      : await fetch(exportUrl(jobId, `?${new URLSearchParams(body as Record<string, string>)}`));
  const bytes = await res.arrayBuffer();
  assert.equal(res.status, 200, Buffer.from(bytes).toString());
  return unzip(res, bytes);
}

const rows = (text: string) => parse(text, { columns: true }) as Record<string, string>[];

test('POST with deployment rows: a Camtrap DP package that the offline validator accepts', async () => {
  const files = await download('POST', { format: 'camtrap-dp', ...META, utc_offset: '+10:00', deployments: [REEF_A] });
  assert.deepEqual(Object.keys(files).sort(), ['datapackage.json', 'deployments.csv', 'media.csv', 'observations.csv']);
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-http-package-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  assert.deepEqual(camtrapDpProblems(dir), []);

  const deployments = Object.fromEntries(rows(files['deployments.csv']).map((d) => [d.deploymentID, d]));
  assert.deepEqual(Object.keys(deployments).sort(), ['gps-b', 'reef-a']);
  assert.equal(deployments['reef-a'].habitat, 'coral reef, outer slope');
  assert.equal(deployments['reef-a'].latitude, '-16.2864');
  assert.equal(deployments['gps-b'].latitude, '43.467303', 'the mean of its photos’ EXIF GPS, as the CLI computes it');
  assert.equal(deployments['gps-b'].deploymentStart, '2008-10-22T16:28:39+10:00', 'EXIF capture time + utc_offset');

  const media = rows(files['media.csv']);
  assert.equal(media.length, 5);
  assert.ok(media.some((m) => m.filePath === 'reef-a/n01484850_great_white_shark.JPEG' && m.deploymentID === 'reef-a'));
  const observations = rows(files['observations.csv']);
  const tigerShark = media.find((m) => m.fileName.includes('tiger_shark'))?.mediaID;
  const shark = observations.find((o) => o.mediaID === tigerShark);
  assert.equal(shark?.scientificName, 'Galeocerdo cuvier');
  assert.equal(shark?.classificationMethod, 'machine');
  assert.match(shark?.classifiedBy ?? '', /^mobilenetv2-12-int8/);
  const datapackage = JSON.parse(files['datapackage.json']);
  assert.equal(datapackage.title, 'Reef survey 2026');
  assert.equal(datapackage.contributors[0].email, 'jane@example.org');
});

test('POST dwc-a: a Darwin Core Archive whose meta.xml maps onto occurrence.txt, one occurrence per animal', async () => {
  const files = await download('POST', { format: 'dwc-a', ...META, deployments: [REEF_A] });
  assert.deepEqual(Object.keys(files).sort(), ['eml.xml', 'meta.xml', 'occurrence.txt']);
  const meta = new XMLParser({ ignoreAttributes: false }).parse(files['meta.xml']);
  const core = meta.archive.core;
  assert.equal(core['@_rowType'], 'http://rs.tdwg.org/dwc/terms/Occurrence');
  const lines = files['occurrence.txt'].trimEnd().split('\n');
  const header = lines[0].split('\t');
  const fields = [core.field].flat() as { '@_index': string; '@_term': string }[];
  for (const field of fields) assert.equal(field['@_term'].split('/').at(-1), header[Number(field['@_index'])]);
  const occurrences = lines.slice(1).map((line) => Object.fromEntries(line.split('\t').map((v, i) => [header[i], v])));
  // The sharks are animals (the tiger shark with its scientific name); the camera photos of gps-b need not be.
  assert.ok(occurrences.length >= 1 && occurrences.length <= 5);
  assert.ok(occurrences.some((o) => o.scientificName === 'Galeocerdo cuvier'));
  assert.ok(occurrences.every((o) => o.basisOfRecord === 'MachineObservation' && o.occurrenceStatus === 'present'));
  assert.ok(occurrences.every((o) => o.identificationVerificationStatus === 'unverified'));
});

test('GET: query parameters only, coordinates from EXIF; a deployment without GPS is survey_incomplete naming it', async () => {
  const error = await expectError(
    fetch(
      exportUrl(jobId, `?format=camtrap-dp&contributor=${encodeURIComponent(META.contributor[0])}&project_title=Reef`),
    ),
    400,
    'survey_incomplete',
  );
  assert.match(error.error.message, /'reef-a' has no coordinates/);
  // A job of gps-b's photos alone: its folder below IMAGE_ROOT is the deployment, EXIF GPS its coordinates.
  const onlyGps = await json<{ id: string }>(
    postJson(`${service.url}/jobs`, { images: GPS.map((n) => ({ image_path: `gps-b/${n}` })) }),
    202,
  );
  await pollJob<JobRecord>(`${service.url}/jobs/${onlyGps.id}`, {}, 60_000);
  const query = new URLSearchParams({
    format: 'camtrap-dp',
    contributor: META.contributor[0],
    project_title: 'Reef',
    sampling_design: 'targeted',
  });
  const res = await fetch(exportUrl(onlyGps.id, `?${query}`));
  const files = unzip(res, await res.arrayBuffer());
  assert.equal(res.status, 200);
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-http-package-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  assert.deepEqual(camtrapDpProblems(dir), []);
  assert.equal(JSON.parse(files['datapackage.json']).project.samplingDesign, 'targeted');
  assert.equal(rows(files['deployments.csv'])[0].timestampIssues, 'true', 'no utc_offset: times taken as UTC, flagged');
});

test('POST image_deployments puts each image in a deployment; a count that does not match is invalid_deployments', async () => {
  const ids = ['cam-1', 'cam-1', 'cam-2', 'cam-3', 'cam-3'];
  const deployments = ['cam-1', 'cam-2'].map((id) => ({ ...REEF_A, deploymentID: id }));
  const files = await download('POST', { format: 'camtrap-dp', ...META, image_deployments: ids, deployments });
  const byId = rows(files['media.csv']).map((m) => m.deploymentID);
  assert.deepEqual(byId, ids);
  await expectError(
    postJson(exportUrl(jobId), { format: 'camtrap-dp', ...META, image_deployments: ['cam-1'] }),
    400,
    'invalid_deployments',
  );
});

test('clear errors: no contributor, bad deployment rows, rows naming no deployment, an unknown job', async () => {
  const noContributor = await expectError(
    fetch(exportUrl(jobId, '?format=dwc-a&project_title=Reef')),
    400,
    'survey_incomplete',
  );
  assert.match(noContributor.error.message, /contributor/);
  for (const [row, pattern] of [
    [{ ...REEF_A, latitude: 91 }, /latitude: 91 is outside/],
    [{ ...REEF_A, depth: 3 }, /unknown columns depth/],
    [{ ...REEF_A, baitUse: 'yes' }, /'yes' is not true or false/],
    [{ ...REEF_A, deploymentID: 'reef-z' }, /reef-z/],
  ] as const) {
    const error = await expectError(
      postJson(exportUrl(jobId), { format: 'camtrap-dp', ...META, deployments: [row] }),
      400,
      'invalid_deployments',
    );
    assert.match(error.error.message, pattern);
  }
  await expectError(fetch(exportUrl('no-such-job', '?format=camtrap-dp')), 404, 'job_not_found');
  await expectError(fetch(exportUrl(jobId, '?format=xlsx')), 400, 'invalid_request');
});

test('both routes are in the OpenAPI document, answering application/zip', async () => {
  const doc = await json<{
    paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
  }>(fetch(`${service.url}/openapi.json`));
  const route = doc.paths['/jobs/{id}/export'];
  for (const method of ['get', 'post']) assert.ok(route?.[method]?.responses['200']?.content, method);
  assert.deepEqual(Object.keys(route.get.responses['200'].content ?? {}), ['application/zip']);
});

test('uploads (base64 in a JSON batch) go to the `deployment` named in the request; the stand-in time is flagged', async () => {
  const photos = GPS.map((n) => readFileSync(sharedPath('images', 'camera', 'jpg', 'gps', n)).toString('base64'));
  const shark = readFileSync(sharedPath('images', 'imagenet-marine', SHARKS[1])).toString('base64');
  const accepted = await json<{ id: string }>(
    postJson(`${service.url}/jobs`, { images: [...photos, shark].map((data) => ({ image_base64: data })) }),
    202,
  );
  await pollJob<JobRecord>(`${service.url}/jobs/${accepted.id}`, {}, 60_000);
  const query = new URLSearchParams({
    format: 'camtrap-dp',
    contributor: META.contributor[0],
    project_title: 'Uploads',
    deployment: 'boat-1',
  });
  const res = await fetch(exportUrl(accepted.id, `?${query}`));
  const files = unzip(res, await res.arrayBuffer());
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-http-package-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  assert.deepEqual(camtrapDpProblems(dir), []);
  const media = rows(files['media.csv']);
  assert.deepEqual(
    media.map((m) => [m.deploymentID, m.filePath]),
    [0, 1, 2].map((i) => ['boat-1', `images[${i}]`]),
  );
  assert.equal(new Set(media.map((m) => m.mediaID)).size, 3);
  const [deployment] = rows(files['deployments.csv']);
  assert.equal(deployment.deploymentID, 'boat-1');
  assert.equal(deployment.timestampIssues, 'true', 'the shark photo has no capture time: the job’s arrival stands in');
});
