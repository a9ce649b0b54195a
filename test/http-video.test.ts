/**
 * Video jobs through POST /jobs in the in-process queue (real service, model and ffmpeg): the
 * jellyfish clip's timeline and summary, progress by frames, DELETE stopping ffmpeg at once, and
 * the IMAGE_ROOT policy for video paths.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningService } from '../src/http/service.ts';
import type { JobRecord } from '../src/queue/types.ts';
import { json, pollJob, postJson, startTestService } from './helpers/http-fixtures.ts';
import { startServeProcess } from './helpers/serve-process.ts';
import { sharedPath } from './helpers/shared.ts';

let service: RunningService;
let root: string;

/** ffmpeg and ffprobe processes whose parent is this process (the service runs in it). */
function ffmpegChildren(parent = process.pid): string[] {
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

before(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'mc-http-video-'));
  copyFileSync(sharedPath('videos', 'pealayer-jellyfish.mp4'), path.join(root, 'jellyfish.mp4'));
  execFileSync('/usr/bin/ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=40'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', path.join(root, 'long.mp4')],
  ]);
  service = await startTestService({ imageRoot: root });
});

after(async () => {
  await service?.close();
});

interface Accepted {
  id: string;
  status_url: string;
}

test('a video job: progress by frames, then a timeline and a summary in which jellyfish appears', async () => {
  const accepted = await json<Accepted>(
    postJson(`${service.url}/jobs`, { video_path: 'jellyfish.mp4', top_k: 3 }),
    202,
  );
  const job = await pollJob<JobRecord>(`${service.url}${accepted.status_url}`, {}, 60_000);
  assert.equal(job.kind, 'video');
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  assert.deepEqual(job.progress, { done: 10, failed: 0, total: 10, eta_seconds: 0 });
  const video = job.video!;
  assert.equal(video.video.width, 1280);
  assert.equal(video.timeline.length, 10);
  assert.equal(video.timeline[2].timecode, '00:00:02.002');
  assert.equal(video.timeline[0].predictions.length, 3);
  assert.ok(video.summary.classes.some((e) => e.label === 'jellyfish'));
});

test('DELETE stops a running video job at once: cancelled, no ffmpeg left', async () => {
  const accepted = await json<Accepted>(postJson(`${service.url}/jobs`, { video_path: 'long.mp4', every: 0.04 }), 202);
  const url = `${service.url}${accepted.status_url}`;
  let running: JobRecord;
  for (;;) {
    running = await json<JobRecord>(fetch(url));
    if (running.progress.done >= 3) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(running.status, 'running');
  assert.equal(running.progress.total, 1000);
  assert.equal(typeof running.progress.eta_seconds, 'number');
  const started = performance.now();
  const cancelled = await json<JobRecord>(fetch(url, { method: 'DELETE' }));
  assert.ok(performance.now() - started < 5000);
  assert.equal(cancelled.status, 'cancelled');
  assert.ok(cancelled.progress.done < 1000);
  assert.deepEqual(ffmpegChildren(), []);
});

test('video paths follow IMAGE_ROOT, and video options need a video', async () => {
  const outside = await json<{ error: { code: string } }>(
    postJson(`${service.url}/jobs`, { video_path: '../../etc/passwd' }),
    202,
  ).catch(() => null);
  // The path is checked when the job runs (as image_path is): the job fails with path_not_allowed.
  if (outside) {
    const job = await pollJob<JobRecord>(`${service.url}/jobs/${(outside as unknown as Accepted).id}`);
    assert.equal(job.status, 'failed');
    assert.equal(job.error?.code, 'path_not_allowed');
  }
  const mixed = await json<{ error: { code: string } }>(
    postJson(`${service.url}/jobs`, { image_url: 'https://example.org/a.jpg', every: 2 }),
    400,
  );
  assert.equal(mixed.error.code, 'invalid_request');
  const both = await json<{ error: { code: string } }>(
    postJson(`${service.url}/jobs`, { video_path: 'long.mp4', image_path: 'a.jpg' }),
    400,
  );
  assert.equal(both.error.code, 'ambiguous_image');
});

test('20 video jobs at once are queued, at most two ffmpeg run, all finish', async () => {
  const accepted = await Promise.all(
    Array.from({ length: 20 }, () =>
      json<Accepted>(postJson(`${service.url}/jobs`, { video_path: 'jellyfish.mp4', every: 5 }), 202),
    ),
  );
  let most = 0;
  const watch = setInterval(() => {
    most = Math.max(most, ffmpegChildren().filter((p) => p.endsWith('ffmpeg')).length);
  }, 5);
  try {
    const jobs = await Promise.all(
      accepted.map((a) => pollJob<JobRecord>(`${service.url}${a.status_url}`, {}, 120_000)),
    );
    assert.ok(
      jobs.every((job) => job.status === 'succeeded' && job.video?.timeline.length === 2),
      JSON.stringify(jobs.map((j) => [j.status, j.error])),
    );
  } finally {
    clearInterval(watch);
  }
  assert.ok(most >= 1 && most <= 2, `${most} ffmpeg at once`);
  assert.deepEqual(ffmpegChildren(), []);
});

test('SIGTERM of serve while a video job runs: serve exits and its ffmpeg is gone', async () => {
  const serve = await startServeProcess({ IMAGE_ROOT: root });
  try {
    const accepted = await json<Accepted>(
      postJson(`${serve.baseUrl}/jobs`, { video_path: 'long.mp4', every: 0.04 }),
      202,
    );
    let ffmpeg: string[] = [];
    for (let i = 0; i < 400 && ffmpeg.length === 0; i++) {
      const job = await json<JobRecord>(fetch(`${serve.baseUrl}${accepted.status_url}`));
      if (job.progress.done >= 3) ffmpeg = ffmpegChildren(serve.process.child.pid).filter((p) => p.endsWith('ffmpeg'));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(ffmpeg.length, 1, 'ffmpeg runs under serve');
    const started = performance.now();
    await serve.close();
    assert.ok(performance.now() - started < 9000, 'serve did not wait for the video to end');
    const pid = ffmpeg[0].split(' ')[0];
    // Gone, or at most a zombie waiting for init to reap it.
    const state = existsSync(`/proc/${pid}/stat`)
      ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
      : null;
    assert.ok(state === null || state === 'Z', `ffmpeg ${pid} is still there (state ${state})`);
  } finally {
    await serve.close();
  }
});
