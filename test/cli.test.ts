import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { REPO_ROOT, SHARED, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const run = promisify(execFile);
// The sources through tsx, so the tests see the code as it is now (test/build.test.ts covers the compiled CLI).
const CLI = ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts')];

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...nodeFlags, ...CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, MODEL_PATH: TEST_MODEL, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function csvRecords(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

/** The 58 labelled photos of shared/images (shared/images/camera holds camera files that other tests cover). */
const LABELLED_FOLDERS = ['photos', 'imagenet-marine', 'imagenet-other'].map((name) =>
  path.join(SHARED, 'images', name),
);

test('classify the labelled photos to CSV with progress, then --resume does no work', async () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mc-cli-')), 'out.csv');
  const first = await cli(['classify', ...LABELLED_FOLDERS, '--format', 'csv', '--output', out]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /58 images found/);
  assert.match(first.stderr, /classified 58\/58 images \([\d.]+ images\/s/);
  const rows = csvRecords(out);
  assert.equal(rows.length, 58);
  const shark = rows.find((r) => r.path.endsWith('test_image_shark.jpg'))!;
  assert.equal(shark.status, 'ok');
  assert.equal(shark.top1_label, 'great white shark');
  assert.equal(shark.marine_group, 'shark');
  assert.equal(shark.scientific_name, 'Carcharodon carcharias');
  assert.equal(shark.width, '3500');
  assert.equal(shark.height, '2335');
  assert.ok(shark.top5_label && Number(shark.top5_probability) >= 0, 'top-k columns are filled');
  const before = readFileSync(out, 'utf8');

  const again = await cli(['classify', ...LABELLED_FOLDERS, '--format', 'csv', '--output', out, '--resume']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /58 already in/);
  assert.doesNotMatch(again.stderr, /classified/);
  assert.equal(readFileSync(out, 'utf8'), before, 'nothing re-written');
});

test('a folder with a corrupt image, a text file and a half-finished run: errors in rows, exit code 1, resume finishes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-cli-'));
  const photos = path.join(dir, 'survey', 'day1');
  mkdirSync(photos, { recursive: true });
  const names = ['n01498041_stingray.JPEG', 'n02317335_starfish.JPEG', 'n02074367_dugong.JPEG'];
  for (const n of names) copyFileSync(sharedPath('images', 'imagenet-marine', n), path.join(photos, n));
  const shark = readFileSync(sharedPath('images', 'imagenet-marine', 'n01484850_great_white_shark.JPEG'));
  writeFileSync(path.join(photos, 'broken.jpg'), shark.subarray(0, 2000));
  writeFileSync(path.join(photos, 'notes.txt'), 'tide 1.2 m\n');
  const out = path.join(dir, 'out.jsonl');
  // A run stopped after one image, its last line cut in half.
  const first = JSON.stringify({ path: path.join(photos, names[0]), status: 'ok' });
  writeFileSync(out, `${first}\n{"path": "half`);

  const result = await cli([
    'classify',
    path.join(dir, 'survey'),
    '--format',
    'jsonl',
    '--output',
    out,
    '--resume',
    '--top-k',
    '3',
  ]);
  assert.equal(result.code, 1, 'exit code says an image failed');
  assert.match(result.stderr, /4 images found, 1 other files skipped, 1 already in/);
  const records = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          path: string;
          status: string;
          error?: { code: string };
          predictions?: unknown[];
          answer?: string;
        },
    );
  assert.equal(records.length, 4);
  const broken = records.find((r) => r.path.endsWith('broken.jpg'))!;
  assert.equal(broken.status, 'error');
  assert.equal(broken.error?.code, 'corrupt_image');
  const starfish = records.find((r) => r.path.endsWith('starfish.JPEG'))!;
  assert.equal(starfish.answer, 'starfish');
  assert.equal(starfish.predictions?.length, 3);
});

test('table output, glob input, marine-only and min-score', async () => {
  const table = await cli([
    'classify',
    path.join(SHARED, 'images', 'imagenet-other', 'n02690373_*.JPEG'),
    '--top-k',
    '2',
    '--quiet',
  ]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /n02690373_airliner\.JPEG\tairliner \d+\.\d%/);

  const marine = await cli([
    'classify',
    path.join(SHARED, 'images', 'imagenet-other', 'n02690373_airliner.JPEG'),
    '--marine-only',
    '--format',
    'json',
    '--quiet',
  ]);
  const [record] = JSON.parse(marine.stdout) as { predictions: { marine: unknown }[] }[];
  assert.ok(record.predictions.every((p) => p.marine !== null));

  const unsure = await cli([
    'classify',
    path.join(SHARED, 'images', 'imagenet-other', 'n02690373_airliner.JPEG'),
    '--min-score',
    '1',
    '--format',
    'csv',
    '--quiet',
  ]);
  const [row] = parse(unsure.stdout, { columns: true }) as Record<string, string>[];
  assert.equal(row.answer, 'unknown');
});

test('clear errors for a missing model and bad options, exit code 2', async () => {
  const missing = await cli(['classify', SHARED], { MODEL_PATH: '/nonexistent/model.onnx' });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /model_not_found.*MODEL_PATH/);
  const badK = await cli(['classify', SHARED, '--top-k', '0']);
  assert.equal(badK.code, 2);
  assert.match(badK.stderr, /--top-k=0 is not valid/);
});

test('a run that fails at start-up writes nothing: no half JSON array on stdout, no truncated --output file', async () => {
  const photos = path.join(SHARED, 'images', 'photos');
  const json = await cli(['classify', photos, '--format', 'json'], { MODEL_PATH: '/nonexistent/model.onnx' });
  assert.equal(json.code, 2);
  assert.equal(json.stdout, '');
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mc-cli-')), 'earlier.csv');
  writeFileSync(out, 'an earlier run\n');
  const csv = await cli(['classify', photos, '--format', 'csv', '--output', out], {
    MODEL_PATH: '/nonexistent/model.onnx',
  });
  assert.equal(csv.code, 2);
  assert.equal(readFileSync(out, 'utf8'), 'an earlier run\n');
});

test('models list shows the catalogue', async () => {
  const list = await cli(['models', 'list', '--json', '--cache-dir', mkdtempSync(path.join(tmpdir(), 'mc-cache-'))]);
  assert.equal(list.code, 0, list.stderr);
  const ids = (JSON.parse(list.stdout) as { id: string; cached: boolean }[]).map((m) => m.id);
  for (const id of ['resnet50-v1-12', 'resnet50-v2-7', 'resnet50-v1-12-int8', 'mobilenetv2-12-int8'])
    assert.ok(ids.includes(id), id);
  // Issue 19: each model's published accuracy next to its measured speed.
  const text = await cli(['models', 'list', '--cache-dir', mkdtempSync(path.join(tmpdir(), 'mc-cache-'))]);
  assert.match(text.stdout, /resnet50-v1-12-int8 .*top-1 74\.77 % +67\.4 req\/s/);
  assert.match(text.stdout, /resnet50-v1-12 .*top-1 74\.97 % +34\.6 req\/s/);
  assert.match(text.stdout, /resnet50-v2-7 .*not measured/);
  assert.match(text.stdout, /Speed: POST \/classify uploads at 16 clients, measured on a 2-core/);
});

test('runs with V8 flags on the node command line (worker threads refuse them, so they are not passed on)', async () => {
  const shark = sharedPath('images', 'photos', 'test_image_shark.jpg');
  const result = await cli(['classify', shark, '--format', 'json'], {}, [
    '--max-old-space-size=1024',
    '--max-semi-space-size=16',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout)[0].answer, 'great white shark');
});
