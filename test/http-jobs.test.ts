// POST/GET/DELETE /jobs against the in-process queue, real model, one service. The queue runs one
// image at a time here, so a job submitted behind a running one is reliably still queued.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ClassificationResult } from '../src/engine/types.ts';
import type { RunningService } from '../src/http/service.ts';
import type { JobRecord } from '../src/queue/types.ts';
import {
  SHARK_PHOTO,
  expectError,
  json,
  marineImage,
  pollJob,
  postForm,
  postJson,
  startImageServer,
  startTestService,
  type ImageServer,
} from './helpers/http-fixtures.ts';

const RETENTION_SECONDS = 2;
const MAX_BATCH = 8;

let service: RunningService;
let images: ImageServer;

before(async () => {
  images = await startImageServer('127.0.0.1');
  service = await startTestService({
    urlAllowHosts: ['127.0.0.1'],
    jobConcurrency: 1,
    queueLimit: 2,
    maxBatchImages: MAX_BATCH,
    jobRetentionSeconds: RETENTION_SECONDS,
  });
});

after(async () => {
  await service?.close();
  await images?.close();
});

interface Accepted {
  id: string;
  status: string;
  status_url: string;
}

async function submit(body: unknown): Promise<Accepted> {
  const res = await postJson(`${service.url}/jobs`, body);
  const accepted = await json<Accepted>(res, 202);
  assert.equal(accepted.status, 'queued');
  assert.equal(accepted.status_url, `/jobs/${accepted.id}`);
  assert.equal(res.headers.get('location'), accepted.status_url);
  return accepted;
}

test('a batch job runs to completion with per-image results in input order', async () => {
  const white = marineImage('great_white_shark');
  const ray = marineImage('electric_ray');
  const tiger = marineImage('tiger_shark');
  const accepted = await submit({
    images: [
      { image_base64: white.bytes.toString('base64') },
      images.url(`/marine/${ray.name}`),
      { image_url: images.url(`/marine/${tiger.name}`) },
      { image_base64: Buffer.from('this is not an image').toString('base64') },
    ],
    top_k: 2,
  });
  const job = await pollJob<JobRecord>(`${service.url}${accepted.status_url}`);
  assert.equal(job.id, accepted.id);
  assert.equal(job.kind, 'batch');
  assert.equal(job.status, 'succeeded', 'a batch succeeds when any image could be classified');
  assert.deepEqual(job.progress, { done: 4, failed: 1, total: 4 });
  assert.equal(job.result, undefined);
  const results = job.results!;
  assert.deepEqual(
    results.map((r) => r.index),
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    results.map((r) => r.source),
    ['images[0]', images.url(`/marine/${ray.name}`), images.url(`/marine/${tiger.name}`), 'images[3]'],
  );
  assert.deepEqual(
    results.slice(0, 3).map((r) => r.result?.top1?.index),
    [white.referenceTop1, ray.referenceTop1, tiger.referenceTop1],
  );
  assert.ok(results.slice(0, 3).every((r) => r.result?.predictions.length === 2 && r.error === undefined));
  assert.equal(results[3].result, undefined);
  assert.equal(results[3].error?.code, 'not_an_image');
  assert.equal(results[3].error?.status, 415);
  assert.ok(job.created_at <= job.started_at! && job.started_at! <= job.finished_at!, 'timestamps in order');
});

test('a single-image job (multipart upload) answers with `result`', async () => {
  const shark = readFileSync(SHARK_PHOTO);
  const res = await postForm(`${service.url}/jobs`, [{ name: 'shark.jpg', bytes: shark }], {
    top_k: '1',
    marine_only: 'true',
  });
  const accepted = await json<Accepted>(res, 202);
  const job = await pollJob<JobRecord>(`${service.url}${accepted.status_url}`);
  assert.equal(job.kind, 'single');
  assert.equal(job.status, 'succeeded');
  assert.deepEqual(job.progress, { done: 1, failed: 0, total: 1 });
  assert.equal(job.results, undefined);
  const result = job.result as ClassificationResult;
  assert.equal(result.answer, 'great white shark');
  assert.equal(result.predictions.length, 1);
  assert.equal(job.error, null);
});

test('several uploaded files make a batch job named by file', async () => {
  const puffer = marineImage('puffer');
  const urchin = marineImage('sea_urchin');
  const res = await postForm(`${service.url}/jobs`, [
    { field: 'files', name: puffer.name, bytes: puffer.bytes },
    { field: 'files', name: urchin.name, bytes: urchin.bytes },
  ]);
  const job = await pollJob<JobRecord>(`${service.url}${(await json<Accepted>(res, 202)).status_url}`);
  assert.equal(job.kind, 'batch');
  assert.deepEqual(
    job.results!.map((r) => [r.source, r.result?.top1?.index]),
    [
      [puffer.name, puffer.referenceTop1],
      [urchin.name, urchin.referenceTop1],
    ],
  );
});

test('a single-image job that fails reports the engine error', async () => {
  const accepted = await submit({ image_base64: '' });
  const job = await pollJob<JobRecord>(`${service.url}${accepted.status_url}`);
  assert.equal(job.status, 'failed');
  assert.equal(job.result, null);
  assert.deepEqual(job.error, { code: 'empty_image', message: job.error!.message, status: 400 });
  assert.deepEqual(job.progress, { done: 1, failed: 1, total: 1 });
});

