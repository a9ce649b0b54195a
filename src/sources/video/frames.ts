/**
 * Frames out of ffmpeg: decoded, sampled and converted to packed RGB by ffmpeg itself, read from
 * its stdout (no temporary files), each with its presentation time from the `showinfo` filter on
 * stderr, so the times are the video's own (right for variable frame rate too). ffmpeg only reads
 * the local file it is given (`-protocol_whitelist file,pipe`) and is stopped on cancel, stall,
 * time limit and when the reader stops early: no ffmpeg outlives the generator.
 */
import type { ChildProcess } from 'node:child_process';
import { ClassifierError } from '../../errors.ts';
import { spawnTracked, stopChild } from './child-processes.ts';
import type { FfmpegTools } from './ffmpeg-path.ts';

/** Which frames to classify: one per `seconds` of video (the first in each step), or the keyframes. */
export type Sampling = { every: number } | { keyframes: true };

export interface RawFrame {
  /** 0, 1, 2, ... in the order ffmpeg gave them. */
  index: number;
  /** Presentation time in seconds from the start of the video. */
  seconds: number;
  width: number;
  height: number;
  /** Packed RGB, width x height x 3 bytes. */
  data: Buffer;
}

export interface ExtractOptions {
  sampling: Sampling;
  /** Frames past this many fail with video_too_many_frames (those before are kept). */
  maxFrames: number;
  /** A frame with more pixels fails with image_too_many_pixels. */
  maxPixels: number;
  stallMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The video as reports name it. */
  source: string;
  /** Length from the header, to tell a video cut short from one that ends (null: unknown). */
  duration: number | null;
  /** Seek here first (seconds), e.g. for one thumbnail frame. */
  start?: number;
  /** Stop (without error) after this many frames. */
  limit?: number;
}

/** The filter that keeps the first frame in each step of `every` seconds, by presentation time. */
export function samplingFilter(sampling: Sampling): string {
  if ('keyframes' in sampling) return 'showinfo';
  const step = sampling.every;
  return `select='isnan(prev_selected_t)+gte(floor(t/${step}),floor(prev_selected_t/${step})+1)',showinfo`;
}

export function ffmpegArguments(file: string, options: Pick<ExtractOptions, 'sampling' | 'start' | 'limit'>): string[] {
  return [
    '-nostdin',
    '-nostats',
    '-hide_banner',
    '-loglevel',
    'level+info',
    '-protocol_whitelist',
    'file,pipe',
    ...('keyframes' in options.sampling ? ['-skip_frame', 'nokey'] : []),
    ...(options.start ? ['-ss', options.start.toFixed(3)] : []),
    '-i',
    file,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    samplingFilter(options.sampling),
    ...(options.limit ? ['-frames:v', String(options.limit)] : []),
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
}

interface FrameHeader {
  seconds: number;
  width: number;
  height: number;
}

const SHOWINFO = /\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.e+-]+).*?\bs:(\d+)x(\d+)/;

/** A frame's time and size from its showinfo line, else null. */
export function parseShowinfo(line: string): FrameHeader | null {
  const match = SHOWINFO.exec(line);
  if (!match) return null;
  return { seconds: Math.max(0, Number(match[1])), width: Number(match[2]), height: Number(match[3]) };
}

/** Frames that ffmpeg has sent and the reader has not taken yet, before ffmpeg is paused. */
const READ_AHEAD_FRAMES = 4;

