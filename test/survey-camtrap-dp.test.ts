// `classify --format camtrap-dp`: a survey folder of two deployments becomes a Camtrap DP 1.0.2
// package that the offline validator accepts; what the standard requires and the run cannot
// know (contributors, coordinates) is a clear error before anything is written.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { XMLParser } from 'fast-xml-parser';
import { unzipSync, strFromU8 } from 'fflate';
import { DEPLOYMENT_COLUMNS, MEDIA_COLUMNS, OBSERVATION_COLUMNS } from '../src/survey/columns.ts';
import { camtrapDpProblems } from './helpers/camtrap-dp-validator.ts';
import { REPO_ROOT, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const run = promisify(execFile);

async function classify(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'classify', ...args, '--quiet'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, MODEL_PATH: TEST_MODEL },
      },
    );
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

/** reef-a: three ImageNet shark photos without GPS; gps-b: two photos with GPS in EXIF. */
function surveyFolder(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'mc-survey-'));
  const add = (deployment: string, file: string) => {
    mkdirSync(path.join(root, deployment), { recursive: true });
    copyFileSync(file, path.join(root, deployment, path.basename(file)));
  };
  for (const name of ['n01484850_great_white_shark.JPEG', 'n01491361_tiger_shark.JPEG', 'n01494475_hammerhead.JPEG'])
    add('reef-a', sharedPath('images', 'imagenet-marine', name));
  for (const name of ['DSCN0010.jpg', 'DSCN0012.jpg']) add('gps-b', sharedPath('images', 'camera', 'jpg', 'gps', name));
  return root;
}

function deploymentsCsv(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'mc-deployments-')), 'deployments.csv');
  writeFileSync(file, text);
  return file;
}

const META = ['--contributor', 'Jane Diver <jane@example.org>', '--project-title', 'Reef survey 2026'];
const rows = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];

test('the tables have the columns of the Camtrap DP 1.0.2 Table Schemas, in order', () => {
  const fields = (table: string) =>
    (
      JSON.parse(readFileSync(sharedPath('camtrap-dp', `${table}-table-schema.json`), 'utf8')) as {
        fields: { name: string }[];
      }
    ).fields.map((f) => f.name);
  assert.deepEqual([...DEPLOYMENT_COLUMNS], fields('deployments'));
  assert.deepEqual([...MEDIA_COLUMNS], fields('media'));
  assert.deepEqual([...OBSERVATION_COLUMNS], fields('observations'));
});

