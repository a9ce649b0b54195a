import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatcher, type RunBatch } from '../src/engine/batcher.ts';

/** A model stand-in whose output for an image is its input's first value doubled: lets a test see whose answer is whose. */
const doubling = (calls: number[]): RunBatch<Float32Array> => async (items) => {
  calls.push(items.length);
  await new Promise((r) => setTimeout(r, 5));
  return Float32Array.from(items, (item) => item[0] * 2);
};

test('gathers concurrent submissions up to maxBatch and gives every caller its own answer', async () => {
  const calls: number[] = [];
  const batcher = createBatcher(doubling(calls), { maxBatch: 4, maxWaitMs: 50, itemLength: 2, outputLength: 1 });
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(Float32Array.of(i, 0))));
  assert.deepEqual(answers.map((a) => a.scores[0]), Array.from({ length: 10 }, (_, i) => i * 2));
  assert.deepEqual(calls, [4, 4, 2]);
  assert.ok(answers.every((a) => a.batch_size === calls[Math.floor(answers.indexOf(a) / 4)]));
});

test('a lone submission runs after maxWaitMs rather than waiting for company', async () => {
  const calls: number[] = [];
  const batcher = createBatcher(doubling(calls), { maxBatch: 8, maxWaitMs: 20, itemLength: 2, outputLength: 1 });
  const answer = await batcher.submit(Float32Array.of(21, 0));
  assert.equal(answer.scores[0], 42);
  assert.ok(answer.queue_ms >= 15, `waited ${answer.queue_ms} ms`);
  assert.deepEqual(calls, [1]);
});

test('a failing model run rejects that batch only; the next batch runs', async () => {
  let runs = 0;
  const flaky: RunBatch<Float32Array> = async (items) => {
    runs++;
    if (runs === 1) throw new Error('session lost');
    return Float32Array.from(items, (item) => item[0]);
  };
  const batcher = createBatcher(flaky, { maxBatch: 2, maxWaitMs: 0, itemLength: 2, outputLength: 1 });
  const first = await Promise.allSettled([batcher.submit(Float32Array.of(1, 0)), batcher.submit(Float32Array.of(2, 0))]);
  assert.equal(first[0].status, 'rejected');
  const second = await batcher.submit(Float32Array.of(3, 0));
  assert.equal(second.scores[0], 3);
  await batcher.drain();
  assert.equal(batcher.waiting(), 0);
});

test('an item of the wrong size is refused', async () => {
  const batcher = createBatcher(doubling([]), { maxBatch: 2, maxWaitMs: 0, itemLength: 2, outputLength: 1 });
  await assert.rejects(batcher.submit(Float32Array.of(1, 2, 3)), /3 values/);
});
