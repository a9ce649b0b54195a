// `classify --format camtrap-dp --resume` over the package folder: a second run classifies only the
// media the package does not hold yet, keeps the old rows as they were (an edit a person made
// included), and writes one valid package of both; a third run has nothing to do.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { camtrapDpProblems } from './helpers/camtrap-dp-validator.ts';
import { REPO_ROOT, TEST_MODEL, sharedPath } from './helpers/shared.ts';

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

test('--resume over a Camtrap DP package adds only the new media and keeps the old rows', async () => {
  const survey = mkdtempSync(path.join(tmpdir(), 'mc-resume-survey-'));
  const add = (deployment: string, file: string) => {
    mkdirSync(path.join(survey, deployment), { recursive: true });
    copyFileSync(file, path.join(survey, deployment, path.basename(file)));
  };
  add('reef-a', sharedPath('images', 'imagenet-marine', 'n01491361_tiger_shark.JPEG'));
  add('gps-b', sharedPath('images', 'camera', 'jpg', 'gps', 'DSCN0010.jpg'));
  const deployments = path.join(survey, '..', `${path.basename(survey)}-deployments.csv`);
  writeFileSync(deployments, 'deploymentID,latitude,longitude,cameraDepth\nreef-a,-16.2864,145.7731,12.5\n');
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mc-resume-out-')), 'package');
  const args = [
    survey,
    '--format',
    'camtrap-dp',
    '--output',
    out,
    '--contributor',
    'Jane Diver <jane@example.org>',
    '--project-title',
    'Reef survey',
    '--deployments',
    deployments,
    '--utc-offset',
    '+10:00',
  ];

  const first = await classify(args);
  assert.equal(first.code, 0, first.stderr);
  const firstId = JSON.parse(readFileSync(path.join(out, 'datapackage.json'), 'utf8')).id;
  // A person verifies the tiger shark: what the next run must not overwrite.
  const observations = rows(path.join(out, 'observations.csv'));
  const edited = observations.map((o) =>
    o.scientificName === 'Galeocerdo cuvier' ? { ...o, classificationMethod: 'human', classifiedBy: 'Jane Diver' } : o,
  );
  assert.ok(
    edited.some((o) => o.classificationMethod === 'human'),
    'the tiger shark photo is a tiger shark',
  );
  writeFileSync(
    path.join(out, 'observations.csv'),
    stringify(edited, { header: true, columns: Object.keys(observations[0]) }),
  );

  // More photos arrive: one in an existing deployment, one in a new deployment folder.
  add('reef-a', sharedPath('images', 'imagenet-marine', 'n01494475_hammerhead.JPEG'));
  add('gps-c', sharedPath('images', 'camera', 'jpg', 'gps', 'DSCN0012.jpg'));
  const second = await classify([...args, '--resume']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /4 images found, 2 already in/);
  assert.deepEqual(camtrapDpProblems(out), []);

  const media = rows(path.join(out, 'media.csv'));
  assert.deepEqual(media.map((m) => m.filePath).sort(), [
    'gps-b/DSCN0010.jpg',
    'gps-c/DSCN0012.jpg',
    'reef-a/n01491361_tiger_shark.JPEG',
    'reef-a/n01494475_hammerhead.JPEG',
  ]);
  const after = rows(path.join(out, 'observations.csv'));
  assert.equal(after.length, 4);
  assert.equal(after.filter((o) => o.classificationMethod === 'human').length, 1, 'the verified row is kept');
  const byId = Object.fromEntries(rows(path.join(out, 'deployments.csv')).map((d) => [d.deploymentID, d]));
  assert.deepEqual(Object.keys(byId).sort(), ['gps-b', 'gps-c', 'reef-a']);
  assert.equal(byId['reef-a'].cameraDepth, '12.5');
  assert.equal(byId['gps-b'].latitude, '43.467448', 'the first run’s EXIF coordinates are kept');
  const datapackage = JSON.parse(readFileSync(path.join(out, 'datapackage.json'), 'utf8'));
  assert.equal(datapackage.id, firstId, 'the package keeps its id as it grows');

  const third = await classify([...args, '--resume']);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stderr, /4 images found, 4 already in/);
  assert.equal(rows(path.join(out, 'media.csv')).length, 4);

  const dwc = await classify([
    survey,
    '--format',
    'dwc-a',
    '--output',
    path.join(out, '..', 'x.zip'),
    '--resume',
    ...args.slice(4),
  ]);
  assert.equal(dwc.code, 2);
  assert.match(dwc.stderr, /resume_unsupported/);
});
