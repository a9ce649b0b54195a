/** The pure parts of the video path: timecodes, sniffing, the summary's spans and smoothing (no ffmpeg, no model). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FrameScores, type LabelScore, smoothedAnswers, summarizeFrames } from '../src/engine/video/summary.ts';
import { secondsOfTimecode, timecodeOf } from '../src/engine/video/timecode.ts';
import { sniffImageFormat, sniffMediaKind, sniffVideoFormat } from '../src/sources/sniff.ts';
import { parseShowinfo, samplingFilter } from '../src/sources/video/frames.ts';
import { videoInfoOf } from '../src/sources/video/probe.ts';
import { durationMs } from '../src/settings/declaration.ts';
import { loadSettings } from '../src/settings/load.ts';

test('timecodes are hh:mm:ss.mmm and read back', () => {
  assert.equal(timecodeOf(0), '00:00:00.000');
  assert.equal(timecodeOf(2.0005), '00:00:02.001');
  assert.equal(timecodeOf(3725.25), '01:02:05.250');
  assert.equal(secondsOfTimecode('01:02:05.250'), 3725.25);
  assert.ok(Number.isNaN(secondsOfTimecode('1:x')));
});

test('--every reads 0.5s, 2s, 1500ms and a bare number as seconds', () => {
  assert.equal(durationMs('0.5s', 's'), 500);
  assert.equal(durationMs('2', 's'), 2000);
  assert.equal(durationMs('1500ms', 's'), 1500);
  const flags = { videoEvery: { value: '0.5s', flag: '--every' }, spanGapMs: { value: '3', flag: '--gap' } };
  const settings = loadSettings({ command: 'classify', env: {}, flags });
  assert.equal(settings.videoEvery, 500);
  assert.equal(settings.spanGapMs, 3000);
  assert.throws(
    () => loadSettings({ command: 'classify', env: {}, flags: { videoEvery: { value: 'often', flag: '--every' } } }),
    /--every=often is not valid/,
  );
});

function head(...parts: (string | number[])[]): Uint8Array {
  const bytes: number[] = [];
  for (const part of parts) {
    if (typeof part === 'string') for (const c of part) bytes.push(c.charCodeAt(0));
    else bytes.push(...part);
  }
  while (bytes.length < 64) bytes.push(0);
  return Uint8Array.from(bytes);
}

test('videos are told from images by their bytes', () => {
  const ftyp = (major: string, ...compatible: string[]) =>
    head([0, 0, 0, 16 + 4 * compatible.length], 'ftyp', major, [0, 0, 2, 0], ...compatible);
  assert.equal(sniffVideoFormat(ftyp('isom', 'isom', 'avc1')), 'mp4');
  assert.equal(sniffVideoFormat(ftyp('3gp6', 'isom')), 'mp4');
  assert.equal(sniffVideoFormat(ftyp('qt  ', 'qt  ')), 'mov');
  assert.equal(sniffVideoFormat(ftyp('heic', 'mif1')), null, 'HEIC stays an image');
  assert.equal(sniffImageFormat(ftyp('heic', 'mif1')), 'heic');
  assert.equal(sniffVideoFormat(ftyp('mif1', 'avif')), null, 'AVIF stays an image');
  assert.equal(sniffVideoFormat(head([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x84], 'webm')), 'webm');
  assert.equal(sniffVideoFormat(head([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x88], 'matroska')), 'matroska');
  assert.equal(sniffVideoFormat(head('RIFF', [0, 0, 0, 0], 'AVI LIST')), 'avi');
  assert.equal(sniffVideoFormat(head('RIFF', [0, 0, 0, 0], 'WEBPVP8 ')), null);
  assert.equal(sniffVideoFormat(head('FLV', [1, 5])), 'flv');
  assert.equal(sniffMediaKind(head([0xff, 0xd8, 0xff, 0xe0])), 'image');
  assert.equal(sniffMediaKind(head('hello world')), null);
});

test("ffmpeg's showinfo lines give each frame's presentation time and size", () => {
  const line =
    '[Parsed_showinfo_1 @ 0x55] [info] n:   3 pts:  30720 pts_time:3.0031  pos: 1 fmt:yuv420p sar:1/1 s:480x320 i:P iskey:0';
  assert.deepEqual(parseShowinfo(line), { seconds: 3.0031, width: 480, height: 320 });
  assert.equal(parseShowinfo('[h264 @ 0x1] [error] Invalid NAL unit size'), null);
  assert.match(samplingFilter({ every: 0.5 }), /floor\(t\/0\.5\)/);
  assert.equal(samplingFilter({ keyframes: true }), 'showinfo');
});

test('ffprobe answers: rotation swaps the size, cover art is not a picture stream', () => {
  const info = videoInfoOf(
    {
      streams: [
        {
          codec_type: 'video',
          codec_name: 'hevc',
          width: 1920,
          height: 1080,
          avg_frame_rate: '30000/1001',
          side_data_list: [{ rotation: -90 }],
        },
      ],
      format: { duration: '12.5', format_name: 'mov', tags: { creation_time: '2024-05-01T10:00:00.000000Z' } },
    },
    'phone.mov',
  );
  assert.equal(info.width, 1080);
  assert.equal(info.height, 1920);
  assert.equal(info.duration, 12.5);
  assert.equal(info.creationTime, '2024-05-01T10:00:00.000Z');
  assert.ok(Math.abs((info.frameRate ?? 0) - 29.97) < 0.01);
  assert.throws(
    () =>
      videoInfoOf(
        { streams: [{ codec_type: 'audio' }, { codec_type: 'video', disposition: { attached_pic: 1 } }] },
        'song.m4a',
      ),
    { code: 'video_audio_only' },
  );
  assert.throws(() => videoInfoOf({ streams: [] }, 'x'), { code: 'not_a_video' });
});

const answer = (label: string, score = 0.9, group: string | null = null): LabelScore => ({ label, score, group });

/** Frames every `step` seconds with these answers ('-' for unknown). */
function framesOf(labels: string[], step = 1, groups: Record<string, string> = {}): FrameScores[] {
  return labels.map((label, i) => {
    const a = label === '-' ? null : answer(label, 0.9, groups[label] ?? null);
    return { seconds: i * step, answer: a, candidates: a ? [a] : [] };
  });
}

