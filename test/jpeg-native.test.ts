/**
 * JPEG_DECODER=auto (issue 19 point 3): plain JPEGs go through libjpeg-turbo directly instead of
 * sharp. It is only a cheaper way to the same pixels: every shared JPEG must decode bit for bit as
 * sharp decodes it, and whatever is not plain (EXIF rotation, a colour profile to convert, CMYK,
 * a broken file) must still reach sharp and behave exactly as before.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { createClassifier } from '../src/engine/classifier.ts';
import { decodePlainJpeg, directJpegAvailable } from '../src/engine/jpeg-native.ts';
import { DEFAULT_PREPROCESS_OPTIONS, preparePixels, type PreprocessOptions } from '../src/engine/preprocess.ts';
import { toClassifierError } from '../src/errors.ts';
import { SETTINGS } from '../src/settings/index.ts';
import { SHARED, sharedPath, TEST_MODEL } from './helpers/shared.ts';

const DIRECT: PreprocessOptions = { ...DEFAULT_PREPROCESS_OPTIONS, directJpeg: true };
const SHARP: PreprocessOptions = { ...DEFAULT_PREPROCESS_OPTIONS, directJpeg: false };

/** Every file under shared/images that starts like a JPEG. */
function sharedJpegs(): string[] {
  return readdirSync(path.join(SHARED, 'images'), { recursive: true, encoding: 'utf8' })
    .map((file) => path.join(SHARED, 'images', file))
    .filter((file) => {
      try {
        const head = readFileSync(file).subarray(0, 2);
        return head[0] === 0xff && head[1] === 0xd8;
      } catch {
        return false; // a folder
      }
    })
    .sort();
}

