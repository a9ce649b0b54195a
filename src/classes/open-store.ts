/** The one place that picks the store: Redis when the deployment has one (QUEUE_URL), else SQLite in DATA_DIR. */
import type { Redis } from 'ioredis';
import { RedisClassSetStore } from './redis-store.ts';
import { SqliteClassSetStore } from './sqlite-store.ts';
import type { ClassSetStore } from './types.ts';

export type StoreLocation =
  /** DATA_DIR: the sets are in DATA_DIR/class-sets.sqlite. */
  | { dataDir: string }
  /** A Redis connection the caller owns, and the deployment's key prefix (QUEUE_PREFIX). */
  | { redis: Redis; prefix: string };

export function openClassSetStore(location: StoreLocation): ClassSetStore {
  return 'redis' in location
    ? new RedisClassSetStore({ redis: location.redis, prefix: location.prefix })
    : new SqliteClassSetStore({ dataDir: location.dataDir });
}