test('cancel a queued job; running and finished jobs are not cancellable; a full queue answers 503', async () => {
  // One image at a time and four camera-size photos ahead: the next jobs cannot start for over a second.
  const running = await submit({ images: Array.from({ length: 4 }, () => images.url('/shark.jpg')) });
  const queued1 = await submit({ image_url: images.url('/shark.jpg') });
  const queued2 = await submit({ image_url: images.url('/shark.jpg') });

  const full = await expectError(
    postJson(`${service.url}/jobs`, { image_url: images.url('/shark.jpg') }),
    503,
    'queue_full',
  );
  assert.match(full.error.message, /queue is full/);
  const again = await postJson(`${service.url}/jobs`, { image_url: images.url('/shark.jpg') });
  assert.equal(again.status, 503);
  assert.ok(Number(again.headers.get('retry-after')) >= 1, 'Retry-After tells the client when to come back');
  await again.arrayBuffer();

  const cancelled = await json<JobRecord>(fetch(`${service.url}/jobs/${queued1.id}`, { method: 'DELETE' }));
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.progress.done, 0);
  assert.ok(cancelled.finished_at);
  assert.equal((await json<JobRecord>(fetch(`${service.url}/jobs/${queued1.id}`))).status, 'cancelled');
  await expectError(fetch(`${service.url}/jobs/${queued1.id}`, { method: 'DELETE' }), 409, 'job_not_cancellable');

  const busy = await json<JobRecord>(fetch(`${service.url}/jobs/${running.id}`));
  assert.equal(busy.status, 'running');
  await expectError(fetch(`${service.url}/jobs/${running.id}`, { method: 'DELETE' }), 409, 'job_not_cancellable');

  // Room again after the cancellation.
  const later = await submit({ image_url: images.url('/shark.jpg') });
  const finished = await pollJob<JobRecord>(`${service.url}/jobs/${later.id}`);
  assert.equal(finished.status, 'succeeded');
  const first = await json<JobRecord>(fetch(`${service.url}/jobs/${running.id}`));
  assert.equal(first.status, 'succeeded');
  assert.deepEqual(first.progress, { done: 4, failed: 0, total: 4 });
  assert.equal((await json<JobRecord>(fetch(`${service.url}/jobs/${queued2.id}`))).status, 'succeeded');
});

test('unknown jobs answer 404 job_not_found; finished jobs are evicted after the retention', async () => {
  await expectError(fetch(`${service.url}/jobs/00000000-0000-0000-0000-000000000000`), 404, 'job_not_found');
  await expectError(fetch(`${service.url}/jobs/nope`, { method: 'DELETE' }), 404, 'job_not_found');

  const accepted = await submit({ image_base64: marineImage('starfish').bytes.toString('base64') });
  const job = await pollJob<JobRecord>(`${service.url}${accepted.status_url}`);
  assert.equal(job.status, 'succeeded');
  await new Promise((resolve) => setTimeout(resolve, RETENTION_SECONDS * 1000 + 300));
  await expectError(fetch(`${service.url}${accepted.status_url}`), 404, 'job_not_found');
});

test('batch requests are checked before anything is queued', async () => {
  const url = images.url('/shark.jpg');
  await expectError(postJson(`${service.url}/jobs`, { images: [] }), 400, 'invalid_request');
  const tooMany = await expectError(
    postJson(`${service.url}/jobs`, { images: Array.from({ length: MAX_BATCH + 1 }, () => url) }),
    400,
    'too_many_images',
  );
  assert.match(tooMany.error.message, new RegExp(`${MAX_BATCH}`));
  await expectError(
    postJson(`${service.url}/jobs`, { images: [url, { image_url: url, image_base64: 'AAAA' }] }),
    400,
    'ambiguous_image',
  );
  const missing = await expectError(postJson(`${service.url}/jobs`, { images: [url, {}] }), 400, 'missing_image');
  assert.match(missing.error.message, /images\[1\]/);
  await expectError(postJson(`${service.url}/jobs`, { image_url: url, images: [url] }), 400, 'ambiguous_image');
  await expectError(postJson(`${service.url}/jobs`, { image_url: url, image_base64: 'AAAA' }), 400, 'ambiguous_image');
  await expectError(
    postForm(`${service.url}/jobs`, [{ name: 'a.jpg', bytes: Buffer.from('x') }], { image_url: url }),
    400,
    'ambiguous_image',
  );
  const unknown = await expectError(
    postJson(`${service.url}/jobs`, { images: [{ image_link: url }] }),
    400,
    'invalid_request',
  );
  assert.match(unknown.error.message, /images\[0\]/);
  await expectError(postJson(`${service.url}/jobs`, { images: ['ftp://example.org/fish.jpg'] }), 400, 'invalid_url');
  await expectError(postJson(`${service.url}/jobs`, { images: [url], top_k: 1001 }), 400, 'invalid_top_k');
  await expectError(postJson(`${service.url}/jobs`, {}), 400, 'missing_image');
  const stats = await service.queue.stats();
  assert.equal(stats.waiting + stats.active, 0, 'nothing was queued');
});

test('shutdown lets the running job finish and starts no queued one (runs last: it closes the service)', async () => {
  const running = await submit({ images: [images.url('/shark.jpg'), images.url('/shark.jpg')] });
  const queued = await submit({ image_url: images.url('/shark.jpg') });
  assert.equal((await json<JobRecord>(fetch(`${service.url}/jobs/${running.id}`))).status, 'running');

  await service.close();
  const finished = await service.queue.get(running.id);
  assert.equal(finished?.status, 'succeeded');
  assert.deepEqual(finished?.progress, { done: 2, failed: 0, total: 2 });
  assert.equal((await service.queue.get(queued.id))?.status, 'queued');
  assert.equal(await service.queue.ready(), false);
  await assert.rejects(
    service.queue.submit({ kind: 'single', images: [{ kind: 'url', url: images.url('/shark.jpg') }], options: {} }),
    { code: 'shutting_down' },
  );
});
