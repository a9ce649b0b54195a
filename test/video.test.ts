/**
 * Survey video end to end with the real parts: Debian's ffmpeg, the shared MobileNetV2, clips made
 * with ffmpeg whose content is known frame by frame, and the shared jellyfish clip.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { type Classifier, createClassifier } from '../src/engine/classifier.ts';
import { preparePixels, prepareRawPixels } from '../src/engine/preprocess.ts';
import type { CustomClasses } from '../src/engine/types.ts';
import { classifyVideo, planVideo } from '../src/engine/video/classify-video.ts';
import { findFfmpeg } from '../src/sources/video/ffmpeg-path.ts';
import { REPO_ROOT, SHARED, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts')];
const JELLYFISH = path.join(SHARED, 'videos', 'pealayer-jellyfish.mp4');

let dir: string;
let classifier: Classifier;
const clip: Record<string, string> = {};

function ffmpeg(args: string[]): void {
  execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-y', ...args]);
}

/** ffmpeg and ffprobe processes whose parent is this process. */
function ffmpegChildren(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = /\((.*)\)/.exec(stat)?.[1] ?? '';
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && /ffmpeg|ffprobe/.test(comm)) found.push(`${pid} ${comm}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mc-video-'));
  // Small stills first, so the slideshow encodes in a moment (a 3500x2335 JPEG per frame would not).
  const still = async (from: string, name: string) => {
    const file = path.join(dir, name);
    await sharp(from).resize(480, 320, { fit: 'cover' }).jpeg({ quality: 92 }).toFile(file);
    return file;
  };
  const cat = await still(sharedPath('images', 'photos', 'test_image_cat.jpg'), 'cat.jpg');
  const shark = await still(sharedPath('images', 'photos', 'test_image_shark.jpg'), 'shark.jpg');
  // The slideshow of the issue: cat 0-2 s, shark 2-5 s, cat 5-6 s, 10 frames per second.
  clip.slideshow = path.join(dir, 'slideshow.mp4');
  ffmpeg([
    ...['-loop', '1', '-framerate', '10', '-t', '2', '-i', cat],
    ...['-loop', '1', '-framerate', '10', '-t', '3', '-i', shark],
    ...['-loop', '1', '-framerate', '10', '-t', '1', '-i', cat],
    '-filter_complex',
    '[0][1][2]concat=n=3:v=1,format=yuv420p',
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-movflags', '+faststart', clip.slideshow],
  ]);
  // 40 s of 25 fps test pattern: long enough to cancel or time out part of the way.
  clip.long = path.join(dir, 'long.mp4');
  ffmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=40'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart', clip.long],
  ]);
  // Cut after about a third of its bytes: the header says 6 s, the frames stop early.
  const whole = readFileSync(clip.slideshow);
  clip.truncated = path.join(dir, 'truncated.mp4');
  writeFileSync(clip.truncated, whole.subarray(0, Math.floor(whole.length * 0.35)));
  // The header and stream are intact, every frame's data is zeros.
  const zeroed = Buffer.from(whole);
  zeroed.fill(0, zeroed.indexOf('mdat') + 4);
  clip.zeroFrames = path.join(dir, 'zero-frames.mp4');
  writeFileSync(clip.zeroFrames, zeroed);
  clip.audio = path.join(dir, 'sound.m4a');
  ffmpeg(['-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'aac', clip.audio]);
  // Starts like an MP4, is not one.
  clip.notVideo = path.join(dir, 'fake.mp4');
  writeFileSync(clip.notVideo, Buffer.concat([whole.subarray(0, 32), Buffer.alloc(4000, 7)]));
  classifier = await createClassifier({ modelPath: TEST_MODEL, intraOpThreads: 2, decodeThreads: 2 });
});

after(async () => {
  await classifier?.close();
});

test('the slideshow: the shark from 2 to 5 s as one span, exact to the sampling step', async () => {
  for (const every of [1, 0.5]) {
    const result = await classifyVideo(classifier, clip.slideshow, { topK: 5, sampling: { every } });
    assert.equal(result.error, null);
    assert.equal(result.frames.length, 6 / every);
    assert.deepEqual(
      result.frames.map((f) => f.seconds),
      Array.from({ length: 6 / every }, (_, i) => i * every),
      'the presentation times of the frames',
    );
    const shark = result.summary.groups.find((g) => g.label === 'shark');
    assert.ok(shark, JSON.stringify(result.summary.groups));
    assert.deepEqual(
      shark.spans.map((s) => [s.start_seconds, s.end_seconds]),
      [[2, 5]],
    );
    assert.equal(shark.appearances, 1);
    assert.equal(shark.first_seen, '00:00:02.000');
    assert.equal(shark.last_seen_seconds, 5 - every);
    assert.equal(shark.seconds_on_screen, 3);
    // Every class answered during the shark is a shark, and never outside it.
    for (const frame of result.frames) {
      const isShark = frame.result.top1?.marine?.group === 'shark';
      assert.equal(isShark, frame.seconds >= 2 && frame.seconds < 5, `${frame.timecode} ${frame.result.answer}`);
    }
    assert.ok(shark.best_frame_seconds >= 2 && shark.best_frame_seconds < 5);
  }
  assert.deepEqual(ffmpegChildren(), []);
});

test('a frame takes the same resize, crop and model input as the same picture as a photo', async () => {
  const png = await sharp(sharedPath('images', 'photos', 'test_image_shark.jpg'))
    .resize(640, 427)
    .png()
    .toBuffer();
  const raw = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const photo = await preparePixels(png);
  const frame = prepareRawPixels({ data: raw.data, width: raw.info.width, height: raw.info.height }, photo.image);
  assert.deepEqual(Buffer.from(frame.pixels), Buffer.from(photo.pixels));
});

test('a class set answers per frame, and the summary is by its labels', async () => {
  let calls = 0;
  const fishOrNot: CustomClasses = {
    name: 'test',
    match: (embedding) => {
      calls++;
      assert.ok(embedding.length > 100);
      return { set: 'test', label: 'fish', unknown: false, similarity: 0.8, threshold: 0.5, top: [] };
    },
  };
  const result = await classifyVideo(classifier, clip.slideshow, { classes: fishOrNot, sampling: { every: 2 } });
  assert.equal(calls, 3);
  assert.ok(result.frames.every((f) => f.result.answer === 'fish' && f.result.custom?.set === 'test'));
  assert.deepEqual(
    result.summary.classes.map((e) => [e.label, e.seconds_on_screen]),
    [['fish', 6]],
  );
});

test('a truncated video: the frames decoded so far and a clear error, no ffmpeg left', async () => {
  const result = await classifyVideo(classifier, clip.truncated, { sampling: { every: 0.5 } });
  assert.equal(result.error?.code, 'video_truncated');
  assert.match(result.error.message, /cut short or corrupt after/);
  assert.ok(result.frames.length >= 1 && result.frames.length < 12, `${result.frames.length} frames`);
  assert.equal(result.frames[0].seconds, 0);
  assert.deepEqual(ffmpegChildren(), []);
});

test('not a video, audio only, zero frames, and no ffmpeg: clear errors', async () => {
  await assert.rejects(classifyVideo(classifier, clip.notVideo), { code: 'not_a_video' });
  await assert.rejects(classifyVideo(classifier, clip.audio), { code: 'video_audio_only' });
  await assert.rejects(classifyVideo(classifier, clip.zeroFrames), { code: 'video_no_frames' });
  await assert.rejects(classifyVideo(classifier, path.join(dir, 'missing.mp4')), { code: 'file_not_found' });
  await assert.rejects(classifyVideo(classifier, clip.slideshow, { limits: { ffmpegPath: '/nonexistent/ffmpeg' } }), {
    code: 'video_unsupported',
    message: /apt-get install ffmpeg/,
  });
  assert.throws(() => findFfmpeg(null, dir), { code: 'video_unsupported', message: /ffmpeg is not on PATH/ });
  assert.deepEqual(ffmpegChildren(), []);
});

test('limits: too long, too many frames, too many pixels per frame, refused before decoding', async () => {
  await assert.rejects(classifyVideo(classifier, clip.long, { limits: { maxVideoSeconds: 30 } }), {
    code: 'video_too_long',
  });
  await assert.rejects(
    classifyVideo(classifier, clip.long, { sampling: { every: 0.1 }, limits: { maxVideoFrames: 100 } }),
    { code: 'video_too_many_frames', message: /400 frames; the limit is 100/ },
  );
  await assert.rejects(planVideo(clip.long, {}, 320 * 240 - 1), { code: 'image_too_many_pixels' });
  // Keyframes cannot be counted up front: decoding stops at the limit and keeps what it has.
  const keyframes = await classifyVideo(classifier, clip.long, {
    sampling: { keyframes: true },
    limits: { maxVideoFrames: 2 },
  });
  assert.equal(keyframes.error?.code, 'video_too_many_frames');
  assert.equal(keyframes.frames.length, 2);
  assert.deepEqual(ffmpegChildren(), []);
});

test('cancelling mid-way, a stall and the time limit stop ffmpeg at once: no process left', async () => {
  const controller = new AbortController();
  let seen = 0;
  const started = performance.now();
  await assert.rejects(
    classifyVideo(
      classifier,
      clip.long,
      { sampling: { every: 0.04 } },
      {
        signal: controller.signal,
        onProgress: ({ done, total }) => {
          seen = done;
          assert.equal(total, 1000);
          if (done === 5) controller.abort(new Error('user cancelled'));
        },
      },
    ),
    /user cancelled/,
  );
  assert.ok(seen >= 5 && seen < 100, `${seen} frames before the cancel took effect`);
  assert.ok(performance.now() - started < 10_000);
  assert.deepEqual(ffmpegChildren(), []);

  // ffmpeg hangs (stopped with SIGSTOP after the first frame): the stall limit ends it, with SIGKILL as it ignores SIGTERM.
  const stalled = await classifyVideo(
    classifier,
    clip.long,
    { sampling: { every: 0.04 }, limits: { videoStallMs: 500 } },
    {
      onProgress: ({ done }) => {
        if (done !== 1) return;
        for (const child of ffmpegChildren()) process.kill(Number(child.split(' ')[0]), 'SIGSTOP');
      },
    },
  );
  assert.equal(stalled.error?.code, 'video_stalled');
  assert.ok(stalled.frames.length >= 1 && stalled.frames.length < 100, `${stalled.frames.length} frames`);
  assert.deepEqual(ffmpegChildren(), []);

  const timedOut = await classifyVideo(classifier, clip.long, {
    sampling: { every: 0.04 },
    limits: { videoTimeoutMs: 2000 },
  });
  assert.equal(timedOut.error?.code, 'video_timeout');
  assert.ok(timedOut.frames.length > 0 && timedOut.frames.length < 1000);
  assert.deepEqual(ffmpegChildren(), []);
});

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, MODEL_PATH: TEST_MODEL, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('acceptance: classify the jellyfish clip --format json gives a timeline and a summary with jellyfish', async () => {
  const out = await cli(['classify', JELLYFISH, '--format', 'json']);
  assert.equal(out.code, 0, out.stderr);
  const [record] = JSON.parse(out.stdout) as {
    path: string;
    kind: string;
    status: string;
    timeline: { timecode: string; answer: string }[];
    summary: { classes: { label: string; spans: unknown[] }[]; groups: { label: string }[] };
  }[];
  assert.equal(record.kind, 'video');
  assert.equal(record.status, 'ok');
  assert.equal(record.timeline.length, 10);
  assert.equal(record.timeline[1].timecode, '00:00:01.001');
  const jellyfish = record.summary.classes.find((e) => e.label === 'jellyfish');
  assert.ok(jellyfish, JSON.stringify(record.summary.classes.map((e) => e.label)));
  assert.ok(record.summary.groups.some((g) => g.label === 'cnidarian'));
  assert.match(out.stderr, /1 video found/);
});

test('CLI: videos mixed into a folder of photos, CSV rows per frame, --summary, --thumbnails, then --resume does nothing', async () => {
  const folder = path.join(dir, 'survey');
  mkdirSync(folder, { recursive: true });
  copyFileSync(clip.slideshow, path.join(folder, 'slideshow.mp4'));
  copyFileSync(sharedPath('images', 'imagenet-marine', 'n01498041_stingray.JPEG'), path.join(folder, 'ray.jpg'));
  writeFileSync(path.join(folder, 'notes.txt'), 'tide 1.2 m\n');
  const out = path.join(dir, 'out.csv');
  const summary = path.join(dir, 'summary.csv');
  const thumbs = path.join(dir, 'thumbs');
  const args = ['classify', folder, '--format', 'csv', '--output', out, '--every', '2s', '--summary', summary];
  const first = await cli([...args, '--thumbnails', thumbs]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /1 images and 1 video found, 1 other files skipped/);
  assert.match(first.stderr, /frames of .*slideshow\.mp4/);
  const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
  assert.deepEqual(
    rows.map((r) => path.basename(r.path)),
    ['ray.jpg', 'slideshow.mp4#t=00:00:00.000', 'slideshow.mp4#t=00:00:02.000', 'slideshow.mp4#t=00:00:04.000'],
  );
  assert.equal(rows[2].marine_group, 'shark');
  const summaryRows = parse(readFileSync(summary, 'utf8'), { columns: true }) as Record<string, string>[];
  const shark = summaryRows.find((r) => r.level === 'group' && r.label === 'shark');
  assert.equal(shark?.spans, '00:00:02.000-00:00:06.000', 'at 2 s sampling, the frame at 4 s stands until 6 s');
  const jpegs = readdirSync(thumbs);
  assert.equal(jpegs.length, summaryRows.filter((r) => r.level === 'class').length);
  for (const name of jpegs) {
    assert.match(name, /^slideshow__.+__00-00-0\d\.000\.jpg$/);
    const meta = await sharp(path.join(thumbs, name)).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 480);
  }
  const before = readFileSync(out, 'utf8');
  const again = await cli([...args, '--resume']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /2 already in/);
  assert.doesNotMatch(again.stderr, /classified/);
  assert.equal(readFileSync(out, 'utf8'), before);
});

test('CLI without ffmpeg: photos are classified, the video gets video_unsupported and exit code 1', async () => {
  const out = await cli(
    ['classify', clip.slideshow, sharedPath('images', 'photos', 'test_image_shark.jpg'), '--format', 'jsonl'],
    { FFMPEG_PATH: path.join(dir, 'no-ffmpeg-here') },
  );
  assert.equal(out.code, 1, out.stderr);
  const records = out.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { path: string; status: string; error?: { code: string; message: string } });
  assert.equal(records[0].status, 'ok');
  assert.equal(records[1].error?.code, 'video_unsupported');
  assert.match(records[1].error?.message ?? '', /apt-get install ffmpeg/);
});
