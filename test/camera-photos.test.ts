// Photos as cameras and phones write them (../shared/images/camera): EXIF orientation gives upright
// pixels, GPS lands in the CSV with its sign and 6 decimals, and broken metadata never stops a run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { createClassifier } from '../src/engine/classifier.ts';
import { DEFAULT_PREPROCESS_OPTIONS, preparePixels } from '../src/engine/preprocess.ts';
import { sniffImageFormat } from '../src/sources/sniff.ts';
import { isClassifierError } from '../src/errors.ts';
import { REPO_ROOT, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const CAMERA = sharedPath('images', 'camera', 'jpg');

function meanAbsDifference(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

async function pixelsOf(bytes: Buffer): Promise<Uint8Array> {
  return (await preparePixels(bytes)).pixels;
}

test('all 8 EXIF orientations give the upright picture that orientation 1 shows', async () => {
  for (const shape of ['landscape', 'portrait']) {
    const file = (n: number) => readFileSync(path.join(CAMERA, 'orientation', `${shape}_${n}.jpg`));
    const upright = await pixelsOf(file(1));
    // What a wrong turn looks like: the same photo upside down is far from it.
    const turned = await pixelsOf(await sharp(file(1)).rotate(180).jpeg({ quality: 95 }).toBuffer());
    const wrong = meanAbsDifference(upright, turned);
    assert.ok(wrong > 30, `an upside-down photo differs clearly (${wrong.toFixed(1)})`);
    for (let n = 2; n <= 8; n++) {
      const difference = meanAbsDifference(upright, await pixelsOf(file(n)));
      // Orientation 1 was saved apart from the others and differs from all of them by ~16 levels
      // (measured: 15.5-17.1); a wrong turn or mirror is 32-77.
      assert.ok(difference < 22, `${shape}_${n}.jpg is upright (mean difference ${difference.toFixed(1)})`);
    }
  }
});

test('GPS from EXIF lands in the CSV with its sign and 6 decimals', async () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mc-gps-')), 'gps.csv');
  const files = ['gps/DSCN0010.jpg', 'Kodak_CX7530.jpg', 'hdr/iphone_hdr_NO.jpg'].map((f) => path.join(CAMERA, f));
  await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'src/cli/main.ts'),
      'classify',
      ...files,
      '--format',
      'csv',
      '--output',
      out,
      '--quiet',
    ],
    { cwd: REPO_ROOT, env: { ...process.env, MODEL_PATH: TEST_MODEL } },
  );
  const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
  const where = Object.fromEntries(rows.map((row) => [path.basename(row.path), [row.latitude, row.longitude]]));
  assert.deepEqual(where, {
    'DSCN0010.jpg': ['43.467448', '11.885127'],
    'Kodak_CX7530.jpg': ['-0.371300', '36.056417'], // south of the equator
    'iphone_hdr_NO.jpg': ['40.446972', '-3.724753'], // west of Greenwich
  });
});

test('photos with broken EXIF (type errors, empty values, bad offsets) each classify or fail alone', async () => {
  const folders = ['tests', 'invalid'].map((name) => path.join(CAMERA, name));
  const files = folders.flatMap((folder) => readdirSync(folder).map((name) => path.join(folder, name)));
  const classifier = await createClassifier({ modelPath: TEST_MODEL, parallelSessions: 1 });
  try {
    const outcomes = [];
    for await (const outcome of classifier.classifyMany(files, { concurrency: 4 })) outcomes.push(outcome);
    assert.equal(outcomes.length, files.length, 'one outcome per file');
    const failed = outcomes.filter((o) => o.error).map((o) => `${path.basename(String(o.input))}: ${o.error?.code}`);
    assert.ok(
      outcomes.every((o) => o.result || isClassifierError(o.error)),
      'a failure is a clear ClassifierError',
    );
    // Broken metadata is no reason to refuse a photo whose pixels decode.
    assert.deepEqual(failed, []);
  } finally {
    await classifier.close();
  }
});

test('an iPhone HEIC photo classifies upright, with its EXIF capture time and GPS', async () => {
  const bytes = readFileSync(sharedPath('images', 'camera', 'heic', 'IMG_5195.HEIC'));
  const classifier = await createClassifier({ modelPath: TEST_MODEL, parallelSessions: 1 });
  try {
    const result = await classifier.classify(bytes);
    assert.deepEqual(result.image, {
      width: 2566,
      height: 3313,
      format: 'heic',
      taken_at: '2021-04-11T15:47:53',
      latitude: 39.051344,
      longitude: -94.288772,
    });
    // A violet flower in leaves: the model's answer is among plants and insects, not a refusal.
    assert.ok(result.predictions[0].probability > 0.1);
  } finally {
    await classifier.close();
  }
});

test('a HEIC photo over MAX_PIXELS is refused from its header, naming its size', async () => {
  const bytes = readFileSync(sharedPath('images', 'camera', 'heic', 'IMG_5195.HEIC'));
  await assert.rejects(preparePixels(bytes, { ...DEFAULT_PREPROCESS_OPTIONS, maxPixels: 1_000_000 }), (err) => {
    assert.ok(isClassifierError(err));
    assert.equal(err.code, 'image_too_many_pixels');
    assert.match(err.message, /2566x3313/);
    return true;
  });
});

test('HEIF brands: HEVC-coded files are HEIC, AV1-coded are AVIF, whichever brand comes first', () => {
  const ftyp = (major: string, ...compatible: string[]) => {
    const size = 16 + 4 * compatible.length;
    const box = Buffer.alloc(size);
    box.writeUInt32BE(size, 0);
    box.write(`ftyp${major}\0\0\0\0${compatible.join('')}`, 4, 'latin1');
    return box;
  };
  assert.equal(sniffImageFormat(ftyp('heic', 'mif1', 'heic')), 'heic');
  assert.equal(sniffImageFormat(ftyp('mif1', 'mif1', 'heic')), 'heic');
  assert.equal(sniffImageFormat(ftyp('avif', 'mif1', 'miaf')), 'avif');
  assert.equal(sniffImageFormat(ftyp('mif1', 'avif', 'mif1')), 'avif');
  assert.equal(sniffImageFormat(ftyp('mif1', 'jpeg')), null);
  assert.equal(sniffImageFormat(ftyp('isom', 'mp41')), null, 'an MP4 video is no image');
});
