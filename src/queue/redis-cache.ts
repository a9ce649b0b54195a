/**
 * The optional result cache: the same image (by sha256) classified with the same model and
 * options gives the same answer, so a survey photo uploaded twice is classified once. Keyed by
 * content, so it also serves an image that arrives first by URL and later as an upload.
 */
import type { Redis } from 'ioredis';
import { validateClassifyOptions } from '../engine/classifier.ts';
import type { ClassificationResult, ClassifyOptions } from '../engine/types.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface ResultCache {
  get(model: string, options: ClassifyOptions, sha256: string): Promise<ClassificationResult | null>;
  set(model: string, options: ClassifyOptions, result: ClassificationResult): Promise<void>;
  countHits(hits: number): Promise<void>;
}

/** Options as the engine applies them, so {} and {topK: 5} share entries. */
export function optionsTagOf(options: ClassifyOptions): string {
  const o = validateClassifyOptions(options);
  return `k${o.topK}-s${o.minScore}-${o.marineOnly ? 'marine' : 'all'}`;
}

/** A cached answer, with timings that say it took no fetching, decoding or inference. */
export function servedFromCache(result: ClassificationResult, elapsedMs: number): ClassificationResult {
  return { ...result, timings: { fetch_ms: 0, decode_ms: 0, queue_ms: 0, inference_ms: 0, total_ms: elapsedMs } };
}

/** A cache that fails open: when Redis misbehaves the image is classified as if nothing were cached. */
export function createResultCache(redis: Redis, keys: RedisKeys, ttlSeconds: number): ResultCache {
  return {
    async get(model, options, sha256) {
      try {
        const json = await redis.get(keys.cache(model, optionsTagOf(options), sha256));
        return json ? (JSON.parse(json) as ClassificationResult) : null;
      } catch {
        return null;
      }
    },
    async set(model, options, result) {
      try {
        await redis.set(
          keys.cache(model, optionsTagOf(options), result.sha256),
          JSON.stringify(result),
          'EX',
          ttlSeconds,
        );
      } catch {
        // A missed cache write costs one classification later, nothing more.
      }
    },
    async countHits(hits) {
      if (hits <= 0) return;
      try {
        await redis.incrby(keys.cacheHits, hits);
      } catch {
        // Metrics only.
      }
    },
  };
}
