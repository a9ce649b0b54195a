/**
 * Video jobs in Redis mode: the `serve` process (no model) queues them in the shared Redis on
 * 127.0.0.1:6379 under a prefix of this run's own, and `worker` processes (int8 MobileNetV2, real
 * ffmpeg) decode them. The jellyfish clip's timeline and summary, progress by frames, DELETE
 * stopping the worker's ffmpeg, SIGTERM of a worker mid-video (no ffmpeg left, the job not lost),
 * uploads passing through Redis and the MAX_VIDEO_BYTES limit, one video at a time per worker.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ClassifierError } from '../src/errors.ts';
import { redisQueueSettingsFromEnv } from '../src/queue/redis-config.ts';
import type { RedisJobRecord } from '../src/queue/redis-job.ts';
import { redisKeys } from '../src/queue/redis-keys.ts';
import { createRedisQueue } from '../src/queue/redis-queue.ts';
import type { JobSpec, VideoSource } from '../src/queue/types.ts';
import { startApi, type ApiHandle } from './helpers/redis-api.ts';
import {
  SHARED_REDIS_URL,
  deleteKeys,
  killAll,
  startWorkerProcess,
  uniquePrefix,
  until,
  type WorkerHandle,
} from './helpers/redis-processes.ts';
import { sharedPath } from './helpers/shared.ts';

const prefix = uniquePrefix('video');
const keys = redisKeys(prefix);
let root: string;
let env: Record<string, string>;
let api: ApiHandle;
let redis: Redis;
let worker: WorkerHandle;

const JELLYFISH = sharedPath('videos', 'pealayer-jellyfish.mp4');

/** ffmpeg and ffprobe processes whose parent is `parent`. */
function ffmpegChildren(parent: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = /\((.*)\)/.exec(stat)?.[1] ?? '';
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && /ffmpeg|ffprobe/.test(comm)) found.push(`${pid} ${comm}`);
    } catch {
      // ended while we looked
    }
  }
  return found;
}

/** Gone, or at most a zombie waiting for init to reap it. */
function isGone(pid: string): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return true;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
  } catch {
    return true;
  }
}