const BASE = { step: 1, duration: null, minFrames: 1, gap: 0, smooth: 1, accept: () => true };

test('spans: first and last seen, time on screen, joined across gaps up to `gap`', () => {
  const frames = framesOf(['cat', 'cat', 'shark', 'shark', 'shark', 'cat', '-', 'shark'], 1, { shark: 'shark' });
  const summary = summarizeFrames(frames, { ...BASE, duration: 8 });
  const shark = summary.classes.find((e) => e.label === 'shark')!;
  assert.deepEqual(
    shark.spans.map((s) => [s.start_seconds, s.end_seconds]),
    [
      [2, 5],
      [7, 8],
    ],
  );
  assert.equal(shark.appearances, 2);
  assert.equal(shark.first_seen, '00:00:02.000');
  assert.equal(shark.last_seen, '00:00:07.000');
  assert.equal(shark.seconds_on_screen, 4);
  assert.equal(shark.frames, 4);
  const cat = summary.classes.find((e) => e.label === 'cat')!;
  assert.deepEqual(
    cat.spans.map((s) => [s.start_seconds, s.end_seconds]),
    [
      [0, 2],
      [5, 6],
    ],
  );
  // A gap of 2 s joins the shark's two appearances (5 -> 7), not the cat's (2 -> 5).
  const joined = summarizeFrames(frames, { ...BASE, duration: 8, gap: 2 });
  assert.equal(joined.classes.find((e) => e.label === 'shark')!.appearances, 1);
  assert.equal(joined.classes.find((e) => e.label === 'cat')!.appearances, 2);
  assert.deepEqual(
    summary.groups.map((g) => [g.label, g.seconds_on_screen]),
    [['shark', 4]],
    'groups: only marine answers',
  );
});

test('min_frames leaves out classes seen in fewer frames; best and mean probability', () => {
  const frames: FrameScores[] = [0.5, 0.9, 0.7].map((score, i) => ({
    seconds: i * 2,
    answer: answer('ray', score),
    candidates: [answer('ray', score)],
  }));
  frames.push({ seconds: 6, answer: answer('eel', 0.4), candidates: [answer('eel', 0.4)] });
  const summary = summarizeFrames(frames, { ...BASE, step: 2, minFrames: 2 });
  assert.deepEqual(
    summary.classes.map((e) => e.label),
    ['ray'],
  );
  const ray = summary.classes[0];
  assert.equal(ray.best_probability, 0.9);
  assert.equal(ray.best_frame, '00:00:02.000');
  assert.equal(ray.mean_probability, 0.7);
  assert.equal(ray.seconds_on_screen, 6);
});

test('smoothing over a window of frames removes a one-frame flicker before spans are formed', () => {
  // The answer jumps to a neighbouring class for one frame, as in the turtle dive.
  const scores: [string, number][][] = [
    [
      ['loggerhead', 0.6],
      ['electric ray', 0.3],
    ],
    [
      ['loggerhead', 0.6],
      ['electric ray', 0.3],
    ],
    [
      ['electric ray', 0.5],
      ['loggerhead', 0.45],
    ],
    [
      ['loggerhead', 0.6],
      ['electric ray', 0.3],
    ],
    [
      ['loggerhead', 0.6],
      ['electric ray', 0.3],
    ],
  ];
  const frames: FrameScores[] = scores.map((list, i) => ({
    seconds: i,
    answer: answer(list[0][0], list[0][1]),
    candidates: list.map(([label, score]) => answer(label, score)),
  }));
  const raw = summarizeFrames(frames, BASE);
  assert.equal(raw.classes.find((e) => e.label === 'loggerhead')!.appearances, 2);
  const smooth = summarizeFrames(frames, { ...BASE, smooth: 3 });
  assert.deepEqual(
    smooth.classes.map((e) => [e.label, e.appearances, e.seconds_on_screen]),
    [['loggerhead', 1, 5]],
  );
  // The smoothed answer still has to pass min_score.
  const strict = smoothedAnswers(frames, 3, (best) => best.score >= 0.59);
  assert.equal(strict[2], null);
});

test('keyframes: each frame stands until the next, the last until the end of the video', () => {
  const frames = framesOf(['crab', 'crab', 'crab']).map((f, i) => ({ ...f, seconds: [0, 4, 10][i] }));
  const summary = summarizeFrames(frames, { ...BASE, step: null, duration: 12 });
  assert.deepEqual(
    summary.classes[0].spans.map((s) => [s.start_seconds, s.end_seconds]),
    [[0, 12]],
  );
});
