/**
 * Every Redis key the service uses, in one place. BullMQ's own keys live under
 * `<prefix>:<QUEUE_NAME>:`; ours sit beside them under the same prefix, so deleting
 * `<prefix>:*` removes a deployment completely and nothing else.
 */

/** The BullMQ queue both API and workers attach to. */
export const QUEUE_NAME = 'classify';

export interface RedisKeys {
  /** Hash: image index -> stored outcome (JSON), written by workers as images finish. */
  results(jobId: string): string;
  /** String: the final record of a job cancelled before it started (BullMQ forgets removed jobs). */
  cancelled(jobId: string): string;
  /** String: an uploaded video's bytes while its job is unfinished (beside the job, not in it: every read of the job would carry them). */
  video(jobId: string): string;
  /** String: DELETE asked a running video job to stop; the worker running it watches for this key. */
  cancel(jobId: string): string;
  /** String: a cached classification (JSON). */
  cache(model: string, optionsTag: string, sha256: string): string;
  /** Counter: results served from the cache. */
  cacheHits: string;
  /** Hash: worker id -> what the worker runs (JSON), refreshed while it lives. */
  workers: string;
  /** Pattern matching every key of this deployment (for tests and tear-down). */
  all: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    results: (jobId) => `${prefix}:results:${jobId}`,
    cancelled: (jobId) => `${prefix}:cancelled:${jobId}`,
    video: (jobId) => `${prefix}:video:${jobId}`,
    cancel: (jobId) => `${prefix}:cancel:${jobId}`,
    cache: (model, optionsTag, sha256) => `${prefix}:cache:${model}:${optionsTag}:${sha256}`,
    cacheHits: `${prefix}:stats:cache_hits`,
    workers: `${prefix}:workers`,
    all: `${prefix}:*`,
  };
}
