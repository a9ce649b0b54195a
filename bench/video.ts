/**
 * Survey video speed (issue 16, point 8), on its own for now: `node --import tsx bench/video.ts`.
 * A 1080p H.264 clip (ffmpeg's testsrc2, 30 fps, BENCH_VIDEO_SECONDS long, default 30) is made in
 * a temporary folder; then ffmpeg alone (decode, sample, convert to RGB) and the whole path
 * (classifyVideo with the shared MobileNetV2) at 1 frame/s, at full frame rate (first 300 frames)
 * and keyframes only. Where the time goes: decode (ffmpeg alone) vs resize and inference (per frame).
 * Not yet part of `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClassifier } from '../src/engine/classifier.ts';
import { classifyVideo, type Sampling } from '../src/engine/video/classify-video.ts';
import { findFfmpeg } from '../src/sources/video/ffmpeg-path.ts';
import { extractFrames } from '../src/sources/video/frames.ts';
import { sharedDir } from './common.ts';

const seconds = Number(process.env.BENCH_VIDEO_SECONDS ?? 30);
const dir = mkdtempSync(path.join(tmpdir(), 'mc-bench-video-'));
const clip = path.join(dir, 'hd.mp4');
execFileSync('ffmpeg', [
  ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${seconds}`],
  ...['-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', clip],
]);
const tools = findFfmpeg();
const cases: { name: string; sampling: Sampling; limit?: number }[] = [
  { name: '1 frame/s', sampling: { every: 1 } },
  { name: 'full rate (300 frames)', sampling: { every: 1 / 30 }, limit: 300 },
  { name: 'keyframes', sampling: { keyframes: true } },
];

for (const c of cases) {
  const started = performance.now();
  let frames = 0;
  for await (const _ of extractFrames(tools, `file:${clip}`, {
    sampling: c.sampling,
    maxFrames: 1e6,
    maxPixels: 1e9,
    stallMs: 60_000,
    timeoutMs: 1e7,
    source: clip,
    duration: c.limit ? null : seconds,
    limit: c.limit,
  }))
    frames++;
  const s = (performance.now() - started) / 1000;
  console.log(`ffmpeg alone, ${c.name}: ${frames} frames in ${s.toFixed(1)} s = ${(frames / s).toFixed(1)} frames/s`);
}

const classifier = await createClassifier({ modelPath: path.join(sharedDir, 'models', 'mobilenetv2-12-int8.onnx') });
for (const c of cases) {
  const controller = new AbortController();
  const started = performance.now();
  let done = 0;
  const result = await classifyVideo(
    classifier,
    clip,
    { sampling: c.sampling },
    {
      signal: controller.signal,
      onProgress: (p) => {
        done = p.done;
        if (c.limit && p.done >= c.limit) controller.abort(new Error('enough'));
      },
    },
  ).catch(() => null);
  const s = (performance.now() - started) / 1000;
  const frames = result?.frames ?? [];
  const mean = (pick: (t: { decode_ms: number; inference_ms: number }) => number) =>
    frames.length ? (frames.reduce((a, f) => a + pick(f.result.timings), 0) / frames.length).toFixed(1) : '-';
  const n = result ? frames.length : done;
  console.log(
    `whole path, ${c.name}: ${n} frames in ${s.toFixed(1)} s = ${(n / s).toFixed(1)} frames/s` +
      (result
        ? `, ${(seconds / s).toFixed(1)}x real time; per frame: resize ${mean((t) => t.decode_ms)} ms, inference ${mean((t) => t.inference_ms)} ms (batched)`
        : ''),
  );
}
await classifier.close();
rmSync(dir, { recursive: true, force: true });
