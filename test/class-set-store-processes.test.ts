/**
 * The stores under real processes: a writer killed with SIGKILL in the middle of a large import
 * leaves the set exactly as it was, and two processes adding to one set at once both land.
 * SQLite in a temporary DATA_DIR; Redis on 127.0.0.1:6379 under this run's prefix.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import {
  CLASS_SETS_FILE,
  type ClassSetExport,
  type ClassSetStore,
  RedisClassSetStore,
  SqliteClassSetStore,
  writeExportFile,
} from '../src/classes/index.ts';
import { examples, MODEL_A } from './helpers/class-sets.ts';
import {
  deleteKeys,
  killAll,
  SHARED_REDIS_URL,
  startPrivateRedis,
  uniquePrefix,
  until,
} from './helpers/redis-processes.ts';
import { ClassifierError } from '../src/errors.ts';
import { REPO_ROOT } from './helpers/shared.ts';

const CHILD = path.join(REPO_ROOT, 'test', 'helpers', 'class-set-child.ts');
const BIG_DIM = 512;
/** Large enough that writing it takes a while (about 40 MB of vectors), small enough for a test. */
const BIG_COUNT = 20_000;

interface Child {
  process: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

function startChild(args: object): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { process: child, output: () => output, exited };
}

function bigSet(): ClassSetExport {
  const now = new Date().toISOString();
  return {
    name: 'big',
    model: MODEL_A,
    dim: BIG_DIM,
    threshold: null,
    createdAt: now,
    examples: examples('new', BIG_COUNT, BIG_DIM, 'big-').map((one) => ({ ...one, addedAt: now })),
  };
}

/** Each writer was still writing when the other began: the test did run them at once. */
function assertOverlapped(a: Child, b: Child): void {
  const times = (child: Child) => {
    const started = Number(/started at (\d+)/.exec(child.output())?.[1]);
    const done = Number(/done \d+ at (\d+)/.exec(child.output())?.[1]);
    return { started, done };
  };
  const [x, y] = [times(a), times(b)];
  assert.ok(
    Math.max(x.started, y.started) < Math.min(x.done, y.done),
    `the writers did not overlap: ${JSON.stringify([x, y])}`,
  );
}

function switchesOf(labelOfRow: Uint32Array): number {
  let switches = 0;
  for (let row = 1; row < labelOfRow.length; row++) if (labelOfRow[row] !== labelOfRow[row - 1]) switches++;
  return switches;
}

let work: string;
let exportFile: string;

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'mc-class-processes-'));
  exportFile = path.join(work, 'big.jsonl');
  await writeExportFile(bigSet(), exportFile);
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await killAll();
  rmSync(work, { recursive: true, force: true });
});

/** What "as before" means: the same stamp, labels and vectors. */
async function snapshot(store: ClassSetStore, name: string) {
  const summary = await store.get(name);
  const matrix = await store.loadMatrix(name);
  return {
    stamp: summary.stamp,
    labels: summary.labels,
    vectors: Buffer.from(matrix.vectors.buffer).toString('base64'),
  };
}

describe('SQLite store with real processes', () => {
  let dataDir: string;
  before(() => {
    dataDir = path.join(work, 'sqlite');
  });

  test('kill -9 in the middle of an import leaves the set as before; the same import unkilled lands whole', async (t) => {
    const store = new SqliteClassSetStore({ dataDir });
    await store.create({ name: 'victim', model: MODEL_A, dim: BIG_DIM, examples: examples('old', 5, BIG_DIM) });
    const before = await snapshot(store, 'victim');
    await store.close();

    const wal = path.join(dataDir, `${CLASS_SETS_FILE}-wal`);
    const walSize = () => (existsSync(wal) ? statSync(wal).size : 0);
    const walBefore = walSize();
    const child = startChild({ store: { dataDir }, action: 'import', name: 'victim', file: exportFile });
    // The transaction is under way once its pages spill into the WAL: kill it then, before it can commit.
    await until('the import to write into the WAL', () => walSize() > walBefore + 4 * 1024 * 1024, 120_000, 2);
    child.process.kill('SIGKILL');
    const { signal } = await child.exited;
    const walAtKill = walSize();
    assert.equal(signal, 'SIGKILL');
    assert.doesNotMatch(child.output(), /done/, 'the import must not have finished before the kill');
    assert.ok(walAtKill > walBefore, 'uncommitted pages were in the WAL at the kill');
    t.diagnostic(`killed with ${((walAtKill - walBefore) / 1048576).toFixed(1)} MB of the import's pages in the WAL`);

    const reopened = new SqliteClassSetStore({ dataDir });
    try {
      assert.deepEqual(await snapshot(reopened, 'victim'), before);
      const db = new Database(path.join(dataDir, CLASS_SETS_FILE), { readonly: true });
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      db.close();
    } finally {
      await reopened.close();
    }

    const again = startChild({ store: { dataDir }, action: 'import', name: 'victim', file: exportFile });
    assert.deepEqual(await again.exited, { code: 0, signal: null }, again.output());
    const after = new SqliteClassSetStore({ dataDir });
    try {
      assert.deepEqual((await after.get('victim')).labels, [{ label: 'new', count: BIG_COUNT }]);
    } finally {
      await after.close();
    }
  });

  test('two processes adding to the same set at once both land', async (t) => {
    const store = new SqliteClassSetStore({ dataDir });
    await store.create({ name: 'shared', model: MODEL_A, dim: 64 });
    const startFile = path.join(work, 'go-sqlite');
    const writer = (label: string) =>
      startChild({
        store: { dataDir },
        action: 'add',
        name: 'shared',
        label,
        count: 300,
        batch: 3,
        dim: 64,
        startFile,
      });
    const [a, b] = [writer('left'), writer('right')];
    await until('both writers to be ready', () => /ready/.test(a.output()) && /ready/.test(b.output()), 60_000);
    writeFileSync(startFile, '');
    const results = await Promise.all([a.exited, b.exited]);
    assert.deepEqual(
      results,
      [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ],
      `${a.output()}\n${b.output()}`,
    );
    assert.match(a.output(), /done 300/);
    assert.match(b.output(), /done 300/);
    assert.deepEqual((await store.get('shared')).labels, [
      { label: 'left', count: 300 },
      { label: 'right', count: 300 },
    ]);
    const matrix = await store.loadMatrix('shared');
    assertOverlapped(a, b);
    t.diagnostic(`600 rows, the writer changes ${switchesOf(matrix.labelOfRow)} times along them`);
    await store.close();
  });
});

