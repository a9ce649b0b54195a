/**
 * Survey video speed (issue 16, point 8), part of `npm run bench` and runnable alone:
 * `node --import tsx bench/video.ts`. A 1080p H.264 clip (ffmpeg's testsrc2, 30 fps,
 * BENCH_VIDEO_SECONDS long, default 30, 10 with BENCH_QUICK) is made in a temporary folder; then
 * ffmpeg alone (decode, sample, convert to RGB) and the whole path (classifyVideo with the shared
 * MobileNetV2) at 1 frame/s, at full frame rate (first 300 frames) and keyframes only. Where the
 * time goes: decode (ffmpeg alone) vs resize and inference (per frame).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClassifier } from '../src/engine/classifier.ts';
import { classifyVideo, type Sampling } from '../src/engine/video/classify-video.ts';
import { findFfmpeg } from '../src/sources/video/ffmpeg-path.ts';
import { extractFrames } from '../src/sources/video/frames.ts';
import { log, quick, repoRoot, round, sharedDir } from './common.ts';

export interface VideoBenchRow {
  sampling: string;
  ffmpeg_frames: number;
  ffmpeg_s: number;
  ffmpeg_frames_per_s: number | null;
  frames: number;
  whole_s: number;
  frames_per_s: number | null;
  /** Video seconds per wall second (null when only the first frames were classified). */
  real_time_factor: number | null;
  resize_ms_per_frame: number | null;
  inference_ms_per_frame: number | null;
}

export interface VideoBenchResult {
  clip: string;
  seconds: number;
  rows: VideoBenchRow[];
}

const cases: { name: string; sampling: Sampling; limit?: number }[] = [
  { name: '1 frame/s', sampling: { every: 1 } },
  { name: 'full rate (300 frames)', sampling: { every: 1 / 30 }, limit: 300 },
  { name: 'keyframes', sampling: { keyframes: true } },
];

export async function benchVideo(): Promise<VideoBenchResult> {
  const seconds = Number(process.env.BENCH_VIDEO_SECONDS ?? (quick ? 10 : 30));
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-bench-video-'));
  const clip = path.join(dir, 'hd.mp4');
  try {
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${seconds}`],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', clip],
    ]);
    const tools = findFfmpeg();
    const alone = new Map<string, { frames: number; s: number }>();
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
      alone.set(c.name, { frames, s });
      log(
        `video: ffmpeg alone, ${c.name}: ${frames} frames in ${s.toFixed(1)} s = ${(frames / s).toFixed(1)} frames/s`,
      );
    }

    const rows: VideoBenchRow[] = [];
    const classifier = await createClassifier({
      modelPath: path.join(sharedDir, 'models', 'mobilenetv2-12-int8.onnx'),
    });
    try {
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
          frames.length ? round(frames.reduce((a, f) => a + pick(f.result.timings), 0) / frames.length) : null;
        const n = result ? frames.length : done;
        const ffmpeg = alone.get(c.name) ?? { frames: 0, s: 0 };
        const row: VideoBenchRow = {
          sampling: c.name,
          ffmpeg_frames: ffmpeg.frames,
          ffmpeg_s: round(ffmpeg.s, 2) ?? 0,
          ffmpeg_frames_per_s: round(ffmpeg.frames / ffmpeg.s),
          frames: n,
          whole_s: round(s, 2) ?? 0,
          frames_per_s: round(n / s),
          real_time_factor: result ? round(seconds / s) : null,
          resize_ms_per_frame: mean((t) => t.decode_ms),
          inference_ms_per_frame: mean((t) => t.inference_ms),
        };
        rows.push(row);
        log(`video: whole path, ${c.name}: ${n} frames in ${s.toFixed(1)} s = ${row.frames_per_s} frames/s`);
      }
    } finally {
      await classifier.close();
    }
    return { clip: `1920x1080 H.264, 30 fps, ${seconds} s (testsrc2, keyframe every 2 s)`, seconds, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function videoMarkdown(r: VideoBenchResult): string {
  const head = [
    'sampling',
    'ffmpeg alone frames/s',
    'whole path frames/s',
    'frames',
    'real time',
    'resize ms/frame',
    'inference ms/frame',
  ];
  const lines = [
    `## Survey video: ${r.clip}, MobileNetV2 int8 (bench/video.ts)`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...r.rows.map(
      (x) =>
        `| ${[x.sampling, x.ffmpeg_frames_per_s, x.frames_per_s, x.frames, x.real_time_factor === null ? '-' : `${x.real_time_factor}x`, x.resize_ms_per_frame ?? '-', x.inference_ms_per_frame ?? '-'].join(' | ')} |`,
    ),
    '',
    'ffmpeg alone: decoding, sampling and conversion to RGB with nothing classified; the whole path adds resizing (decoding threads) and inference (batched). Where the whole path is close to ffmpeg alone, decoding is the limit.',
  ];
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(repoRoot, 'bench', 'video.ts')) {
  const result = await benchVideo();
  process.stdout.write(`${videoMarkdown(result)}\n`);
  process.exit(0);
}
