/** What a video is, from ffprobe (the container's header): length, size, frame rate, creation time. */
import { open } from 'node:fs/promises';
import { ClassifierError } from '../../errors.ts';
import { SNIFF_BYTES, sniffVideoFormat, type VideoFormat } from '../sniff.ts';
import { spawnTracked, stopChild } from './child-processes.ts';
import type { FfmpegTools } from './ffmpeg-path.ts';

export interface VideoInfo {
  /** Seconds; null when the container does not say (a live stream dump). */
  duration: number | null;
  /** Picture size as shown (after the rotation the file asks for). */
  width: number;
  height: number;
  /** Average frames per second; null when unknown. */
  frameRate: number | null;
  /** The container's creation_time (ISO 8601, UTC) when it has one. */
  creationTime: string | null;
  codec: string;
  /** ffprobe's name of the container (mov,mp4,m4a,..., matroska,webm, avi, flv). */
  container: string;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  disposition?: { attached_pic?: number };
  tags?: { rotate?: string; creation_time?: string };
  side_data_list?: { rotation?: number }[];
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { duration?: string; format_name?: string; tags?: { creation_time?: string } };
}

function rate(text: string | undefined): number | null {
  const match = /^(\d+)\/(\d+)$/.exec(text ?? '');
  if (!match || Number(match[2]) === 0) return null;
  const value = Number(match[1]) / Number(match[2]);
  return value > 0 ? value : null;
}

function rotation(stream: ProbeStream): number {
  const fromSide = stream.side_data_list?.find((side) => typeof side.rotation === 'number')?.rotation;
  return Math.abs(Math.round(fromSide ?? Number(stream.tags?.rotate ?? 0))) % 180;
}

function isoTime(text: string | undefined): string | null {
  if (!text) return null;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}

/** Reads ffprobe's JSON answer into VideoInfo; throws not_a_video / video_audio_only. */
export function videoInfoOf(output: ProbeOutput, source: string): VideoInfo {
  const streams = output.streams ?? [];
  // Cover art in an audio file is a "video" stream of one picture: not a video.
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!video) {
    if (streams.some((s) => s.codec_type === 'audio'))
      throw new ClassifierError('video_audio_only', `${source} has sound but no picture to classify.`);
    throw new ClassifierError('not_a_video', `${source} has no video stream ffmpeg can read.`);
  }
  const turned = rotation(video) === 90;
  const width = video.width ?? 0;
  const height = video.height ?? 0;
  const duration = Number(output.format?.duration);
  return {
    duration: Number.isFinite(duration) && duration > 0 ? duration : null,
    width: turned ? height : width,
    height: turned ? width : height,
    frameRate: rate(video.avg_frame_rate) ?? rate(video.r_frame_rate),
    creationTime: isoTime(output.format?.tags?.creation_time ?? video.tags?.creation_time),
    codec: video.codec_name ?? 'unknown',
    container: output.format?.format_name ?? 'unknown',
  };
}

/** Runs ffprobe on a local file; `timeoutMs` bounds it (a file that makes it hang), `signal` cancels it. */
export async function probeVideo(
  tools: FfmpegTools,
  file: string,
  { timeoutMs, signal, source = file }: { timeoutMs: number; signal?: AbortSignal; source?: string },
): Promise<VideoInfo> {
  signal?.throwIfAborted();
  const child = spawnTracked(tools.ffprobe, [
    '-v',
    'error',
    '-protocol_whitelist',
    'file,pipe',
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    '-i',
    file,
  ]);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 8192) stderr += chunk.toString('utf8');
  });
  let stopped: 'timeout' | 'cancel' | null = null;
  const stop = (why: 'timeout' | 'cancel') => {
    stopped ??= why;
    void stopChild(child);
  };
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = () => stop('cancel');
  signal?.addEventListener('abort', onAbort, { once: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(ffprobeFailed(err)));
    child.once('close', (exitCode) => resolve(exitCode));
  }).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  });
  if (stopped === 'cancel') throw signal?.reason ?? new Error('cancelled');
  if (stopped === 'timeout')
    throw new ClassifierError('video_stalled', `ffprobe gave no answer about ${source} within ${timeoutMs} ms.`);
  if (code !== 0) {
    const reason = stderr.trim().split('\n').at(-1) ?? 'unknown error';
    throw new ClassifierError('not_a_video', `${source} cannot be read as a video (${reason.replace(/^.*?: /, '')}).`);
  }
  return videoInfoOf(JSON.parse(Buffer.concat(stdout).toString('utf8') || '{}') as ProbeOutput, source);
}

function ffprobeFailed(err: Error): ClassifierError {
  return new ClassifierError('video_unsupported', `ffprobe could not be started (${err.message}).`, { cause: err });
}

/**
 * The container a local file's first bytes name (mp4 and mov apart, which ffprobe's format name
 * does not tell: both are "mov,mp4,..."); null when it cannot be read or names none.
 */
export async function sniffVideoFile(file: string): Promise<VideoFormat | null> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return null;
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return sniffVideoFormat(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