describe('Redis store with real processes', () => {
  const prefix = uniquePrefix('class-processes');
  let redis: Redis;
  let store: RedisClassSetStore;
  before(() => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    store = new RedisClassSetStore({ redis, prefix });
  });
  after(async () => {
    redis.disconnect();
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  async function setKeys(): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:class-set:*:order`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    return keys;
  }

  test('kill -9 in the middle of an import leaves the set as before; what it staged expires', async (t) => {
    await store.create({ name: 'victim', model: MODEL_A, dim: BIG_DIM, examples: examples('old', 5, BIG_DIM) });
    const before = await snapshot(store, 'victim');
    const child = startChild({
      store: { redisUrl: SHARED_REDIS_URL, prefix },
      action: 'import',
      name: 'victim',
      file: exportFile,
    });
    // The new set is being built aside once a second set's keys exist: kill it then.
    const staged = await until(
      'the import to stage examples',
      async () => {
        const keys = await setKeys();
        if (keys.length < 2) return false;
        for (const key of keys) if ((await redis.zcard(key)) > 1000 && (await redis.ttl(key)) > 0) return key;
        return false;
      },
      120_000,
      5,
    );
    child.process.kill('SIGKILL');
    const { signal } = await child.exited;
    assert.equal(signal, 'SIGKILL');
    assert.doesNotMatch(child.output(), /done/);

    const fresh = new RedisClassSetStore({ redis, prefix });
    assert.deepEqual(await snapshot(fresh, 'victim'), before);
    const stagedCount = await redis.zcard(staged);
    assert.ok(stagedCount < BIG_COUNT, 'killed before it staged everything');
    t.diagnostic(`killed with ${stagedCount} of ${BIG_COUNT} examples staged`);
    assert.ok((await redis.ttl(staged)) > 0, 'the half-built set expires by itself');
  });

  test('two processes adding to the same set at once both land', async (t) => {
    await store.create({ name: 'shared', model: MODEL_A, dim: 64 });
    const startFile = path.join(work, 'go-redis');
    const writer = (label: string) =>
      startChild({
        store: { redisUrl: SHARED_REDIS_URL, prefix },
        action: 'add',
        name: 'shared',
        label,
        count: 300,
        batch: 3,
        dim: 64,
        startFile,
      });
    const [a, b] = [writer('left'), writer('right')];
    await until('both writers to be ready', () => /ready/.test(a.output()) && /ready/.test(b.output()), 60_000);
    writeFileSync(startFile, '');
    const results = await Promise.all([a.exited, b.exited]);
    assert.deepEqual(
      results,
      [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ],
      `${a.output()}\n${b.output()}`,
    );
    assert.deepEqual((await store.get('shared')).labels, [
      { label: 'left', count: 300 },
      { label: 'right', count: 300 },
    ]);
    const matrix = await store.loadMatrix('shared');
    assertOverlapped(a, b);
    t.diagnostic(`600 rows, the writer changes ${switchesOf(matrix.labelOfRow)} times along them`);
  });
});

test('Redis with an append-only file: a set survives redis-server crashing; while it is down the store says so (503)', async () => {
  const server = await startPrivateRedis();
  // As the API connects: no offline queue, so a command fails at once while Redis is away.
  const redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  redis.on('error', () => undefined);
  try {
    await until('the connection', () => redis.status === 'ready', 10_000);
    const store = new RedisClassSetStore({ redis, prefix: 'mc' });
    await store.create({ name: 'lasting', model: MODEL_A, dim: 32, examples: examples('turtle', 3, 32) });
    const before = await snapshot(store, 'lasting');

    await server.kill();
    await assert.rejects(store.get('lasting'), (err: unknown) => {
      assert.ok(err instanceof ClassifierError && err.code === 'class_store_unavailable', String(err));
      assert.equal(err.status, 503);
      assert.equal(err.retryable, true);
      return true;
    });

    await server.start();
    await until('the connection to come back', () => redis.status === 'ready', 10_000);
    const after = new RedisClassSetStore({ redis, prefix: 'mc' });
    assert.deepEqual(await snapshot(after, 'lasting'), before);
  } finally {
    redis.disconnect();
    await server.destroy();
  }
});
