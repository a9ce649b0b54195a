/**
 * Workers announce themselves in one Redis hash (not one key each: listing would then need a
 * SCAN over the whole keyspace). The API reads it to learn which model the workers run, without
 * loading it, and how much they can take at once.
 */
import type { Redis } from 'ioredis';
import type { ClassifierSettings, ModelDescription } from '../engine/classifier.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface WorkerAdvert {
  /** hostname:pid */
  id: string;
  model: ModelDescription;
  settings: ClassifierSettings;
  /** Jobs the worker takes at once. */
  concurrency: number;
  started_at: string;
  /** ms since epoch of the last heartbeat. */
  seen_at: number;
}

/** How often a worker refreshes its entry, and when a silent one counts as gone (a SIGKILLed worker never says goodbye). */
export const HEARTBEAT_MS = 10_000;
export const WORKER_GONE_MS = 3 * HEARTBEAT_MS;

export interface WorkerRegistry {
  advertise(advert: WorkerAdvert): Promise<void>;
  remove(id: string): Promise<void>;
  /** Live workers, newest heartbeat first; entries of vanished workers are pruned on the way. */
  list(): Promise<WorkerAdvert[]>;
}

export function createWorkerRegistry(redis: Redis, keys: RedisKeys): WorkerRegistry {
  return {
    async advertise(advert) {
      await redis.hset(keys.workers, advert.id, JSON.stringify(advert));
    },
    async remove(id) {
      await redis.hdel(keys.workers, id);
    },
    async list() {
      const now = Date.now();
      const entries = Object.entries(await redis.hgetall(keys.workers)).map(([id, json]) => ({
        id,
        advert: JSON.parse(json) as WorkerAdvert,
      }));
      const gone = entries.filter((e) => now - e.advert.seen_at > WORKER_GONE_MS).map((e) => e.id);
      if (gone.length > 0) await redis.hdel(keys.workers, ...gone);
      return entries
        .filter((e) => now - e.advert.seen_at <= WORKER_GONE_MS)
        .map((e) => e.advert)
        .sort((a, b) => b.seen_at - a.seen_at);
    },
  };
}
