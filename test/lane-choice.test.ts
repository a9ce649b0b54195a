import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { laneTimingsOf, parallelSessionsFor, referenceJpeg } from '../src/engine/lane-choice.ts';

test('a model that outweighs twice the decoding gets every parallel session; a lighter one gets one', () => {
  assert.equal(parallelSessionsFor({ model_ms: 45, decode_ms: 4 }, 2), 2);
  assert.equal(parallelSessionsFor({ model_ms: 45, decode_ms: 4 }, 3), 3);
  assert.equal(parallelSessionsFor({ model_ms: 4, decode_ms: 4 }, 2), 1);
  assert.equal(parallelSessionsFor({ model_ms: 8, decode_ms: 4 }, 2), 1);
  assert.equal(parallelSessionsFor({ model_ms: 8.1, decode_ms: 4 }, 2), 2);
});

test("the reference image is an ImageNet-size JPEG of about the shared photos' weight", async () => {
  const jpeg = await referenceJpeg();
  const meta = await sharp(jpeg).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['jpeg', 500, 375, 3]);
  assert.ok(jpeg.length > 50_000 && jpeg.length < 200_000, `${jpeg.length} bytes`);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the model is timed once when one run settles the choice, and up to three times otherwise', async () => {
  let runs = 0;
  const light = await laneTimingsOf(
    () => sleep(30),
    async () => {
      runs++;
      await sleep(1);
    },
  );
  assert.equal(runs, 1, 'a model under the line after one run is light whatever the next runs give');
  assert.equal(parallelSessionsFor(light, 2), 1);
  assert.ok(light.decode_ms >= 29 && light.model_ms < light.decode_ms, JSON.stringify(light));

  runs = 0;
  const heavy = await laneTimingsOf(
    () => sleep(5),
    async () => {
      runs++;
      await sleep(200);
    },
  );
  assert.equal(runs, 1, 'a run at over twice the line is no accident of noise');
  assert.equal(parallelSessionsFor(heavy, 2), 2);
});