test('a survey of two deployments becomes a valid package: coordinates from the CSV or EXIF, machine observations with taxa', async () => {
  const survey = surveyFolder();
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mc-package-')), 'package');
  const deployments = deploymentsCsv(
    'deploymentID,latitude,longitude,cameraDepth,habitat\nreef-a,-16.2864,145.7731,12.5,"coral reef, outer slope"\n',
  );
  const result = await classify([
    survey,
    '--format',
    'camtrap-dp',
    '--output',
    out,
    ...META,
    '--deployments',
    deployments,
    '--utc-offset',
    '+10:00',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(camtrapDpProblems(out), []);

  const byId = Object.fromEntries(rows(path.join(out, 'deployments.csv')).map((d) => [d.deploymentID, d]));
  assert.deepEqual(Object.keys(byId).sort(), ['gps-b', 'reef-a']);
  assert.equal(byId['reef-a'].habitat, 'coral reef, outer slope');
  assert.equal(byId['reef-a'].cameraDepth, '12.5');
  assert.equal(
    byId['reef-a'].timestampIssues,
    'true',
    'ImageNet photos have no capture time: file times stand in, flagged',
  );
  assert.equal(byId['gps-b'].latitude, '43.467303'); // the mean of its photos' GPS
  assert.equal(byId['gps-b'].deploymentStart, '2008-10-22T16:28:39+10:00');
  assert.equal(byId['gps-b'].deploymentEnd, '2008-10-22T16:29:49+10:00');

  const media = rows(path.join(out, 'media.csv'));
  assert.equal(media.length, 5);
  assert.ok(media.every((m) => m.fileMediatype === 'image/jpeg' && m.filePublic === 'false'));
  assert.ok(media.some((m) => m.filePath === 'reef-a/n01484850_great_white_shark.JPEG'));

  const observations = rows(path.join(out, 'observations.csv'));
  const shark = observations.find((o) => o.mediaID === media.find((m) => m.fileName.includes('great_white'))?.mediaID);
  assert.equal(shark?.observationType, 'animal');
  assert.equal(shark?.scientificName, 'Carcharodon carcharias');
  assert.equal(shark?.classificationMethod, 'machine');
  assert.match(shark?.classifiedBy ?? '', /^mobilenetv2-12-int8/);
  assert.ok(Number(shark?.classificationProbability) > 0.5);

  const datapackage = JSON.parse(readFileSync(path.join(out, 'datapackage.json'), 'utf8'));
  assert.deepEqual(datapackage.contributors, [{ title: 'Jane Diver', email: 'jane@example.org', role: 'contact' }]);
  assert.ok(
    datapackage.taxonomic.some(
      (t: { scientificName: string; taxonRank: string }) =>
        t.scientificName === 'Carcharodon carcharias' && t.taxonRank === 'species',
    ),
  );
  assert.equal(datapackage.temporal.start, '2008-10-22');
});

test('what the standard needs and the run cannot know is a clear error, and no package is written', async () => {
  const survey = surveyFolder();
  const out = () => path.join(mkdtempSync(path.join(tmpdir(), 'mc-package-')), 'package');
  const cases: [string, string[], RegExp][] = [
    ['no contributor', ['--project-title', 'x'], /survey_incomplete.*--contributor/],
    ['a deployment without coordinates', [...META], /survey_incomplete.*'reef-a' has no coordinates/],
    [
      'unknown columns',
      [...META, '--deployments', deploymentsCsv('deploymentID,latitude,longitude,depth\nreef-a,1,2,3\n')],
      /invalid_deployments.*unknown columns depth/,
    ],
    [
      'a latitude out of range',
      [...META, '--deployments', deploymentsCsv('deploymentID,latitude,longitude\nreef-a,91,2\n')],
      /invalid_deployments.*latitude: 91 is outside/,
    ],
    [
      'a duplicate id',
      [...META, '--deployments', deploymentsCsv('deploymentID,latitude,longitude\nreef-a,1,2\nreef-a,1,2\n')],
      /invalid_deployments.*'reef-a' appears twice/,
    ],
    [
      'an id that matches no folder',
      [...META, '--deployments', deploymentsCsv('deploymentID,latitude,longitude\nreef-a,1,2\nreef-z,1,2\n')],
      /invalid_deployments.*reef-z/,
    ],
  ];
  for (const [what, args, expected] of cases) {
    const target = out();
    const result = await classify([survey, '--format', 'camtrap-dp', '--output', target, ...args]);
    assert.equal(result.code, 2, `${what}: exit code`);
    assert.match(result.stderr, expected, what);
    assert.equal(existsSync(target), false, `${what}: nothing written`);
  }
});

test('the Darwin Core Archive of the same survey: meta.xml maps every column, one occurrence per animal observation', async () => {
  const survey = surveyFolder();
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-dwca-'));
  const deployments = deploymentsCsv('deploymentID,latitude,longitude,cameraDepth\nreef-a,-16.2864,145.7731,12.5\n');
  const common = [...META, '--deployments', deployments, '--utc-offset', '+10:00'];
  const zip = path.join(dir, 'survey.zip');
  const packageDir = path.join(dir, 'package');
  assert.equal((await classify([survey, '--format', 'dwc-a', '--output', zip, ...common])).code, 0);
  assert.equal((await classify([survey, '--format', 'camtrap-dp', '--output', packageDir, ...common])).code, 0);

  const files = unzipSync(readFileSync(zip));
  assert.deepEqual(Object.keys(files).sort(), ['eml.xml', 'meta.xml', 'occurrence.txt']);
  const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });
  const meta = xml.parse(strFromU8(files['meta.xml'])).archive;
  assert.equal(meta.core.rowType, 'http://rs.tdwg.org/dwc/terms/Occurrence');
  assert.equal(meta.core.files.location, 'occurrence.txt');
  assert.equal(meta.core.ignoreHeaderLines, '1');
  const [header, ...lines] = strFromU8(files['occurrence.txt'])
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'));
  const fields = meta.core.field as { index: string; term: string }[];
  // Every column has its term, in order, and each term names its column.
  assert.deepEqual(
    fields.map((f) => Number(f.index)),
    header.map((_, i) => i),
  );
  assert.deepEqual(
    fields.map((f) => f.term.split('/').at(-1)),
    header,
  );
  assert.ok(lines.every((cells) => cells.length === header.length));

  const animals = rows(path.join(packageDir, 'observations.csv')).filter((o) => o.observationType === 'animal');
  assert.equal(lines.length, animals.length, 'one occurrence per animal observation');
  const occurrences = lines.map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i]])));
  const shark = occurrences.find((o) => o.scientificName === 'Carcharodon carcharias');
  assert.ok(shark, 'the great white shark is an occurrence');
  assert.equal(shark.basisOfRecord, 'MachineObservation');
  assert.equal(shark.identificationVerificationStatus, 'unverified');
  assert.equal(shark.occurrenceStatus, 'present');
  assert.equal(shark.decimalLatitude, '-16.2864');
  assert.equal(shark.minimumDepthInMeters, '12.5');
  assert.equal(shark.taxonRank, 'species');
  assert.match(shark.identifiedBy, /^mobilenetv2-12-int8/);
  assert.ok(xml.parse(strFromU8(files['eml.xml']))['eml:eml'].dataset.title === 'Reef survey 2026');
});