/** Decodes the sampled frames of a local video file, in order. Errors come after the frames before them. */
export async function* extractFrames(
  tools: FfmpegTools,
  file: string,
  options: ExtractOptions,
): AsyncGenerator<RawFrame> {
  options.signal?.throwIfAborted();
  const child = spawnTracked(tools.ffmpeg, ffmpegArguments(file, options));
  const reader = new FfmpegOutput(child);
  const started = performance.now();
  const onAbort = () => reader.wake();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let index = 0;
  let lastSeconds = -1;
  const step = 'every' in options.sampling ? options.sampling.every : 0;
  try {
    for (;;) {
      const frame = reader.take();
      if (frame) {
        if (frame.width * frame.height > options.maxPixels)
          throw new ClassifierError(
            'image_too_many_pixels',
            `The frames of ${options.source} have ${frame.width}x${frame.height} pixels, more than the limit of ${options.maxPixels.toLocaleString('en-US')}.`,
          );
        if (index >= options.maxFrames)
          throw new ClassifierError(
            'video_too_many_frames',
            `${options.source} gives more than the limit of ${options.maxFrames} sampled frames; the first ${index} are kept. Sample less often.`,
          );
        lastSeconds = frame.seconds;
        yield { index: index++, ...frame };
        if (options.limit && index >= options.limit) return;
        continue;
      }
      if (reader.closed) break;
      options.signal?.throwIfAborted();
      const left = options.timeoutMs - (performance.now() - started);
      const woke = await reader.next(Math.min(options.stallMs, Math.max(0, left)));
      options.signal?.throwIfAborted();
      if (woke) continue;
      if (performance.now() - started >= options.timeoutMs)
        throw new ClassifierError(
          'video_timeout',
          `Decoding ${options.source} took longer than the limit of ${options.timeoutMs} ms; ${index} frames were classified.`,
        );
      throw new ClassifierError(
        'video_stalled',
        `ffmpeg gave no frame of ${options.source} for ${options.stallMs} ms and was stopped; ${index} frames were classified.`,
      );
    }
    if (reader.spawnError) throw reader.spawnError;
    const cutShort = options.duration !== null && lastSeconds + Math.max(2 * step, 1) < options.duration;
    if (index === 0) {
      const why = reader.errors.length > 0 || reader.exitCode !== 0 ? ` (${reader.firstError()})` : '';
      throw new ClassifierError(
        'video_no_frames',
        `${options.source} has a picture stream but no frame decodes${why}.`,
      );
    }
    if (reader.exitCode !== 0 || (reader.errors.length > 0 && cutShort && !options.start))
      throw new ClassifierError(
        'video_truncated',
        `${options.source} is cut short or corrupt after ${lastSeconds.toFixed(3)} s (${reader.firstError()}); the ${index} frames before it are kept.`,
      );
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await stopChild(child);
  }
}

/** ffmpeg's two streams turned into frames: pixel bytes from stdout, headers from stderr. */
class FfmpegOutput {
  readonly #child: ChildProcess;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #headers: FrameHeader[] = [];
  #stderrTail = '';
  readonly errors: string[] = [];
  closed = false;
  exitCode: number | null = null;
  spawnError: ClassifierError | null = null;
  #wake: ((woke: boolean) => void) | null = null;

  constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      const frameBytes = this.#headers[0] ? frameSize(this.#headers[0]) : 0;
      if (frameBytes > 0 && this.#buffered > READ_AHEAD_FRAMES * frameBytes) child.stdout?.pause();
      this.wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => this.#readLog(chunk.toString('utf8')));
    child.once('error', (err) => {
      this.spawnError = new ClassifierError('video_unsupported', `ffmpeg could not be started (${err.message}).`, {
        cause: err,
      });
      this.closed = true;
      this.wake();
    });
    child.once('close', (code) => {
      this.#readLog('\n');
      this.exitCode = code;
      this.closed = true;
      this.wake();
    });
  }

  #readLog(text: string): void {
    const lines = (this.#stderrTail + text).split(/\r?\n|\r/);
    this.#stderrTail = lines.pop() ?? '';
    for (const line of lines) {
      const header = parseShowinfo(line);
      if (header) {
        this.#headers.push(header);
        this.wake();
      } else if (/\[(error|fatal|panic)\]/.test(line) && this.errors.length < 20) this.errors.push(line);
    }
  }

  /** The first error ffmpeg logged, without its "[h264 @ 0x...] [error]" prefix. */
  firstError(): string {
    const line = this.errors[0];
    return line ? line.replace(/^(\[[^\]]*\]\s*)+/, '').trim() : `ffmpeg exited with code ${this.exitCode}`;
  }

  /** The next whole frame, when both its header and its bytes are here. */
  take(): (FrameHeader & { data: Buffer }) | null {
    const header = this.#headers[0];
    if (!header) return null;
    const size = frameSize(header);
    if (this.#buffered < size) {
      this.#child.stdout?.resume();
      return null;
    }
    this.#headers.shift();
    const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    const data = Buffer.from(all.subarray(0, size));
    const rest = all.subarray(size);
    this.#chunks.length = 0;
    if (rest.length > 0) this.#chunks.push(rest);
    this.#buffered = rest.length;
    if (this.#buffered <= READ_AHEAD_FRAMES * size) this.#child.stdout?.resume();
    return { ...header, data };
  }

  /** Waits for more output; false when `ms` passed without any. */
  next(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve(false);
      }, ms);
      this.#wake = (woke) => {
        clearTimeout(timer);
        this.#wake = null;
        resolve(woke);
      };
    });
  }

  wake(): void {
    this.#wake?.(true);
  }
}

function frameSize(header: FrameHeader): number {
  return header.width * header.height * 3;
}
