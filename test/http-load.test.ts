// Concurrency: many simultaneous uploads each get their own image's answer, and a flood past a
// small QUEUE_LIMIT is shed with 503 + Retry-After while the service stays up. Two services
// share one loaded classifier (only their admission limits differ).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createClassifier, type Classifier } from '../src/engine/classifier.ts';
import type { ClassificationResult } from '../src/engine/types.ts';
import { createMetrics } from '../src/http/metrics.ts';
import { serviceClassifierOptions, type RunningService } from '../src/http/service.ts';
import { serviceConfig } from '../src/http/config.ts';
import {
  TEST_MODEL,
  expectError,
  json,
  marineImages,
  postForm,
  postImage,
  startTestService,
  type TestImage,
} from './helpers/http-fixtures.ts';

const FLOOD_LIMIT = 4;

let classifier: Classifier;
let roomy: RunningService;
let tight: RunningService;
const metrics = createMetrics();
const marine = marineImages();

before(async () => {
  classifier = await createClassifier(
    serviceClassifierOptions(serviceConfig({ engine: { modelPath: TEST_MODEL } }, {}), { onBatch: metrics.onBatch }),
  );
  roomy = await startTestService({ queueLimit: 256 }, { classifier, metrics });
  tight = await startTestService({ queueLimit: FLOOD_LIMIT }, { classifier });
});

after(async () => {
  await roomy?.close();
  await tight?.close();
  await classifier?.close();
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

test('64 concurrent uploads each get their own image’s answer', async () => {
  // What each image gives on its own, one at a time.
  const alone = new Map<string, ClassificationResult>();
  for (const image of marine) alone.set(image.name, await classifier.classify(image.bytes, { topK: 3 }));
  const agreeing = marine.filter((image) => alone.get(image.name)!.top1!.index === image.referenceTop1).length;
  assert.ok(
    agreeing >= marine.length - 2,
    `top-1 agrees with the reference pipeline for ${agreeing}/${marine.length} images`,
  );

  const sent: TestImage[] = Array.from({ length: 64 }, (_, i) => marine[(i * 7) % marine.length]);
  const answers = await Promise.all(
    sent.map((image) =>
      json<ClassificationResult>(
        postForm(`${roomy.url}/classify`, [{ name: image.name, bytes: image.bytes }], { top_k: '3' }),
      ),
    ),
  );
  answers.forEach((answer, i) => {
    const image = sent[i];
    const expected = alone.get(image.name)!;
    assert.equal(answer.sha256, sha256(image.bytes), `request ${i} answered for its own upload`);
    assert.deepEqual(
      answer.predictions.map((p) => p.index),
      expected.predictions.map((p) => p.index),
      image.name,
    );
    answer.predictions.forEach((p, k) => {
      assert.ok(Math.abs(p.probability - expected.predictions[k].probability) < 1e-4, image.name);
    });
  });

  // The engine's micro-batcher was fed: on average more than one image per model run.
  const text = await (await fetch(`${roomy.url}/metrics`)).text();
  const count = Number(/^classifier_batch_size_count (\d+)/m.exec(text)?.[1]);
  const sum = Number(/^classifier_batch_size_sum (\d+)/m.exec(text)?.[1]);
  assert.ok(sum >= 64 + marine.length, `every image went through a batch (${sum})`);
  assert.ok(sum / count > 1, `batches formed under concurrency (mean ${(sum / count).toFixed(2)} images per run)`);
});

test('a flood past QUEUE_LIMIT is shed with 503 queue_full + Retry-After, and the service stays up', async () => {
  const sent = Array.from({ length: 40 }, (_, i) => marine[i % marine.length]);
  const responses = await Promise.all(sent.map((image) => postImage(`${tight.url}/classify?top_k=1`, image.bytes)));
  const statuses = responses.map((r) => r.status);
  assert.ok(
    statuses.every((s) => s === 200 || s === 503),
    `only 200 and 503: ${statuses.join(',')}`,
  );
  const shed = responses.filter((r) => r.status === 503);
  const served = responses.filter((r) => r.status === 200);
  assert.ok(shed.length > 0, 'some requests were refused');
  assert.ok(served.length >= FLOOD_LIMIT, `at least QUEUE_LIMIT were served (${served.length})`);
  for (const res of shed) {
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    await expectError(res, 503, 'queue_full');
  }
  for (const [i, res] of responses.entries()) {
    if (res.status !== 200) continue;
    const result = (await res.json()) as ClassificationResult;
    assert.equal(result.sha256, sha256(sent[i].bytes));
  }

  const after = await json<ClassificationResult>(postImage(`${tight.url}/classify?top_k=1`, marine[0].bytes));
  assert.equal(after.sha256, sha256(marine[0].bytes));
  const ready = await fetch(`${tight.url}/readyz`);
  assert.equal(ready.status, 200);
  await ready.arrayBuffer();
});
