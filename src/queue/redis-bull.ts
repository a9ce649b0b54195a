/**
 * The API's BullMQ Queue over one ioredis connection, kept usable across Redis outages: a call
 * made while Redis is away fails at once with 503 queue_unavailable instead of waiting (BullMQ
 * itself would wait), and a Queue whose set-up Redis interrupted is replaced by a fresh one.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ClassifierError } from '../errors.ts';
import { isRedisUnavailableError, type LogFn } from './redis-connection.ts';
import type { RedisJobData, RedisJobReturn } from './redis-job.ts';
import { QUEUE_NAME } from './redis-keys.ts';

export type BullQueue = Queue<RedisJobData, RedisJobReturn>;

/** How long a call made while the first connection is being set up waits for it. */
const FIRST_CONNECT_WAIT_MS = 2000;

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: Command timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function queueUnavailable(cause?: unknown): ClassifierError {
  return new ClassifierError(
    'queue_unavailable',
    'The job queue is unavailable: its Redis cannot be reached right now. Try again shortly.',
    { cause },
  );
}

/** Resolves once the connection is ready or has failed, or after `ms`, whichever comes first. */
function connectedWithin(redis: Redis, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      redis.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.once('ready', done);
    redis.once('error', done);
  });
}

export class BullQueueHandle {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #commandTimeoutMs: number;
  readonly #log: LogFn;
  #queue: BullQueue;
  #broken = false;

  constructor(redis: Redis, settings: { prefix: string; commandTimeoutMs: number }, log: LogFn) {
    this.#redis = redis;
    this.#prefix = settings.prefix;
    this.#commandTimeoutMs = settings.commandTimeoutMs;
    this.#log = log;
    this.#queue = this.#open();
  }

  /** The stream key of the queue's events (the same for every Queue this handle opens). */
  get eventsKey(): string {
    return this.#queue.keys.events;
  }

  /** The BullMQ queue, or queue_unavailable at once: BullMQ itself would wait for Redis, and a request must not. */
  async active(): Promise<BullQueue> {
    const redis = this.#redis;
    // The very first connection may still be under way when the first request arrives; an outage ('reconnecting') fails at once.
    if (redis.status === 'connecting' || redis.status === 'connect')
      await connectedWithin(redis, FIRST_CONNECT_WAIT_MS);
    if (redis.status !== 'ready') throw queueUnavailable();
    if (this.#broken) {
      const old = this.#queue;
      this.#queue = this.#open();
      void old.close().catch(() => undefined);
    }
    await withTimeout(this.#queue.waitUntilReady(), this.#commandTimeoutMs, 'job queue set-up');
    return this.#queue;
  }

  /** Runs a Redis operation, translating "Redis is away" into 503 queue_unavailable. */
  async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (err instanceof ClassifierError) throw err;
      if (isRedisUnavailableError(err) || this.#redis.status !== 'ready') throw queueUnavailable(err);
      throw err;
    }
  }

  /** Bounded: with Redis gone, BullMQ's close would wait for a connection that never comes back. */
  async close(): Promise<void> {
    await withTimeout(this.#queue.close(), 2000, 'queue close').catch(() => undefined);
  }

  #open(): BullQueue {
    const queue = new Queue<RedisJobData, RedisJobReturn>(QUEUE_NAME, {
      connection: this.#redis,
      prefix: this.#prefix,
    });
    this.#broken = false;
    // Outages are logged once by the connection watcher; BullMQ would repeat them on every reconnect attempt.
    queue.on('error', (err) => {
      if (!isRedisUnavailableError(err)) this.#log('warn', `job queue: ${err.message}`);
    });
    // BullMQ's set-up runs once; if Redis vanishes in the middle of it, this Queue never becomes usable.
    queue.waitUntilReady().catch(() => {
      if (this.#queue === queue) this.#broken = true;
    });
    return queue;
  }
}
