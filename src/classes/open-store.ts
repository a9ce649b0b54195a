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

/**
 * A store opened on first use: a service that never touches class sets creates no file in
 * DATA_DIR (and a broken DATA_DIR fails the class-set requests, not the start-up).
 */
export function lazyClassSetStore(location: StoreLocation): ClassSetStore {
  let store: ClassSetStore | null = null;
  const open = () => {
    store ??= openClassSetStore(location);
    return store;
  };
  return {
    where: 'redis' in location ? `Redis, keys ${location.prefix}:class-set*` : `DATA_DIR ${location.dataDir}`,
    create: (request) => open().create(request),
    list: () => open().list(),
    get: (name) => open().get(name),
    addExamples: (name, model, examples) => open().addExamples(name, model, examples),
    removeLabel: (name, label) => open().removeLabel(name, label),
    remove: (name) => open().remove(name),
    setThreshold: (name, threshold) => open().setThreshold(name, threshold),
    exportSet: (name) => open().exportSet(name),
    importSet: (data, options) => open().importSet(data, options),
    loadMatrix: (name, options) => open().loadMatrix(name, options),
    close: async () => {
      await store?.close();
      store = null;
    },
  };
}
