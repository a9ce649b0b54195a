/** RESIZE (issue 18): exact decodes every pixel as before; auto/fast let the decoder shrink camera photos. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createClassifier } from '../src/engine/classifier.ts';
import { engineOptionsOf } from '../src/engine/engine-config.ts';
import { DEFAULT_PREPROCESS_OPTIONS, preparePixels, type PreprocessOptions } from '../src/engine/preprocess.ts';
import { decodedPixels, jpegDecodeFactor, shrinkOptionsOf, shrinkTarget } from '../src/engine/shrink-on-load.ts';
import { ClassifierError } from '../src/errors.ts';
import { loadSettings, SETTINGS } from '../src/settings/index.ts';
import type { ResizeMode } from '../src/settings/table.ts';
import { sharedPath, SHARK_PHOTO, TEST_MODEL } from './helpers/shared.ts';

/** A 3264x2448 (8 MP) phone JPEG, baseline, orientation 1. */
const PHONE_PHOTO = sharedPath('images', 'camera', 'jpg', 'mobile', 'jolla.jpg');
const IMAGENET_PHOTO = sharedPath('images', 'imagenet-marine', 'n01496331_electric_ray.JPEG');

function optionsFor(mode: ResizeMode): PreprocessOptions {
  return { ...DEFAULT_PREPROCESS_OPTIONS, ...shrinkOptionsOf(mode) };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('exact gives the same pixels, bit for bit, as the preprocessing before RESIZE existed', async () => {
  // sha256 of the 224x224 crops from the code on main before this change (SHRINK_ON_LOAD=false).
  const before: [string, string][] = [
    [PHONE_PHOTO, 'd567602dcd8612c300d6af33afdbac1410be78c09ba38c08f6466a55204b2361'],
    [SHARK_PHOTO, '6690ff4dc55841655e2678f71b4aecebf89535f537446092f3f3c266d689e6fa'],
    [
      sharedPath('images', 'camera', 'jpg', 'orientation', 'portrait_6.jpg'),
      '579d6506f0e65500a3bdf3633a9913d16fd62d8ec41a8e30028ab205919fbbf1',
    ],
  ];
  for (const [file, hash] of before) {
    const r = await preparePixels(readFileSync(file), optionsFor('exact'));
    assert.equal(sha256(r.pixels), hash, file);
    assert.deepEqual(r.decoded, { width: r.image.width, height: r.image.height }, `${file}: every pixel decoded`);
  }
  assert.equal(SETTINGS.resize.default, 'exact', 'exact stays the default: auto missed the accuracy goal');
});

test('auto decodes a camera photo at a fraction of its pixels; ImageNet-size photos are decoded whole', async () => {
  const phone = await preparePixels(readFileSync(PHONE_PHOTO), optionsFor('auto'));
  assert.deepEqual(phone.decoded, { width: 1024, height: 768 }, 'short side 3 x 256');
  assert.deepEqual([phone.image.width, phone.image.height], [3264, 2448], 'the photo is still reported at its size');
  const fast = await preparePixels(readFileSync(PHONE_PHOTO), optionsFor('fast'));
  assert.deepEqual(fast.decoded, { width: 683, height: 512 });

  const small = readFileSync(IMAGENET_PHOTO);
  const exact = await preparePixels(small, optionsFor('exact'));
  for (const mode of ['auto', 'fast'] as const) {
    const r = await preparePixels(small, optionsFor(mode));
    assert.deepEqual(r.decoded, exact.decoded, mode);
    assert.equal(sha256(r.pixels), sha256(exact.pixels), `${mode} is exact on an ImageNet-size photo`);
  }
});

test('auto answers the same top-1 as exact on a camera photo and reserves fewer pixels of the decoding budget', async () => {
  const run = async (resize: ResizeMode) => {
    const classifier = await createClassifier({
      modelPath: TEST_MODEL,
      resize,
      decodeThreads: 1,
      parallelSessions: 1,
      soloSession: false,
      intraOpThreads: 1,
    });
    try {
      const result = await classifier.classify(readFileSync(PHONE_PHOTO), { topK: 1 });
      return { top: result.predictions[0], peak: classifier.decoding().peakPixels, settings: classifier.settings };
    } finally {
      await classifier.close();
    }
  };
  const exact = await run('exact');
  const auto = await run('auto');
  assert.equal(auto.settings.resize, 'auto');
  assert.equal(auto.top.index, exact.top.index, 'top-1');
  assert.equal(exact.peak, 3264 * 2448, 'exact reserves every pixel');
  // libjpeg decodes at 1/2 (sharp's linear kernel takes it on to 1024x768): a quarter of the pixels.
  assert.equal(auto.peak, 1632 * 1224);
});

test('the shrink plan: JPEG and WebP only, 3x the target before any shrink, orientation, pixel limit', () => {
  const options = { ...optionsFor('auto'), maxPixels: 100_000_000 };
  assert.deepEqual(shrinkTarget({ width: 3264, height: 2448 }, 'jpeg', options), { width: 1024, height: 768 });
  assert.deepEqual(shrinkTarget({ width: 2448, height: 3264 }, 'webp', options), { width: 768, height: 1024 });
  assert.equal(shrinkTarget({ width: 1920, height: 1080 }, 'jpeg', options), null, '1080p: nothing to skip');
  assert.equal(shrinkTarget({ width: 3264, height: 2448 }, 'png', options), null);
  assert.equal(shrinkTarget({ width: 3264, height: 2448 }, 'heic', options), null);
  assert.equal(shrinkTarget({ width: 3264, height: 2448 }, 'jpeg', optionsFor('exact')), null);
  assert.equal(shrinkTarget({ width: 30000, height: 20000 }, 'jpeg', { ...options, maxPixels: 1000 }), null);
  // sharp never lets libjpeg shrink by the integer part of the factor (its rounding guard).
  assert.equal(jpegDecodeFactor(2448, 768), 2);
  assert.equal(jpegDecodeFactor(4032, 504), 4);
  assert.equal(jpegDecodeFactor(8192, 1000), 4, '8.2: not 8');
  assert.equal(jpegDecodeFactor(9000, 1000), 8);
  // Orientation 6 (stored 2448 wide, shown 3264 wide): the budget counts stored pixels at 1/2.
  assert.equal(decodedPixels(2448, 3264, 6, 'jpeg', options), 1224 * 1632);
  assert.equal(decodedPixels(2448, 3264, 6, 'png', options), 2448 * 3264);
});

test('RESIZE and --resize take auto, exact or fast and nothing else', () => {
  assert.equal(loadSettings({ command: 'classify', env: {} }).resize, 'exact');
  const s = loadSettings({ command: 'serve', env: { RESIZE: 'auto' } });
  assert.equal(s.resize, 'auto');
  assert.equal(engineOptionsOf(s).resize, 'auto', 'the engine gets it');
  assert.throws(
    () => loadSettings({ command: 'serve', env: { RESIZE: 'fastest' } }),
    (err: unknown) =>
      err instanceof ClassifierError &&
      err.code === 'invalid_setting' &&
      err.message === 'RESIZE=fastest is not valid: expected auto, exact or fast.',
  );
});
