/**
 * DECODE_PIXEL_BUDGET on the real engine: big images wait for budget instead of all decoding at
 * once, an image larger than the budget still runs (alone), and cancelled or failed images give
 * their budget back (else the next image would wait for good and the test time out).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { createClassifier, type Classifier } from '../src/engine/classifier.ts';
import { ClassifierError } from '../src/errors.ts';
import { SHARK_PHOTO, TEST_MODEL } from './helpers/shared.ts';

const WIDTH = 4000;
const HEIGHT = 2667;
const PIXELS = WIDTH * HEIGHT;
let bigJpeg: Buffer;
let bigPng: Buffer;
/** What the shark upscaled to 4000x2667 is, classified alone. */
let expectedIndex: number;

before(async () => {
  const upscaled = sharp(readFileSync(SHARK_PHOTO)).rotate().resize(WIDTH, HEIGHT, { fit: 'fill' });
  bigJpeg = await upscaled.clone().jpeg({ quality: 90 }).toBuffer();
  bigPng = await upscaled.clone().png({ compressionLevel: 1 }).toBuffer();
  const alone = await createClassifier({ modelPath: TEST_MODEL, decodeThreads: 1 });
  try {
    expectedIndex = (await alone.classify(bigJpeg)).predictions[0].index;
  } finally {
    await alone.close();
  }
});

async function withClassifier(budget: number, use: (classifier: Classifier) => Promise<void>): Promise<void> {
  const classifier = await createClassifier({ modelPath: TEST_MODEL, decodeThreads: 3, decodePixelBudget: budget });
  try {
    await use(classifier);
  } finally {
    await classifier.close();
  }
}

/** Resolves once the engine has `pixels` reserved and `waiting` images waiting for budget. */
async function until(classifier: Classifier, pixels: number, waiting: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const now = classifier.decoding();
    if (now.pixels === pixels && now.waiting === waiting) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(
    `the engine never had ${pixels} pixels decoding and ${waiting} waiting: ${JSON.stringify(classifier.decoding())}`,
  );
}

test('with three decoding threads and a budget of two and a half images, at most two decode at once; all answer right', async () => {
  await withClassifier(Math.floor(2.5 * PIXELS), async (classifier) => {
    const results = await Promise.all(Array.from({ length: 6 }, () => classifier.classify(bigJpeg)));
    for (const result of results) assert.equal(result.predictions[0].index, expectedIndex);
    const decoding = classifier.decoding();
    assert.equal(decoding.peakPixels, 2 * PIXELS, 'two images decoded side by side, never three');
    assert.ok(decoding.peakPixels <= decoding.limit);
    assert.equal(decoding.pixels, 0);
    assert.equal(decoding.waiting, 0);
  });
});

test('an image larger than the whole budget still decodes, alone', async () => {
  await withClassifier(PIXELS - 1, async (classifier) => {
    const results = await Promise.all(Array.from({ length: 3 }, () => classifier.classify(bigJpeg)));
    for (const result of results) assert.equal(result.predictions[0].index, expectedIndex);
    assert.equal(classifier.decoding().peakPixels, PIXELS);
  });
});

test('an image whose request went away while it waited gives up its place; the budget stays whole', async () => {
  await withClassifier(PIXELS, async (classifier) => {
    // The PNG takes a while to decode, so the second image surely waits behind it.
    const first = classifier.classify(bigPng);
    await until(classifier, PIXELS, 0);
    const cancel = new AbortController();
    const second = classifier.classify(bigJpeg, {}, cancel.signal);
    await until(classifier, PIXELS, 1);
    cancel.abort();
    await assert.rejects(second, (err) => err instanceof ClassifierError && err.code === 'request_cancelled');
    assert.equal((await first).predictions[0].index, expectedIndex);
    assert.deepEqual(
      { pixels: classifier.decoding().pixels, waiting: classifier.decoding().waiting },
      { pixels: 0, waiting: 0 },
    );
    // A leaked reservation would make this one wait for good.
    assert.equal((await classifier.classify(bigJpeg)).predictions[0].index, expectedIndex);
  });
});

test('an image that fails to decode gives its budget back', async () => {
  await withClassifier(PIXELS, async (classifier) => {
    // The header promises 4000x2667; the data stops a third of the way in.
    const truncated = bigPng.subarray(0, Math.floor(bigPng.length / 3));
    const outcomes = await Promise.allSettled([classifier.classify(truncated), classifier.classify(truncated)]);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof ClassifierError && outcome.reason.code === 'corrupt_image');
    }
    assert.equal(classifier.decoding().peakPixels, PIXELS, 'the truncated images reserved their header size');
    assert.equal(classifier.decoding().pixels, 0);
    assert.equal((await classifier.classify(bigJpeg)).predictions[0].index, expectedIndex);
  });
});
