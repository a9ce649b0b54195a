/**
 * Videos sent to POST /jobs (real service, model, ffmpeg and a loopback HTTP server): a raw body,
 * a multipart form, a video_url through the URL policy; the upload limit (413); and the temporary
 * files: none is left after success, cancel, a refused upload, a non-video, or a service close.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningService } from '../src/http/service.ts';
import type { JobRecord } from '../src/queue/types.ts';
import {
  expectError,
  json,
  pollJob,
  postForm,
  postJson,
  startImageServer,
  startTestService,
} from './helpers/http-fixtures.ts';
import type { ImageServer } from './helpers/http-fixtures.ts';
import { SHARK_PHOTO, sharedPath } from './helpers/shared.ts';

// Temporary videos go to os.tmpdir(): a folder of this test's own, so counting them sees only ours.
const temp = mkdtempSync(path.join(tmpdir(), 'mc-video-upload-'));
const ownTmp = path.join(temp, 'tmp');
mkdirSync(ownTmp);
process.env.TMPDIR = ownTmp;

const JELLYFISH = readFileSync(sharedPath('videos', 'pealayer-jellyfish.mp4'));
let service: RunningService;
let server: ImageServer;
let long: Buffer;
let audio: Buffer;

function temporaryVideos(): string[] {
  return readdirSync(ownTmp).filter((name) => name.startsWith('marine-classifier-video-'));
}

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

function ffmpeg(args: string[], out: string): Buffer {
  execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-y', ...args, out]);
  return readFileSync(out);
}

function postRaw(url: string, bytes: Buffer, contentType: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(bytes) });
}

interface Accepted {
  id: string;
  status_url: string;
}

before(async () => {
  long = ffmpeg(
    ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=40', '-c:v', 'libx264', '-preset', 'ultrafast'],
    path.join(temp, 'long.mp4'),
  );
  audio = ffmpeg(['-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'aac'], path.join(temp, 'sound.m4a'));
  server = await startImageServer('127.0.0.1', [
    (req, res) => {
      if (req.url !== '/jellyfish.mp4') return false;
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': JELLYFISH.length });
      res.end(JELLYFISH);
      return true;
    },
  ]);
  service = await startTestService({ urlAllowHosts: ['127.0.0.1'] });
});

after(async () => {
  await service?.close();
  await server?.close();
  rmSync(temp, { recursive: true, force: true });
});

async function finished(accepted: Accepted): Promise<JobRecord> {
  return pollJob<JobRecord>(`${service.url}${accepted.status_url}`, {}, 90_000);
}

function assertJellyfish(job: JobRecord, label: string): void {
  assert.equal(job.kind, 'video');
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  assert.equal(job.video?.video.source, label, 'the video is named by its label, not the temporary file');
  assert.ok(job.video?.summary.classes.some((entry) => entry.label === 'jellyfish'));
}

test('a raw video/mp4 body becomes a video job (options in the query) in which jellyfish appears', async () => {
  const accepted = await json<Accepted>(postRaw(`${service.url}/jobs?every=2&top_k=3`, JELLYFISH, 'video/mp4'), 202);
  const job = await finished(accepted);
  assertJellyfish(job, 'upload');
  assert.equal(job.video?.timeline.length, 5);
  assert.equal(job.video?.timeline[0].predictions.length, 3);
  assert.deepEqual(temporaryVideos(), [], 'the upload is deleted when the job ends');
});

test('an application/octet-stream body is recognised as a video by its bytes', async () => {
  const accepted = await json<Accepted>(
    postRaw(`${service.url}/jobs?keyframes=true`, JELLYFISH, 'application/octet-stream'),
    202,
  );
  assertJellyfish(await finished(accepted), 'upload');
});

test('a multipart form whose file is a video (sent as image/jpeg): options as form fields', async () => {
  const accepted = await json<Accepted>(
    postForm(`${service.url}/jobs`, [{ name: 'dive.mp4', bytes: JELLYFISH }], { every: '5', top_k: '2' }),
    202,
  );
  const job = await finished(accepted);
  assertJellyfish(job, 'dive.mp4');
  assert.equal(job.video?.timeline.length, 2);
  assert.equal(job.video?.timeline[0].predictions.length, 2);
  assert.deepEqual(temporaryVideos(), []);
});

test('images are uploaded as before, and video options on an image job are refused', async () => {
  const shark = readFileSync(SHARK_PHOTO);
  const accepted = await json<Accepted>(postRaw(`${service.url}/jobs`, shark, 'application/octet-stream'), 202);
  const job = await finished(accepted);
  assert.equal(job.kind, 'single');
  assert.equal(job.status, 'succeeded');
  await expectError(postRaw(`${service.url}/jobs?every=2`, shark, 'image/jpeg'), 400, 'invalid_request');
});

test('video_url is downloaded through the URL policy; a private address is refused', async () => {
  const accepted = await json<Accepted>(
    postJson(`${service.url}/jobs`, { video_url: server.url('/jellyfish.mp4'), every: 2 }),
    202,
  );
  assertJellyfish(await finished(accepted), server.url('/jellyfish.mp4'));
  assert.deepEqual(temporaryVideos(), [], 'the download is deleted when the job ends');

  const hits = server.hits.length;
  const refused = await json<Accepted>(postJson(`${service.url}/jobs`, { video_url: 'http://10.0.0.1/dive.mp4' }), 202);
  const job = await finished(refused);
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.code, 'url_not_allowed');
  assert.doesNotMatch(job.error?.message ?? '', /image/i, 'the message fits a video');
  const missing = await finished(
    await json<Accepted>(postJson(`${service.url}/jobs`, { video_url: server.url('/nothing.mp4') }), 202),
  );
  assert.equal(missing.error?.code, 'fetch_failed');
  assert.equal(server.hits.length, hits + 1, 'the private address was never fetched');
  await expectError(postJson(`${service.url}/jobs`, { video_url: 'file:///etc/passwd' }), 400, 'invalid_url');
  assert.deepEqual(temporaryVideos(), []);
});

test('not a video: a text file or an image sent as video/mp4 is 415 not_a_video; sound alone fails video_audio_only', async () => {
  await expectError(
    postRaw(`${service.url}/jobs`, Buffer.from('hello, not a video\n'.repeat(10)), 'video/mp4'),
    415,
    'not_a_video',
  );
  await expectError(postRaw(`${service.url}/jobs`, readFileSync(SHARK_PHOTO), 'video/mp4'), 415, 'not_a_video');
  const accepted = await json<Accepted>(postRaw(`${service.url}/jobs`, audio, 'video/mp4'), 202);
  const job = await finished(accepted);
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.code, 'video_audio_only');
  assert.deepEqual(temporaryVideos(), []);
});

test('cancel mid-way: the job is cancelled, no ffmpeg and no temporary file is left', async () => {
  const accepted = await json<Accepted>(postRaw(`${service.url}/jobs?every=0.04`, long, 'video/mp4'), 202);
  const url = `${service.url}${accepted.status_url}`;
  for (;;) {
    const running = await json<JobRecord>(fetch(url));
    if (running.progress.done >= 3) break;
    assert.notEqual(running.status, 'failed', JSON.stringify(running.error));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const cancelled = await json<JobRecord>(fetch(url, { method: 'DELETE' }));
  assert.equal(cancelled.status, 'cancelled');
  assert.deepEqual(ffmpegChildren(), []);
  assert.deepEqual(temporaryVideos(), []);
});

test('an upload over MAX_VIDEO_BYTES is 413 video_too_large_bytes, read to the end, and leaves no file', async () => {
  const small = await startTestService({ maxVideoBytes: 64 * 1024 });
  try {
    await expectError(postRaw(`${small.url}/jobs`, JELLYFISH, 'video/mp4'), 413, 'video_too_large_bytes');
    await expectError(
      postForm(`${small.url}/jobs`, [{ name: 'dive.mp4', bytes: JELLYFISH }]),
      413,
      'video_too_large_bytes',
    );
    // Chunked, so nothing is known before the bytes pass the limit.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${small.url}/jobs`, { method: 'POST', headers: { 'content-type': 'video/mp4' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (let at = 0; at < JELLYFISH.length; at += 16 * 1024) req.write(JELLYFISH.subarray(at, at + 16 * 1024));
      req.end();
    });
    assert.equal(chunked.status, 413);
    assert.equal(JSON.parse(chunked.body).error.code, 'video_too_large_bytes');
    assert.deepEqual(temporaryVideos(), []);
  } finally {
    await small.close();
  }
});

/** Sends `head` and then `body`, and nothing more: the answer as text once the server closes. */
function stalledUpload(port: number, head: string, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(head);
      socket.write(body);
    });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

