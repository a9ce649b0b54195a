import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { parallelSessionsFor, referenceJpeg } from '../src/engine/lane-choice.ts';

test('a model that outweighs twice the decoding gets every parallel session; a lighter one gets one', () => {
  assert.equal(parallelSessionsFor({ model_ms: 45, decode_ms: 4 }, 2), 2);
  assert.equal(parallelSessionsFor({ model_ms: 45, decode_ms: 4 }, 3), 3);
  assert.equal(parallelSessionsFor({ model_ms: 4, decode_ms: 4 }, 2), 1);
  assert.equal(parallelSessionsFor({ model_ms: 8, decode_ms: 4 }, 2), 1);
  assert.equal(parallelSessionsFor({ model_ms: 8.1, decode_ms: 4 }, 2), 2);
});

test('the reference image is an ImageNet-size JPEG of about the shared photos\' weight', async () => {
  const jpeg = await referenceJpeg();
  const meta = await sharp(jpeg).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['jpeg', 500, 375, 3]);
  assert.ok(jpeg.length > 50_000 && jpeg.length < 200_000, `${jpeg.length} bytes`);
});
