/**
 * An uploaded file (a raw body or a multipart file part) read as it arrives: its first bytes say
 * whether it is a video (sniff.ts), and a video is streamed into a temporary file (mode 0600)
 * under MAX_VIDEO_BYTES, never held whole in memory; anything else is an image, held as bytes
 * under MAX_BODY_BYTES as before. Events rather than `for await`: leaving an async iterator early
 * destroys the request, and the client would see a reset instead of its 413.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished, type Readable } from 'node:stream';
import { ClassifierError } from '../errors.ts';
import { looksLikeVideo, SNIFF_BYTES } from '../sources/sniff.ts';
import { temporaryVideoPath } from '../sources/video/video-source.ts';

/** Raw bodies taken as an image (or a video, by its bytes): what app.ts parses as a Buffer everywhere else. */
export const RAW_IMAGE_TYPES = ['application/octet-stream', /^image\/[\w.+-]+$/i] as const;
export const RAW_VIDEO_TYPE = /^video\/[\w.+-]+$/i;

export interface UploadLimits {
  /** Largest image (MAX_BODY_BYTES). */
  maxImageBytes: number;
  /** Largest video (MAX_VIDEO_BYTES). */
  maxVideoBytes: number;
  /** The sender said it is a video (`video/*`): bytes that are not one are refused (not_a_video). */
  mustBeVideo: boolean;
}

export type ReceivedUpload = { kind: 'image'; bytes: Buffer } | { kind: 'video'; file: string; bytes: number };

export function videoTooLarge(maxBytes: number): ClassifierError {
  return new ClassifierError(
    'video_too_large_bytes',
    `The video is larger than the upload limit of ${maxBytes} bytes (MAX_VIDEO_BYTES); larger videos can be sent as video_url.`,
  );
}

function imageTooLarge(maxBytes: number): ClassifierError {
  return new ClassifierError('body_too_large', `The request body is larger than the limit of ${maxBytes} bytes.`);
}

function notAVideo(): ClassifierError {
  return new ClassifierError(
    'not_a_video',
    'The upload was sent as a video but is not one: its bytes are no video container (MP4/MOV, MKV/WebM, AVI, FLV).',
  );
}

/** Refuses a body whose declared length is already over what it could be; null when it may fit. */
export function declaredTooLarge(length: number, limits: UploadLimits): ClassifierError | null {
  if (!Number.isFinite(length)) return null;
  if (limits.mustBeVideo) return length > limits.maxVideoBytes ? videoTooLarge(limits.maxVideoBytes) : null;
  if (length > Math.max(limits.maxImageBytes, limits.maxVideoBytes))
    return limits.maxVideoBytes > limits.maxImageBytes
      ? videoTooLarge(limits.maxVideoBytes)
      : imageTooLarge(limits.maxImageBytes);
  return null;
}

/** Reads `stream` to its end; a video lands in a temporary file the caller then owns. */
export function receiveUpload(stream: Readable, limits: UploadLimits): Promise<ReceivedUpload> {
  return new Promise<ReceivedUpload>((resolve, reject) => {
    const head: Buffer[] = [];
    let total = 0;
    let kind: 'image' | 'video' | null = null;
    let file: string | null = null;
    let out: WriteStream | null = null;
    let settled = false;

    const detach = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', fail);
      stream.off('close', onClose);
    };
    function fail(err: unknown): void {
      if (settled) return;
      settled = true;
      detach();
      // Whatever else arrives is dropped (the body guard bounds how much is read).
      stream.resume();
      out?.destroy();
      const done = () => reject(err);
      if (file) rm(file, { force: true }).then(done, done);
      else done();
    }
    function onClose(): void {
      if (!settled && !stream.readableEnded) fail(new ClassifierError('invalid_request', 'The upload was cut off.'));
    }
    const decide = (bytes: Buffer): 'image' | 'video' => {
      if (looksLikeVideo(bytes)) return 'video';
      if (limits.mustBeVideo) throw notAVideo();
      return 'image';
    };
    const write = (chunk: Buffer) => {
      if (!out) {
        file = temporaryVideoPath();
        out = createWriteStream(file, { mode: 0o600, flags: 'wx' });
        out.on('error', fail);
      }
      if (!out.write(chunk)) {
        stream.pause();
        out.once('drain', () => stream.resume());
      }
    };
    const take = (chunks: Buffer[]) => {
      if (kind === 'video') {
        if (total > limits.maxVideoBytes) throw videoTooLarge(limits.maxVideoBytes);
        for (const chunk of chunks) write(chunk);
      } else {
        if (total > limits.maxImageBytes) throw imageTooLarge(limits.maxImageBytes);
        head.push(...chunks);
      }
    };
    function onData(chunk: Buffer): void {
      if (settled) return;
      try {
        total += chunk.length;
        if (kind !== null) {
          take([chunk]);
          return;
        }
        head.push(chunk);
        if (total < SNIFF_BYTES) return;
        const first = head.splice(0);
        kind = decide(Buffer.concat(first));
        take(first);
      } catch (err) {
        fail(err);
      }
    }
    function onEnd(): void {
      if (settled) return;
      try {
        if (kind === null) {
          const first = head.splice(0);
          kind = decide(Buffer.concat(first));
          take(first);
        }
      } catch (err) {
        fail(err);
        return;
      }
      if (kind === 'image') {
        settled = true;
        detach();
        resolve({ kind: 'image', bytes: Buffer.concat(head, total) });
        return;
      }
      // A video of under SNIFF_BYTES cannot be one ffmpeg reads, but it is ffmpeg's to say so.
      if (!out) write(Buffer.alloc(0));
      const sink = out as unknown as WriteStream;
      sink.end();
      finished(sink, (err) => {
        if (err) return fail(err);
        if (settled) return;
        settled = true;
        detach();
        resolve({ kind: 'video', file: file as string, bytes: total });
      });
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', fail);
    stream.on('close', onClose);
  });
}
