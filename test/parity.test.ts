import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { preprocessImage, DEFAULT_PREPROCESS_OPTIONS } from '../src/engine/preprocess.ts';
import { createClassifier } from '../src/engine/classifier.ts';
import { TEST_MODEL, referenceTop5, sharedPath } from './helpers/shared.ts';

const TENSORS: [string, string][] = [
  ['images/photos/imagenet_finch.jpeg', 'imagenet_finch.jpeg.f32'],
  ['images/imagenet-marine/n01496331_electric_ray.JPEG', 'n01496331_electric_ray.JPEG.f32'],
  ['images/photos/test_image_shark.jpg', 'test_image_shark.jpg.f32'],
];

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

for (const shrinkOnLoad of [true, false]) {
  test(`preprocessing matches the reference tensors (shrinkOnLoad=${shrinkOnLoad})`, async () => {
    for (const [image, tensorFile] of TENSORS) {
      const reference = new Float32Array(
        new Uint8Array(readFileSync(sharedPath('reference', 'tensors', tensorFile))).buffer,
      );
      const { tensor } = await preprocessImage(readFileSync(sharedPath(image)), {
        ...DEFAULT_PREPROCESS_OPTIONS,
        shrinkOnLoad,
      });
      const mad = meanAbsDiff(tensor, reference);
      assert.ok(mad <= 0.02, `${image}: mean abs diff ${mad} > 0.02`);
      // Full-size decoding reproduces Pillow bit for bit on these baseline JPEGs.
      if (!shrinkOnLoad) assert.ok(mad < 1e-6, `${image}: exact mode differs by ${mad}`);
    }
  });
}

test('top-1 agrees with the reference on at least 57 of the 58 shared images, probabilities within 0.03', async () => {
  const reference = referenceTop5();
  const classifier = await createClassifier({ modelPath: TEST_MODEL });
  try {
    const images = Object.keys(reference.top5);
    assert.equal(images.length, 58);
    let agree = 0;
    const disagreements: string[] = [];
    for await (const outcome of classifier.classifyMany(
      images.map((p) => sharedPath(p)),
      { topK: 5 },
    )) {
      assert.ok(outcome.result, `${String(outcome.input)} failed: ${outcome.error?.message}`);
      const key = images[outcome.index];
      const expected = reference.top5[key][0];
      const got = outcome.result.predictions[0];
      if (got.index === expected.index) {
        agree++;
        assert.ok(
          Math.abs(got.probability - expected.probability) <= 0.03,
          `${key}: probability ${got.probability} vs ${expected.probability}`,
        );
      } else disagreements.push(`${key}: ${got.index} vs ${expected.index}`);
    }
    assert.ok(agree >= 57, `top-1 agreed on ${agree}/58: ${disagreements.join('; ')}`);
  } finally {
    await classifier.close();
  }
});