/** The pixels as stored, decoded by sharp: what the direct decoder must reproduce. */
async function sharpRgb(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number } | null> {
  return sharp(bytes, { ignoreIcc: true, failOn: 'error' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .then(
      ({ data, info }) => ({ data, width: info.width, height: info.height }),
      () => null,
    );
}

test('the addon is built here (npm ci compiles it; .ci/run installs the libjpeg-turbo headers)', () => {
  assert.ok(directJpegAvailable(), 'build/Release/jpeg_decode.node is missing: run `npm run install`');
  assert.equal(SETTINGS.jpegDecoder.default, 'auto');
  assert.equal(DEFAULT_PREPROCESS_OPTIONS.directJpeg, true);
});

test('every shared JPEG decodes bit for bit as sharp decodes it, one after another in the reused buffer', async () => {
  const files = sharedJpegs();
  assert.ok(files.length >= 100, `only ${files.length} JPEGs in shared/images`);
  let direct = 0;
  for (const file of files) {
    const bytes = readFileSync(file);
    const ours = decodePlainJpeg(bytes, 1e9);
    if (!ours) continue;
    direct++;
    const theirs = await sharpRgb(bytes);
    assert.ok(theirs, `${file}: decoded directly but sharp refuses it`);
    assert.deepEqual([ours.width, ours.height], [theirs.width, theirs.height], file);
    const size = ours.width * ours.height * 3;
    assert.ok(Buffer.from(ours.data.buffer, ours.data.byteOffset, size).equals(theirs.data), `${file}: pixels differ`);
  }
  assert.ok(direct >= files.length - 2, `only ${direct} of ${files.length} decoded directly`);
});

test('progressive, grey, 4:2:0 and odd-sized JPEGs decode as sharp does; CMYK and broken files are left to sharp', async () => {
  const photo = readFileSync(sharedPath('images', 'imagenet-marine', 'n02607072_anemone_fish.JPEG'));
  const plain = {
    progressive: await sharp(photo).jpeg({ progressive: true }).toBuffer(),
    grey: await sharp(photo).greyscale().jpeg().toBuffer(),
    chroma420odd: await sharp(photo).resize(333, 211).jpeg({ chromaSubsampling: '4:2:0', quality: 70 }).toBuffer(),
    tiny: await sharp(photo).resize(7, 5).jpeg().toBuffer(),
  };
  for (const [name, bytes] of Object.entries(plain)) {
    const ours = decodePlainJpeg(bytes, 1e9);
    const theirs = await sharpRgb(bytes);
    assert.ok(ours && theirs, name);
    assert.ok(
      Buffer.from(ours.data.subarray(0, ours.width * ours.height * 3)).equals(theirs.data),
      `${name}: pixels differ`,
    );
  }
  const notPlain = {
    cmyk: await sharp(photo).toColourspace('cmyk').jpeg().toBuffer(),
    truncated: photo.subarray(0, photo.length >> 1),
    corrupted: readFileSync(sharedPath('images', 'camera', 'jpg', 'corrupted.jpg')),
    notJpeg: await sharp(photo).png().toBuffer(),
  };
  for (const [name, bytes] of Object.entries(notPlain)) assert.equal(decodePlainJpeg(bytes, 1e9), null, name);
  assert.equal(decodePlainJpeg(photo, 1000), null, 'over the pixel limit: left to sharp, which names the limit');
});

test('damaged JPEGs (bytes changed in the headers or the data, cut short) never crash the process', async () => {
  // A crash in the addon would take the whole service down: libjpeg's errors and warnings must
  // come back as null (then sharp answers with the usual error). Seeded, so a failure repeats.
  let seed = 20261205;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const photo = readFileSync(sharedPath('images', 'imagenet-marine', 'n01484850_great_white_shark.JPEG'));
  const originals = [photo, await sharp(photo).jpeg({ progressive: true }).toBuffer()];
  let decoded = 0;
  for (let i = 0; i < 900; i++) {
    const bytes = Buffer.from(originals[i % 2]);
    const span = i % 3 === 1 ? Math.min(bytes.length, 700) : bytes.length; // the headers, or anywhere
    for (let k = 0; k < 1 + random() * 10; k++) bytes[Math.floor(random() * span)] = Math.floor(random() * 256);
    const input = i % 3 === 2 ? originals[i % 2].subarray(0, Math.floor(random() * photo.length)) : bytes;
    const result = decodePlainJpeg(input, 1e8);
    if (!result) continue;
    decoded++;
    assert.ok(result.width > 0 && result.height > 0 && result.data.length >= result.width * result.height * 3);
  }
  assert.ok(decoded > 0 && decoded < 900, `${decoded} of 900 damaged files decoded`);
});

test('preparePixels gives the same crops and the same errors with and without the direct decoder', async () => {
  // Rotated phone photos, Adobe RGB and Display P3 photos, CMYK, HEIC, broken EXIF and broken files are all in here.
  const files = [
    ...sharedJpegs(),
    ...readdirSync(sharedPath('images', 'camera'), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(heic|png|webp)$/i.test(f))
      .map((f) => sharedPath('images', 'camera', f)),
  ];
  const outcome = (r: PromiseSettledResult<{ pixels: Uint8Array; image: object }>) =>
    r.status === 'fulfilled'
      ? { pixels: Buffer.from(r.value.pixels).toString('base64'), image: r.value.image }
      : { error: toClassifierError(r.reason).code };
  for (const file of files) {
    const bytes = readFileSync(file);
    const [direct, viaSharp] = await Promise.allSettled([preparePixels(bytes, DIRECT), preparePixels(bytes, SHARP)]);
    assert.deepEqual(outcome(direct), outcome(viaSharp), file);
  }
});

test('the engine says which decoder it uses; JPEG_DECODER=sharp turns the direct one off', async () => {
  const auto = await createClassifier({ modelPath: TEST_MODEL, parallelSessions: 1, decodeThreads: 1 });
  const viaSharp = await createClassifier({
    modelPath: TEST_MODEL,
    parallelSessions: 1,
    decodeThreads: 1,
    jpegDecoder: 'sharp',
  });
  try {
    assert.equal(auto.settings.jpegDecoder, 'libjpeg-turbo');
    assert.equal(viaSharp.settings.jpegDecoder, 'sharp');
    const photo = sharedPath('images', 'imagenet-marine', 'n01484850_great_white_shark.JPEG');
    const [a, b] = await Promise.all([auto.classify(photo, { topK: 5 }), viaSharp.classify(photo, { topK: 5 })]);
    assert.deepEqual(a.predictions, b.predictions);
    assert.equal(a.top1?.label, 'great white shark');
  } finally {
    await Promise.all([auto.close(), viaSharp.close()]);
  }
});
