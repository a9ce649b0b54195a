/**
 * ioredis connections for the queue, configured per role. Every connection gets an error listener
 * (ioredis emits 'error' on each failed reconnect; unheard, that would crash the process) and
 * reconnects by itself forever, so the service resumes without a restart once Redis is back.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { describeQueueUrl } from './redis-config.ts';

/**
 * api: answers HTTP requests, so commands fail at once while Redis is away (no offline queue)
 * and never wait longer than commandTimeoutMs.
 * worker / events: background loops that BullMQ drives with blocking commands; they must wait
 * for Redis instead (BullMQ requires maxRetriesPerRequest null there).
 */
export type RedisRole = 'api' | 'worker' | 'events';

export type LogFn = (level: 'info' | 'warn' | 'error', message: string) => void;

export const consoleLog: LogFn = (level, message) => {
  if (level === 'error' || level === 'warn') console.error(`[${level}] ${message}`);
  else console.log(`[${level}] ${message}`);
};

export interface RedisConnectOptions {
  commandTimeoutMs?: number;
  log?: LogFn;
  /** What the log lines call this connection. */
  label?: string;
}

/** Quick retries first, then at most one a second: recovery after a restart should take about a second. */
function retryDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1000);
}

function optionsFor(role: RedisRole, commandTimeoutMs: number | undefined): RedisOptions {
  const common: RedisOptions = { retryStrategy: retryDelay, connectTimeout: 3000 };
  if (role === 'api') {
    return { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs ?? 5000 };
  }
  return { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null };
}

export function connectRedis(url: string, role: RedisRole, options: RedisConnectOptions = {}): Redis {
  const redis = new Redis(url, optionsFor(role, options.commandTimeoutMs));
  watchConnection(redis, options.label ?? `redis (${role})`, describeQueueUrl(url), options.log ?? consoleLog);
  return redis;
}

/**
 * Logs an outage once when it starts and once when it ends, not every retry: a Redis that is
 * down for a minute would otherwise fill the log with hundreds of identical lines.
 */
export function watchConnection(redis: Redis, label: string, where: string, log: LogFn): void {
  let down = false;
  let lastLogged = 0;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if (!down || now - lastLogged > 30_000) {
      log(down ? 'warn' : 'error', `${label}: cannot reach ${where} (${err.message}); retrying`);
      lastLogged = now;
    }
    down = true;
  });
  redis.on('ready', () => {
    if (down) log('info', `${label}: connected to ${where} again`);
    down = false;
  });
}

/** Closes politely when Redis answers, at once when it does not (quit would wait for a dead server). */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await Promise.race([redis.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    } catch {
      // Falls through to disconnect.
    }
  }
  redis.disconnect();
}

/** True when the error means "Redis cannot be reached right now", as opposed to a bug or bad data. */
export function isRedisUnavailableError(err: unknown): boolean {
  const message = err instanceof Error ? `${err.name} ${err.message}` : String(err);
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Command timed out|MaxRetriesPerRequest|max retries per request|LOADING|MISCONF|READONLY|MASTERDOWN|connect ETIMEDOUT/i.test(
    message,
  );
}
