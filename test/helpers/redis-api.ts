/**
 * The API side of the Redis tests: the real `serve` process in Redis mode, and observers that
 * read the queue from outside it, the way an operator (or a second API instance) would.
 */
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { redisQueueSettingsFromEnv } from '../../src/queue/redis-config.ts';
import type { RedisJobData, RedisJobReturn } from '../../src/queue/redis-job.ts';
import { QUEUE_NAME } from '../../src/queue/redis-keys.ts';
import { createRedisQueue, type RedisJobQueue } from '../../src/queue/redis-queue.ts';
import { freePort, spawnCli, until, type ChildHandle } from './redis-processes.ts';

export interface ApiHandle {
  baseUrl: string;
  process: ChildHandle;
  /** A queue client of the test's own on the same Redis and prefix, for waitFor without polling over HTTP. */
  queue: RedisJobQueue;
  close(): Promise<void>;
}

/**
 * `marine-classifier serve` with QUEUE_URL set. Its MODEL_PATH names no file and downloads are
 * off: the API must start and classify (through workers) without ever loading a model.
 */
export async function startApi(env: Record<string, string>): Promise<ApiHandle> {
  const port = await freePort();
  const child = spawnCli(['serve', '--host', '127.0.0.1', '--port', String(port)], {
    MODEL_PATH: '/nonexistent/api-must-not-load-a-model.onnx',
    MODEL_DOWNLOAD: 'false',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await until(
    'the API to listen',
    async () => {
      if (child.child.exitCode !== null) throw new Error(`serve exited (${child.child.exitCode}):\n${child.output()}`);
      return fetch(`${baseUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    30_000,
    100,
  );
  const queue = createRedisQueue({ settings: redisQueueSettingsFromEnv(env.QUEUE_URL, env), log: () => undefined });
  return {
    baseUrl,
    process: child,
    queue,
    async close() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
      await queue.close();
    },
  };
}

export interface QueueInspector {
  queue: Queue<RedisJobData, RedisJobReturn>;
  /** 'completed' events seen per job id: exactly-once completion means every count is 1. */
  completions: Map<string, number>;
  failures: Map<string, number>;
  close(): Promise<void>;
}

/** Watches a deployment's queue through BullMQ directly (job attempts, completion events), independent of the API. */
export async function inspectQueue(url: string, prefix: string): Promise<QueueInspector> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  connection.on('error', () => undefined);
  const queue = new Queue<RedisJobData, RedisJobReturn>(QUEUE_NAME, { connection, prefix });
  queue.on('error', () => undefined);
  // From the stream's start, not from "now": no event can slip by between creating this and its first read.
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix, lastEventId: '0-0' });
  events.on('error', () => undefined);
  const completions = new Map<string, number>();
  const failures = new Map<string, number>();
  events.on('completed', ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
  events.on('failed', ({ jobId }) => failures.set(jobId, (failures.get(jobId) ?? 0) + 1));
  await events.waitUntilReady();
  await queue.waitUntilReady();
  return {
    queue,
    completions,
    failures,
    async close() {
      await events.close();
      await queue.close();
      connection.disconnect();
    },
  };
}
