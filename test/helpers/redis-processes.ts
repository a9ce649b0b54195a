/**
 * Child processes for the Redis tests: worker processes (the real `worker` command) and a private
 * redis-server. Every child is tracked so that `killAll()` in after() ends them even when a test
 * failed half-way; nothing here ever touches the shared Redis on 6379 beyond its own key prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { REPO_ROOT, TEST_MODEL, SHARED } from './shared.ts';

export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses, so runs can share one Redis. */
export function uniquePrefix(name: string): string {
  return `mc-test-${name}-${process.pid}-${Date.now().toString(36)}`;
}

/** Deletes every key under `<prefix>:`; SCAN, never KEYS, since the Redis is shared. */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const children = new Set<ChildProcess>();

export interface ChildHandle {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

function track(child: ChildProcess): ChildHandle {
  children.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Ends every child still running (SIGKILL) and waits for them; for after(). */
export async function killAll(): Promise<void> {
  const waiting = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waiting);
}

export interface WorkerHandle extends ChildHandle {
  /** hostname:pid, as the worker records it on jobs. */
  id: string;
}

/** The command line as users type it: `marine-classifier <args>`, through tsx. */
export function spawnCli(args: string[], env: Record<string, string>): ChildHandle {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child);
}

/** The worker command as users run it; resolves once its model is loaded and it takes jobs. */
export async function startWorkerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<WorkerHandle> {
  const handle = spawnCli(['worker'], { MODEL_PATH: TEST_MODEL, IMAGE_ROOT: path.join(SHARED, 'images'), ...env });
  const { child } = handle;
  const id = await until(
    'the worker to load its model',
    () => {
      if (child.exitCode !== null) throw new Error(`the worker exited early (${child.exitCode}):\n${handle.output()}`);
      return /worker (\S+): model /.exec(handle.output())?.[1];
    },
    timeoutMs,
  );
  return { ...handle, id };
}

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** Crashes it (SIGKILL): only what was fsynced survives, as in a real crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  start(): Promise<void>;
  /** Stops it and removes its data folder. */
  destroy(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free loopback port, with an fsync-always append-only file:
 * it can be killed and restarted (the shared 6379 must never be), and keeps every job it acknowledged.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-redis-'));
  let handle: ChildHandle | null = null;
  const url = `redis://127.0.0.1:${port}`;

  async function start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
        '--protected-mode',
        'yes',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    handle = track(child);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await until(
        'the private redis-server to answer',
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${handle!.output()}`);
          try {
            if (probe.status === 'wait' || probe.status === 'end') await probe.connect();
            return (await probe.ping()) === 'PONG';
          } catch {
            probe.disconnect();
            return false;
          }
        },
        10_000,
      );
    } finally {
      probe.disconnect();
    }
  }

  async function kill(): Promise<void> {
    if (!handle) return;
    const current = handle;
    handle = null;
    current.kill('SIGKILL');
    await current.exited;
  }

  await start();
  return {
    url,
    port,
    dir,
    kill,
    start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
