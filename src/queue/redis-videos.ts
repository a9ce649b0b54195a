/**
 * Video jobs' Redis side: an uploaded video's bytes, which wait beside their job (not in it) until
 * the job ends, and the cancel requests DELETE leaves for the worker running a video.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { ClassifierError } from '../errors.ts';
import type { RedisKeys } from './redis-keys.ts';
import type { VideoSource } from './types.ts';

/**
 * How long an uploaded video waits for a worker. A job not taken by then fails with job_failed
 * (its video is gone); bounded so that a job lost in a way BullMQ never reports cannot hold
 * hundreds of megabytes of Redis memory for ever.
 */
export function uploadTtlSeconds(retentionSeconds: number): number {
  return Math.max(retentionSeconds, 60) + 24 * 3600;
}

/** A cancel request outlives any wait for a worker to notice it. */
export function cancelTtlSeconds(retentionSeconds: number): number {
  return Math.max(retentionSeconds, 60) + 3600;
}

export interface VideoStore {
  /** Stores an upload's bytes for job `id`. */
  putUpload(id: string, bytes: Buffer): Promise<void>;
  /** The upload's bytes, or null when they are gone (expired, or the job already ended). */
  readUpload(id: string): Promise<Buffer | null>;
  removeUpload(id: string): Promise<void>;
  /** Asks the worker running job `id` to stop it. */
  requestCancel(id: string): Promise<void>;
  cancelRequested(id: string): Promise<boolean>;
}

export function createVideoStore(redis: Redis, keys: RedisKeys, retentionSeconds: number): VideoStore {
  return {
    async putUpload(id, bytes) {
      await redis.set(keys.video(id), bytes, 'EX', uploadTtlSeconds(retentionSeconds));
    },
    readUpload: (id) => redis.getBuffer(keys.video(id)),
    async removeUpload(id) {
      await redis.del(keys.video(id));
    },
    async requestCancel(id) {
      await redis.set(keys.cancel(id), '1', 'EX', cancelTtlSeconds(retentionSeconds));
    },
    async cancelRequested(id) {
      return (await redis.exists(keys.cancel(id))) === 1;
    },
  };
}

/** The largest upload a video job may carry through Redis: MAX_VIDEO_BYTES, and never more than a job may hold. */
export interface UploadLimit {
  maxVideoBytes: number;
  /** QUEUE_MAX_BYTES: the largest job in Redis, whatever it carries. */
  maxJobBytes: number;
}

function tooLarge(bytes: number, limit: UploadLimit): ClassifierError {
  const [maxBytes, setting] =
    limit.maxJobBytes < limit.maxVideoBytes
      ? [limit.maxJobBytes, 'QUEUE_MAX_BYTES, the largest job in Redis']
      : [limit.maxVideoBytes, 'MAX_VIDEO_BYTES'];
  return new ClassifierError(
    'video_too_large_bytes',
    `The uploaded video has ${bytes} bytes; with the Redis queue an upload passes through Redis and may have at most ${maxBytes} (${setting}). Give larger videos by video_url.`,
  );
}

/**
 * An uploaded video's bytes for the queue, or null for a path or URL (those travel as they are).
 * An `upload` source's temporary file is deleted here, whatever happens: the queue owns it.
 */
export async function uploadedBytesOf(source: VideoSource, limit: UploadLimit): Promise<Buffer | null> {
  const maxBytes = Math.min(limit.maxVideoBytes, limit.maxJobBytes);
  switch (source.kind) {
    case 'path':
    case 'url':
      return null;
    case 'base64': {
      // base64 is 4 characters for 3 bytes: refuse before decoding what is far too large.
      if (Math.floor((source.data.length * 3) / 4) > maxBytes + 2)
        throw tooLarge(Math.floor((source.data.length * 3) / 4), limit);
      const bytes = Buffer.from(source.data, 'base64');
      if (bytes.length > maxBytes) throw tooLarge(bytes.length, limit);
      return bytes;
    }
    case 'upload':
      try {
        const { size } = await stat(source.file);
        if (size > maxBytes) throw tooLarge(size, limit);
        return await readFile(source.file);
      } finally {
        await rm(source.file, { force: true });
      }
  }
}
