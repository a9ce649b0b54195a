/**
 * Photos tagged with another colour space than sRGB (a phone's Display P3, a camera's Adobe RGB)
 * are converted to sRGB; untagged and sRGB-tagged ones are read as they are, like the reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { readImageHeader } from '../src/engine/image-header.ts';
import { preparePixels } from '../src/engine/preprocess.ts';
import { SHARK_PHOTO, sharedPath } from './helpers/shared.ts';

function difference(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  assert.equal(a.length, b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

test('a Display P3 photo gives the pixels of its sRGB original, within rounding', async () => {
  const original = readFileSync(SHARK_PHOTO);
  // The same photo as a phone would store it: its colours in Display P3, the profile embedded (lossless PNG).
  const p3 = await sharp(original).rotate().withIccProfile('p3').png().toBuffer();
  assert.equal((await readImageHeader(p3))?.profile, 'other');
  const expected = await preparePixels(original);
  const got = await preparePixels(p3);
  const { mean, max } = difference(got.pixels, expected.pixels);
  // Read as if it were sRGB, the P3 values differ by 5.6 on average and up to 32.
  assert.ok(
    mean < 0.5 && max <= 2,
    `P3 pixels differ from the sRGB original by ${mean.toFixed(2)} on average, ${max} at most`,
  );
});

test('profiles are told apart by their description: sRGB ones are left alone, others converted', async () => {
  const cases: [string, 'none' | 'srgb' | 'other', string | null][] = [
    ['images/imagenet-marine/n01496331_electric_ray.JPEG', 'none', null],
    ['images/photos/test_image_shark.jpg', 'srgb', 'sRGB IEC61966-2.1'],
    ['images/imagenet-other/n01537544_indigo_bunting.JPEG', 'srgb', 'Nikon sRGB 4.0.0.3001'],
    ['images/photos/imagenet_finch.jpeg', 'other', 'Adobe RGB (1998)'],
    ['images/camera/heic/IMG_5195.HEIC', 'other', 'Display P3'],
  ];
  for (const [image, profile, profileName] of cases) {
    const header = await readImageHeader(readFileSync(sharedPath(image)));
    assert.deepEqual({ profile: header?.profile, profileName: header?.profileName }, { profile, profileName }, image);
  }
});