test('a video upload that stops arriving gets 408, raw or in a form, and leaves no file', async () => {
  const slow = await startTestService({ bodyStallMs: 300 });
  try {
    const part = JELLYFISH.subarray(0, 32 * 1024);
    const raw = await stalledUpload(
      slow.port,
      `POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Type: video/mp4\r\nContent-Length: ${JELLYFISH.length}\r\n\r\n`,
      part,
    );
    const form = await stalledUpload(
      slow.port,
      `POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: ${JELLYFISH.length + 200}\r\n\r\n` +
        `--XX\r\nContent-Disposition: form-data; name="file"; filename="dive.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
      part,
    );
    for (const answer of [raw, form]) {
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /"request_timeout"/);
    }
    assert.deepEqual(temporaryVideos(), []);
  } finally {
    await slow.close();
  }
});

test('a full queue refuses an upload (503) and deletes it; closing the service deletes a queued one', async () => {
  // QUEUE_LIMIT 1: two videos decode at once, one waits, a fourth is refused.
  const closing = await startTestService({ queueLimit: 1 });
  try {
    const accepted = [];
    for (let i = 0; i < 3; i++)
      accepted.push(await json<Accepted>(postRaw(`${closing.url}/jobs?every=0.04`, long, 'video/mp4'), 202));
    const queued = await json<JobRecord>(fetch(`${closing.url}${accepted[2].status_url}`));
    assert.equal(queued.status, 'queued', 'two videos decode at once; the third waits');
    await expectError(postRaw(`${closing.url}/jobs?every=0.04`, long, 'video/mp4'), 503, 'queue_full');
    assert.equal(temporaryVideos().length, 3, 'the refused upload is gone; the accepted ones are kept for their jobs');
  } finally {
    await closing.close();
  }
  assert.deepEqual(temporaryVideos(), []);
  assert.deepEqual(ffmpegChildren(), []);
});
