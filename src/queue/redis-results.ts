/**
 * Per-image outcomes of a job, one hash field per image index. Workers write each image as it
 * finishes, so a running batch shows partial results, a retried or re-delivered job only redoes
 * the images still missing, and a job run twice (a worker presumed dead that was only slow) still
 * shows one result per image.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.ts';
import type { StoredItem } from './redis-job.ts';

export interface ResultStore {
  read(jobId: string): Promise<StoredItem[]>;
  write(jobId: string, item: StoredItem): Promise<void>;
  remove(jobId: string): Promise<void>;
}

/**
 * `ttlSeconds` is refreshed on every write: results outlive their job's retention (the API hides
 * them once the job is past it) yet never linger when BullMQ's age-based removal runs late.
 */
export function createResultStore(redis: Redis, keys: RedisKeys, ttlSeconds: number): ResultStore {
  return {
    async read(jobId) {
      const fields = await redis.hgetall(keys.results(jobId));
      return Object.values(fields).map((json) => JSON.parse(json) as StoredItem);
    },
    async write(jobId, item) {
      const key = keys.results(jobId);
      await redis.multi().hset(key, String(item.index), JSON.stringify(item)).expire(key, ttlSeconds).exec();
    },
    async remove(jobId) {
      await redis.del(keys.results(jobId));
    },
  };
}

/** Results must stay readable for the job's whole retention, plus slack for a job that finishes late after its last image. */
export function resultTtlSeconds(retentionSeconds: number): number {
  return Math.max(retentionSeconds, 60) + 3600;
}
