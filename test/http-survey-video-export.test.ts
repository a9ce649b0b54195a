// GET and POST /jobs/{id}/export for a finished video job: one media row (the video, in the folder
// below IMAGE_ROOT that is its deployment), one `event` observation per span of its summary at
// absolute times; the zip validates against ../shared/camtrap-dp, and its Darwin Core Archive has
// the animal events as occurrences.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { strFromU8, unzipSync } from 'fflate';
import type { RunningService } from '../src/http/service.ts';
import type { JobRecord } from '../src/queue/types.ts';
import { camtrapDpProblems } from './helpers/camtrap-dp-validator.ts';
import { expectError, json, pollJob, postJson, startTestService } from './helpers/http-fixtures.ts';
import { slideshowClip } from './helpers/survey-clips.ts';

const META = { contributor: ['Jane Diver <jane@example.org>'], project_title: 'Reef survey 2026' };
const DIVE = { deploymentID: 'dive', latitude: -16.2864, longitude: 145.7731, cameraDepth: 12 };

let service: RunningService;
let jobId: string;

before(async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'mc-http-survey-video-'));
  mkdirSync(path.join(root, 'dive'));
  await slideshowClip(path.join(root, 'dive', 'slideshow.mp4'), '2026-03-01T01:30:00Z');
  service = await startTestService({ imageRoot: root });
  const accepted = await json<{ id: string }>(
    postJson(`${service.url}/jobs`, { video_path: 'dive/slideshow.mp4' }),
    202,
  );
  jobId = accepted.id;
  const job = await pollJob<JobRecord>(`${service.url}/jobs/${jobId}`, {}, 120_000);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  assert.equal(job.video?.video.format, 'mp4');
});

after(async () => {
  await service?.close();
});

const exportUrl = (query = '') => `${service.url}/jobs/${encodeURIComponent(jobId)}/export${query}`;
const rows = (text: string) => parse(text, { columns: true }) as Record<string, string>[];

async function download(body: Record<string, unknown>): Promise<Record<string, string>> {
  const res = await postJson(exportUrl(), body);
  const bytes = await res.arrayBuffer();
  assert.equal(res.status, 200, Buffer.from(bytes).toString());
  assert.equal(res.headers.get('content-type'), 'application/zip');
  const files = unzipSync(new Uint8Array(bytes));
  return Object.fromEntries(Object.entries(files).map(([name, data]) => [name, strFromU8(data)]));
}

test('a video job exports as a valid Camtrap DP package: one media row, an event per span', async () => {
  const files = await download({ format: 'camtrap-dp', ...META, utc_offset: '+10:00', deployments: [DIVE] });
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-http-survey-video-pkg-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  assert.deepEqual(camtrapDpProblems(dir), []);

  const [video, ...others] = rows(files['media.csv']);
  assert.equal(others.length, 0);
  assert.equal(video.deploymentID, 'dive', 'the folder below IMAGE_ROOT');
  assert.equal(video.filePath, 'dive/slideshow.mp4');
  assert.equal(video.fileMediatype, 'video/mp4');
  assert.equal(video.timestamp, '2026-03-01T11:30:00+10:00');
  const events = rows(files['observations.csv']);
  assert.ok(events.every((o) => o.observationLevel === 'event' && o.mediaID === video.mediaID));
  assert.match(events[0].classifiedBy, /^mobilenetv2-12-int8/, 'the service model names the classifier');
  const shark = events.find((o) => o.scientificName === 'Carcharodon carcharias');
  assert.equal(shark?.eventStart, '2026-03-01T11:30:02+10:00');
  assert.equal(shark?.eventEnd, '2026-03-01T11:30:05+10:00');
  const [dive] = rows(files['deployments.csv']);
  assert.equal(dive.deploymentEnd, '2026-03-01T11:30:06+10:00');

  const dwc = await download({ format: 'dwc-a', ...META, utc_offset: '+10:00', deployments: [DIVE] });
  const [header, ...lines] = dwc['occurrence.txt']
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'));
  assert.equal(lines.length, events.filter((o) => o.observationType === 'animal').length);
  const occurrence = lines
    .map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i]])))
    .find((o) => o.scientificName === 'Carcharodon carcharias');
  assert.equal(occurrence?.eventDate, '2026-03-01T11:30:02+10:00/2026-03-01T11:30:05+10:00');
  assert.equal(occurrence?.type, 'MovingImage');
});

test('a video job: GET without coordinates names the deployment; image_deployments takes one entry', async () => {
  const noCoordinates = await expectError(
    fetch(
      exportUrl(
        `?${new URLSearchParams({ format: 'camtrap-dp', contributor: META.contributor[0], project_title: META.project_title })}`,
      ),
    ),
    400,
    'survey_incomplete',
  );
  assert.match(noCoordinates.error.message, /'dive' has no coordinates/);
  await expectError(
    postJson(exportUrl(), { format: 'camtrap-dp', ...META, image_deployments: ['a', 'b'], deployments: [DIVE] }),
    400,
    'invalid_deployments',
  );
  const files = await download({
    format: 'camtrap-dp',
    ...META,
    image_deployments: ['reef-7'],
    deployments: [{ ...DIVE, deploymentID: 'reef-7' }],
  });
  assert.equal(rows(files['media.csv'])[0].deploymentID, 'reef-7');
  assert.equal(rows(files['media.csv'])[0].timestamp, '2026-03-01T01:30:00Z', 'without utc_offset: UTC');
});
