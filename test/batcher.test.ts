import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatcher, type RunBatch } from '../src/engine/batcher.ts';

/** A model stand-in whose output for an image is its input's first value doubled: lets a test see whose answer is whose. */
const doubling =
  (calls: number[]): RunBatch<Float32Array> =>
  async (items) => {
    calls.push(items.length);
    await new Promise((r) => setTimeout(r, 5));
    return Float32Array.from(items, (item) => item[0] * 2);
  };

test('gathers concurrent submissions up to maxBatch and gives every caller its own answer', async () => {
  const calls: number[] = [];
  const batcher = createBatcher(doubling(calls), { maxBatch: 4, maxWaitMs: 50, itemLength: 2, outputLength: 1 });
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(Float32Array.of(i, 0))));
  assert.deepEqual(
    answers.map((a) => a.scores[0]),
    Array.from({ length: 10 }, (_, i) => i * 2),
  );
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
  const first = await Promise.allSettled([
    batcher.submit(Float32Array.of(1, 0)),
    batcher.submit(Float32Array.of(2, 0)),
  ]);
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

/** A lane that records when it ran, so a test can see which lanes overlapped. */
function timedLane(
  name: string,
  log: { lane: string; size: number; start: number; end: number }[],
  msPerItem = 4,
): RunBatch<Float32Array> {
  return async (items) => {
    const start = performance.now();
    await new Promise((r) => setTimeout(r, 10 + msPerItem * items.length));
    log.push({ lane: name, size: items.length, start, end: performance.now() });
    return Float32Array.from(items, (item) => item[0] * 2);
  };
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) =>
  a.start < b.end && b.start < a.end;

test('parallel lanes run side by side, the waiting images split evenly between them', async () => {
  const log: { lane: string; size: number; start: number; end: number }[] = [];
  const batcher = createBatcher(
    { parallel: [timedLane('a', log), timedLane('b', log)] },
    { maxBatch: 8, maxWaitMs: 5, itemLength: 2, outputLength: 1 },
  );
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => batcher.submit(Float32Array.of(i, 0))));
  assert.deepEqual(
    answers.map((a) => a.scores[0]),
    Array.from({ length: 16 }, (_, i) => i * 2),
  );
  assert.equal(
    log.reduce((n, r) => n + r.size, 0),
    16,
  );
  assert.ok(log.every((r) => r.size <= 8));
  const [a, b] = [log.filter((r) => r.lane === 'a'), log.filter((r) => r.lane === 'b')];
  assert.ok(
    a.some((x) => b.some((y) => overlaps(x, y))),
    `the two lanes never ran at the same time: ${log.map((r) => `${r.lane}:${r.size}`).join(' ')}`,
  );

  log.length = 0;
  await Promise.all(Array.from({ length: 3 }, (_, i) => batcher.submit(Float32Array.of(i, 0))));
  assert.deepEqual(log.map((r) => r.size).sort(), [1, 2]);
});

test('a lone image goes to the solo lane, which never runs beside the parallel lanes', async () => {
  const log: { lane: string; size: number; start: number; end: number }[] = [];
  const reports: string[] = [];
  const batcher = createBatcher(
    { parallel: [timedLane('a', log), timedLane('b', log)], solo: timedLane('solo', log) },
    { maxBatch: 4, maxWaitMs: 2, itemLength: 2, outputLength: 1 },
    (report) => reports.push(report.lane),
  );
  const alone = await batcher.submit(Float32Array.of(5, 0));
  assert.equal(alone.scores[0], 10);
  assert.deepEqual(
    log.map((r) => r.lane),
    ['solo'],
  );
  assert.deepEqual(reports, ['solo']);

  // A burst while the solo lane runs waits for it, then goes to the parallel lanes.
  log.length = 0;
  const first = batcher.submit(Float32Array.of(1, 0));
  await new Promise((r) => setTimeout(r, 5));
  const burst = Array.from({ length: 12 }, (_, i) => batcher.submit(Float32Array.of(i, 0)));
  const answers = await Promise.all([first, ...burst]);
  assert.deepEqual(
    answers.slice(1).map((a) => a.scores[0]),
    Array.from({ length: 12 }, (_, i) => i * 2),
  );
  const solo = log.filter((r) => r.lane === 'solo');
  const others = log.filter((r) => r.lane !== 'solo');
  assert.equal(solo.length, 1);
  assert.ok(
    others.length >= 3 && new Set(others.map((r) => r.lane)).size === 2,
    `lanes used: ${log.map((r) => `${r.lane}:${r.size}`).join(' ')}`,
  );
  for (const other of others) assert.ok(!overlaps(solo[0], other), 'the solo lane ran beside a parallel lane');
  await batcher.drain();
});

test('with nothing on its way, a lone image runs at once instead of waiting maxWaitMs for company', async () => {
  const calls: number[] = [];
  const batcher = createBatcher(doubling(calls), {
    maxBatch: 8,
    maxWaitMs: 60_000,
    itemLength: 2,
    outputLength: 1,
    arriving: () => 0,
  });
  const answer = await batcher.submit(Float32Array.of(4, 0));
  assert.equal(answer.scores[0], 8);
  assert.ok(answer.queue_ms < 30_000, `waited ${answer.queue_ms} ms`);
  assert.deepEqual(calls, [1]);
});

test('while images are on their way, the batch waits for them and runs once the last one is in', async () => {
  const calls: number[] = [];
  let arriving = 3;
  const batcher = createBatcher(doubling(calls), {
    maxBatch: 8,
    maxWaitMs: 60_000,
    itemLength: 2,
    outputLength: 1,
    arriving: () => arriving,
  });
  const answers: Promise<{ scores: Float32Array; queue_ms: number }>[] = [];
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 5));
    arriving--;
    answers.push(batcher.submit(Float32Array.of(i, 0)));
  }
  const done = await Promise.all(answers);
  assert.deepEqual(
    done.map((a) => a.scores[0]),
    [0, 2, 4],
  );
  assert.deepEqual(calls, [3]);
  assert.ok(done[0].queue_ms < 30_000, 'the batch waited for maxWaitMs although nothing more was coming');
});

test('a lone image while others are on their way goes to a parallel lane, not the solo lane', async () => {
  const log: { lane: string; size: number; start: number; end: number }[] = [];
  let arriving = 1;
  const batcher = createBatcher(
    { parallel: [timedLane('a', log)], solo: timedLane('solo', log) },
    { maxBatch: 4, maxWaitMs: 5, itemLength: 2, outputLength: 1, arriving: () => arriving },
  );
  // The other image never comes (its decoding failed, say): after maxWaitMs the lone one runs on lane a.
  await batcher.submit(Float32Array.of(1, 0));
  assert.deepEqual(
    log.map((r) => r.lane),
    ['a'],
  );
  arriving = 0;
  await batcher.submit(Float32Array.of(2, 0));
  assert.deepEqual(
    log.map((r) => r.lane),
    ['a', 'solo'],
  );
});