async function postJob(body: unknown): Promise<string> {
  const response = await fetch(`${api.baseUrl}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 202, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

async function getJob(id: string): Promise<RedisJobRecord> {
  const response = await fetch(`${api.baseUrl}/jobs/${id}`);
  assert.equal(response.status, 200);
  return (await response.json()) as RedisJobRecord;
}

/** Polls GET /jobs/{id} until `done` frames are classified, and answers the record seen then. */
function runningWith(id: string, done: number, timeoutMs = 60_000): Promise<RedisJobRecord> {
  return until(
    `job ${id} to have ${done} frames done`,
    async () => {
      const job = await getJob(id);
      assert.ok(job.status === 'queued' || job.status === 'running', `job ended early: ${JSON.stringify(job)}`);
      return job.status === 'running' && job.progress.done >= done ? job : undefined;
    },
    timeoutMs,
    20,
  );
}

function videoSpec(source: VideoSource, every = 1): JobSpec {
  return { kind: 'video', images: [], options: { topK: 3 }, video: { source, sampling: { every } } };
}

before(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'mc-redis-video-'));
  copyFileSync(JELLYFISH, path.join(root, 'jellyfish.mp4'));
  // A long clip whose frames decode quickly: long enough to be stopped half-way.
  execFileSync('/usr/bin/ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=40'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', path.join(root, 'long.mp4')],
  ]);
  env = {
    QUEUE_URL: SHARED_REDIS_URL,
    QUEUE_PREFIX: prefix,
    // The API and the workers see the same folder: video_path is opened where the job runs.
    IMAGE_ROOT: root,
    JOB_LOCK_MS: '3000',
    JOB_STALLED_INTERVAL_MS: '1000',
    JOB_BACKOFF_MS: '200',
    JOB_RETENTION_SECONDS: '600',
  };
  redis = new Redis(SHARED_REDIS_URL);
  api = await startApi(env);
  worker = await startWorkerProcess(env);
  await until('the API to see the worker', async () => (await api.queue.stats()).workers === 1, 10_000);
});

after(async () => {
  await killAll();
  await api?.close();
  redis?.disconnect();
  await deleteKeys(SHARED_REDIS_URL, prefix);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('video jobs in Redis mode (worker processes, real model and ffmpeg)', () => {
  test('video_path through a worker: a timeline and a summary in which jellyfish appears', async () => {
    const id = await postJob({ video_path: 'jellyfish.mp4', top_k: 3 });
    const job = await api.queue.waitFor(id, 60_000);
    assert.ok(job);
    const record = await getJob(id);
    assert.equal(record.kind, 'video');
    assert.equal(record.status, 'succeeded', JSON.stringify(record.error));
    assert.equal(record.worker, worker.id);
    assert.equal(record.error, null);
    assert.deepEqual(record.progress, { done: 10, failed: 0, total: 10, eta_seconds: 0 });
    const video = record.video!;
    assert.equal(video.video.source, 'jellyfish.mp4');
    assert.equal(video.video.width, 1280);
    assert.equal(video.timeline.length, 10);
    assert.equal(video.timeline[2].timecode, '00:00:02.002');
    assert.equal(video.timeline[0].predictions.length, 3);
    assert.ok(video.summary.classes.some((e) => e.label === 'jellyfish'));
    assert.equal(record.results, undefined);
  });

  test('progress by frames shows on GET /jobs/{id} while the worker decodes', async () => {
    const id = await postJob({ video_path: 'long.mp4', every: 0.2 });
    const running = await runningWith(id, 5);
    assert.equal(running.progress.total, 200);
    assert.ok(running.progress.done < 200);
    assert.equal(typeof running.progress.eta_seconds, 'number');
    assert.ok(running.started_at);
    const job = await api.queue.waitFor(id, 120_000);
    assert.equal(job?.status, 'succeeded', JSON.stringify(job?.error));
    assert.equal(job?.video?.timeline.length, 200);
  });

  test('DELETE of a running video: its worker stops ffmpeg, the job ends cancelled', async () => {
    const id = await postJob({ video_path: 'long.mp4', every: 0.04 });
    await runningWith(id, 3);
    const ffmpeg = ffmpegChildren(worker.pid).filter((p) => p.endsWith('ffmpeg'));
    assert.equal(ffmpeg.length, 1, 'ffmpeg runs under the worker');
    const response = await fetch(`${api.baseUrl}/jobs/${id}`, { method: 'DELETE' });
    assert.equal(response.status, 200, await response.clone().text());
    const cancelled = (await response.json()) as RedisJobRecord;
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.error?.code, 'request_cancelled');
    assert.ok(cancelled.progress.done < 1000);
    assert.ok(cancelled.finished_at);
    assert.equal(cancelled.video, null);
    assert.ok(isGone(ffmpeg[0].split(' ')[0]), `ffmpeg ${ffmpeg[0]} is still there`);
    assert.deepEqual(ffmpegChildren(worker.pid), []);
    // Cancelled for good: a second DELETE says so, and GET agrees.
    assert.equal((await getJob(id)).status, 'cancelled');
    assert.equal((await fetch(`${api.baseUrl}/jobs/${id}`, { method: 'DELETE' })).status, 409);
  });

  test('an upload passes through Redis (base64 given to the queue): same answer, its bytes gone afterwards', async () => {
    const data = readFileSync(JELLYFISH).toString('base64');
    const accepted = await api.queue.submit(videoSpec({ kind: 'base64', data, label: 'dive.mp4' }, 5));
    assert.equal(accepted.status, 'queued');
    const job = await api.queue.waitFor(accepted.id, 60_000);
    assert.equal(job?.status, 'succeeded', JSON.stringify(job?.error));
    assert.equal(job?.video?.video.source, 'dive.mp4');
    assert.equal(job?.video?.timeline.length, 2);
    assert.ok(job?.video?.summary.classes.some((e) => e.label === 'jellyfish'));
    assert.equal(await redis.exists(keys.video(accepted.id)), 0, 'the upload is deleted once its job ended');
  });

  test("an upload's temporary file is read into Redis and deleted at once; over MAX_VIDEO_BYTES it is refused", async () => {
    const file = path.join(root, 'upload-tmp.mp4');
    copyFileSync(JELLYFISH, file);
    const accepted = await api.queue.submit(videoSpec({ kind: 'upload', file, label: 'upload.mp4' }, 5));
    assert.equal(existsSync(file), false, 'the temporary file is gone once the job is queued');
    const job = await api.queue.waitFor(accepted.id, 60_000);
    assert.equal(job?.status, 'succeeded', JSON.stringify(job?.error));
    assert.equal(job?.video?.video.source, 'upload.mp4');

    const small = createRedisQueue({
      settings: redisQueueSettingsFromEnv(SHARED_REDIS_URL, env, { maxVideoBytes: 100_000 }),
      log: () => undefined,
    });
    try {
      copyFileSync(JELLYFISH, file);
      const before = (await small.stats()).waiting;
      await assert.rejects(
        small.submit(videoSpec({ kind: 'upload', file, label: 'big.mp4' })),
        (err: unknown) =>
          err instanceof ClassifierError &&
          err.code === 'video_too_large_bytes' &&
          err.status === 413 &&
          /video_url/.test(err.message),
      );
      assert.equal(existsSync(file), false, 'a refused upload is deleted too');
      await assert.rejects(
        small.submit(videoSpec({ kind: 'base64', data: readFileSync(JELLYFISH).toString('base64'), label: 'b.mp4' })),
        (err: unknown) => err instanceof ClassifierError && err.code === 'video_too_large_bytes',
      );
      assert.equal((await small.stats()).waiting, before, 'nothing was queued');
    } finally {
      await small.close();
    }
    // QUEUE_MAX_BYTES (the largest job in Redis) bounds an upload too, when it is the lower limit.
    const smallJobs = createRedisQueue({
      settings: redisQueueSettingsFromEnv(SHARED_REDIS_URL, env, { maxJobBytes: 100_000 }),
      log: () => undefined,
    });
    try {
      copyFileSync(JELLYFISH, file);
      await assert.rejects(
        smallJobs.submit(videoSpec({ kind: 'upload', file, label: 'big.mp4' })),
        (err: unknown) =>
          err instanceof ClassifierError && err.code === 'video_too_large_bytes' && /QUEUE_MAX_BYTES/.test(err.message),
      );
      assert.equal(existsSync(file), false);
    } finally {
      await smallJobs.close();
    }
  });

  test('one video at a time per worker: images are not held up, a second video waits and then runs', async () => {
    const first = await postJob({ video_path: 'long.mp4', every: 0.04 });
    await runningWith(first, 3);
    // Queued while the first decodes: an uploaded video and an image.
    const second = await api.queue.submit(
      videoSpec({ kind: 'base64', data: readFileSync(JELLYFISH).toString('base64'), label: 'second.mp4' }, 5),
    );
    const shark = readFileSync(sharedPath('images', 'photos', 'test_image_shark.jpg')).toString('base64');
    const photo = await api.queue.submit({
      kind: 'single',
      images: [{ kind: 'base64', data: shark, label: 'shark.jpg' }],
      options: {},
    });
    const photoDone = await api.queue.waitFor(photo.id, 30_000);
    assert.equal(photoDone?.status, 'succeeded', 'an image job finishes while the video decodes');
    assert.equal((await getJob(first)).status, 'running');
    const waiting = await getJob(second.id);
    assert.equal(waiting.status, 'queued', 'the second video waits for the worker to be free');
    assert.ok(ffmpegChildren(worker.pid).filter((p) => p.endsWith('ffmpeg')).length <= 1);
    // A waiting video is removed at once, its upload with it.
    const removed = await fetch(`${api.baseUrl}/jobs/${second.id}`, { method: 'DELETE' });
    assert.equal(removed.status, 200);
    assert.equal(((await removed.json()) as RedisJobRecord).status, 'cancelled');
    assert.equal(await redis.exists(keys.video(second.id)), 0);
    // A third video runs once the first is stopped.
    const third = await postJob({ video_path: 'jellyfish.mp4', every: 5 });
    assert.equal((await fetch(`${api.baseUrl}/jobs/${first}`, { method: 'DELETE' })).status, 200);
    const done = await api.queue.waitFor(third, 60_000);
    assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
  });

  test('SIGTERM of the worker mid-video: no ffmpeg left, the job goes back to the queue and another worker finishes it', async () => {
    const id = await postJob({ video_path: 'long.mp4', every: 0.5 });
    await runningWith(id, 3);
    const ffmpeg = ffmpegChildren(worker.pid);
    assert.equal(ffmpeg.filter((p) => p.endsWith('ffmpeg')).length, 1, 'ffmpeg runs under the worker');
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    assert.equal(exit.code, 0, worker.output());
    for (const process of ffmpeg) assert.ok(isGone(process.split(' ')[0]), `${process} outlived its worker`);
    const back = await getJob(id);
    assert.equal(back.status, 'queued', JSON.stringify(back));
    const next = await startWorkerProcess(env);
    const job = await api.queue.waitFor(id, 60_000);
    assert.equal(job?.status, 'succeeded', JSON.stringify(job?.error));
    assert.equal(job?.worker, next.id);
    assert.equal(job?.video?.timeline.length, 80);
    worker = next;
  });
});
