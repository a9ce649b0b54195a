/**
 * One contract, two stores: the same tests against a real SQLite file in a temporary DATA_DIR and
 * against the real Redis on 127.0.0.1:6379 under a key prefix of this run (deleted after).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import {
  CLASS_SETS_FILE,
  type ClassSetStore,
  readExportFile,
  SCHEMA_VERSION,
  RedisClassSetStore,
  SqliteClassSetStore,
  writeExportFile,
} from '../src/classes/index.ts';
import { ClassifierError } from '../src/errors.ts';
import { example, examples, MODEL_A, MODEL_B, sha } from './helpers/class-sets.ts';
import { deleteKeys, SHARED_REDIS_URL, uniquePrefix } from './helpers/redis-processes.ts';

const DIM = 16;

function rejectsWith(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ClassifierError, `expected a ClassifierError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

interface Backend {
  name: string;
  /** A store; a second call gives another store object on the same data (another process's view). */
  open(options?: { matrixRecheckMs?: number }): ClassSetStore;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir = '';
  return {
    name: 'SQLite',
    open: (options = {}) => new SqliteClassSetStore({ dataDir: dir, ...options }),
    async setUp() {
      dir = mkdtempSync(path.join(tmpdir(), 'mc-class-sets-'));
    },
    async tearDown() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function redisBackend(): Backend {
  const prefix = uniquePrefix('class-sets');
  const clients: Redis[] = [];
  return {
    name: 'Redis',
    open(options = {}) {
      const redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      return new RedisClassSetStore({ redis, prefix, ...options });
    },
    async setUp() {},
    async tearDown() {
      for (const redis of clients) redis.disconnect();
      await deleteKeys(SHARED_REDIS_URL, prefix);
    },
  };
}

for (const backend of [sqliteBackend(), redisBackend()]) {
  describe(`class-set store contract: ${backend.name}`, () => {
    let store: ClassSetStore;
    before(async () => {
      await backend.setUp();
      store = backend.open();
    });
    after(async () => {
      await store.close();
      await backend.tearDown();
    });

    test('a set is created empty, listed, and a second create of the name is refused', async () => {
      const made = await store.create({ name: 'reef', model: MODEL_A, dim: DIM });
      assert.deepEqual(
        { name: made.name, model: made.model, dim: made.dim, threshold: made.threshold, examples: made.examples },
        { name: 'reef', model: MODEL_A, dim: DIM, threshold: null, examples: 0 },
      );
      assert.deepEqual(made.labels, []);
      assert.ok((await store.list()).some((set) => set.name === 'reef'));
      await assert.rejects(store.create({ name: 'reef', model: MODEL_A, dim: DIM }), rejectsWith('class_set_exists'));
    });

    test('set names follow the slug rule', async () => {
      for (const name of ['', 'Reef', 'a/b', '../x', '-lead', 'a b', 'x'.repeat(65), 'é']) {
        await assert.rejects(store.create({ name, model: MODEL_A, dim: DIM }), rejectsWith('invalid_class_set_name'));
      }
      await store.create({ name: `n${'x'.repeat(63)}`, model: MODEL_A, dim: DIM });
      await store.remove(`n${'x'.repeat(63)}`);
    });

    test('examples land with their labels; labels are kept exactly, in NFC, Unicode allowed', async () => {
      await store.create({ name: 'labels', model: MODEL_A, dim: DIM });
      const decomposed = 'Raie manta e\u0301'; // as a macOS folder name spells "é"
      const result = await store.addExamples('labels', MODEL_A, [
        ...examples('Pterois volitans 🐟', 3, DIM),
        example(decomposed, 'manta-1', DIM),
        example('Raie manta \u00e9', 'manta-2', DIM),
        example(' spaced label ', 'spaced', DIM),
      ]);
      assert.equal(result.added, 6);
      assert.deepEqual(result.duplicates, []);
      assert.deepEqual(result.summary.labels, [
        { label: ' spaced label ', count: 1 },
        { label: 'Pterois volitans 🐟', count: 3 },
        { label: 'Raie manta \u00e9', count: 2 },
      ]);
      assert.equal(result.summary.examples, 6);
    });

    test('a photo is stored once per set: again under its label, or under another, it is reported, not added', async () => {
      await store.create({ name: 'dups', model: MODEL_A, dim: DIM });
      await store.addExamples('dups', MODEL_A, [example('octopus', 'p1', DIM), example('octopus', 'p2', DIM)]);
      const again = await store.addExamples('dups', MODEL_A, [
        example('octopus', 'p1', DIM),
        example('squid', 'p2', DIM),
        example('squid', 'p3', DIM),
        example('squid', 'p3', DIM), // twice in one call
      ]);
      assert.equal(again.added, 1);
      assert.deepEqual(
        again.duplicates.map(({ sha256, label, existingLabel }) => ({ sha256, label, existingLabel })),
        [
          { sha256: sha('p1'), label: 'octopus', existingLabel: 'octopus' },
          { sha256: sha('p2'), label: 'squid', existingLabel: 'octopus' },
          { sha256: sha('p3'), label: 'squid', existingLabel: 'squid' },
        ],
      );
      assert.deepEqual(again.summary.labels, [
        { label: 'octopus', count: 2 },
        { label: 'squid', count: 1 },
      ]);
    });

    test('bad labels are refused and a batch with one refuses the whole batch', async () => {
      await store.create({ name: 'bad-labels', model: MODEL_A, dim: DIM });
      const bad = [
        '',
        '   ',
        'a/b',
        'a\\b',
        '..',
        'x..y',
        'tab\there',
        'nl\n',
        'del\u007f',
        'x'.repeat(101),
        'unknown',
        'Unknown',
      ];
      for (const label of bad) {
        await assert.rejects(
          store.addExamples('bad-labels', MODEL_A, [
            example('fine', `ok-${label}`, DIM),
            example(label, `bad-${label}`, DIM),
          ]),
          rejectsWith('invalid_label'),
          JSON.stringify(label),
        );
      }
      assert.equal((await store.get('bad-labels')).examples, 0);
      const longest = 'é'.repeat(100);
      assert.equal((await store.addExamples('bad-labels', MODEL_A, [example(longest, 'long', DIM)])).added, 1);
    });

    test('embeddings of the wrong length or not unit length, and bad hashes, are refused whole', async () => {
      await store.create({ name: 'bad-vectors', model: MODEL_A, dim: DIM });
      const good = example('fish', 'good', DIM);
      const cases = [
        { ...example('fish', 'short', DIM), vector: new Float32Array(DIM - 1).fill(1 / Math.sqrt(DIM - 1)) },
        { ...example('fish', 'long', DIM), vector: new Float32Array(DIM).fill(1) },
        { ...example('fish', 'nan', DIM), vector: new Float32Array(DIM).fill(Number.NaN) },
        { ...example('fish', 'hash', DIM), sha256: 'not-a-hash' },
      ];
      for (const wrong of cases)
        await assert.rejects(store.addExamples('bad-vectors', MODEL_A, [good, wrong]), rejectsWith('invalid_example'));
      assert.equal((await store.get('bad-vectors')).examples, 0);
    });

    test('another model is refused with how to rebuild, on add and on load', async () => {
      await store.create({ name: 'model-a', model: MODEL_A, dim: DIM, examples: examples('ray', 2, DIM) });
      const message = /mobilenetv2-12-int8.*rebuild.*classes create model-a-resnet50-v1-12 FOLDER/;
      await assert.rejects(
        store.addExamples('model-a', MODEL_B, examples('ray', 1, DIM, 'b')),
        rejectsWith('class_set_model_mismatch', message),
      );
      await assert.rejects(
        store.loadMatrix('model-a', { model: MODEL_B }),
        rejectsWith('class_set_model_mismatch', message),
      );
      // The same file under another id is the same model.
      const renamed = { id: 'my-copy.onnx', sha256: MODEL_A.sha256 };
      assert.equal((await store.loadMatrix('model-a', { model: renamed })).rows, 2);
      assert.equal((await store.get('model-a')).examples, 2);
    });

    test('an unknown set is class_set_not_found everywhere', async () => {
      await assert.rejects(store.get('nope'), rejectsWith('class_set_not_found', /classes list/));
      await assert.rejects(
        store.addExamples('nope', MODEL_A, examples('x', 1, DIM)),
        rejectsWith('class_set_not_found'),
      );
      await assert.rejects(store.removeLabel('nope', 'x'), rejectsWith('class_set_not_found'));
      await assert.rejects(store.remove('nope'), rejectsWith('class_set_not_found'));
      await assert.rejects(store.setThreshold('nope', 0.5), rejectsWith('class_set_not_found'));
      await assert.rejects(store.exportSet('nope'), rejectsWith('class_set_not_found'));
      await assert.rejects(store.loadMatrix('nope'), rejectsWith('class_set_not_found'));
    });

    test('the matrix holds every vector bit for bit, one Float32Array, labels by row', async () => {
      const added = [...examples('shark', 3, DIM), ...examples('eel', 2, DIM)];
      await store.create({ name: 'matrix', model: MODEL_A, dim: DIM, threshold: 0.42, examples: added });
      const matrix = await store.loadMatrix('matrix', { model: MODEL_A });
      assert.equal(matrix.rows, 5);
      assert.equal(matrix.dim, DIM);
      assert.equal(matrix.threshold, 0.42);
      assert.deepEqual(matrix.labels, ['eel', 'shark']);
      assert.ok(matrix.vectors instanceof Float32Array);
      assert.equal(matrix.vectors.length, 5 * DIM);
      assert.deepEqual([...matrix.labelOfRow], [1, 1, 1, 0, 0]);
      added.forEach((one, row) => {
        assert.deepEqual(matrix.vectors.subarray(row * DIM, (row + 1) * DIM), one.vector);
      });
      assert.equal(await store.loadMatrix('matrix'), matrix, 'an unchanged set is not reloaded');
    });

    test('a cached matrix follows changes: at once through the same store, by stamp through another', async () => {
      await store.create({ name: 'cache', model: MODEL_A, dim: DIM, examples: examples('a', 2, DIM) });
      const other = backend.open({ matrixRecheckMs: 0 });
      try {
        const first = await other.loadMatrix('cache');
        assert.equal(await other.loadMatrix('cache'), first, 'the stamp is read, the rows are not');
        await store.addExamples('cache', MODEL_A, examples('b', 1, DIM));
        assert.equal((await store.loadMatrix('cache')).rows, 3);
        const second = await other.loadMatrix('cache');
        assert.notEqual(second, first);
        assert.deepEqual(second.labels, ['a', 'b']);
        await store.remove('cache');
        await assert.rejects(other.loadMatrix('cache'), rejectsWith('class_set_not_found'));
        // Re-created under the same name: a new stamp, so no stale matrix can pass for it.
        await store.create({ name: 'cache', model: MODEL_A, dim: DIM, examples: examples('a', 2, DIM) });
        const third = await other.loadMatrix('cache');
        assert.notEqual(third.stamp, first.stamp);
        assert.deepEqual(third.labels, ['a']);
      } finally {
        await other.close();
      }
    });

    test('a label can be removed; an absent one is label_not_found', async () => {
      await store.create({
        name: 'remove-label',
        model: MODEL_A,
        dim: DIM,
        examples: [...examples('keep', 2, DIM), ...examples('drop', 3, DIM)],
      });
      assert.equal(await store.removeLabel('remove-label', 'drop'), 3);
      assert.deepEqual((await store.get('remove-label')).labels, [{ label: 'keep', count: 2 }]);
      await assert.rejects(store.removeLabel('remove-label', 'drop'), rejectsWith('label_not_found'));
      const matrix = await store.loadMatrix('remove-label');
      assert.deepEqual(matrix.labels, ['keep']);
      // The removed photos may come back under a label.
      assert.equal((await store.addExamples('remove-label', MODEL_A, examples('drop', 1, DIM))).added, 1);
    });

    test('the threshold override is set, checked and cleared', async () => {
      await store.create({ name: 'threshold', model: MODEL_A, dim: DIM });
      assert.equal((await store.setThreshold('threshold', 0.55)).threshold, 0.55);
      assert.equal((await store.loadMatrix('threshold')).threshold, 0.55);
      for (const wrong of [1.5, -2, Number.NaN])
        await assert.rejects(store.setThreshold('threshold', wrong), rejectsWith('invalid_threshold'));
      assert.equal((await store.setThreshold('threshold', null)).threshold, null);
      await assert.rejects(
        store.create({ name: 'threshold-bad', model: MODEL_A, dim: DIM, threshold: 3 }),
        rejectsWith('invalid_threshold'),
      );
    });

    test('export to a file and import it back: the same set, bit for bit; an existing name needs replace', async () => {
      const added = [...examples('Chromis viridis', 3, DIM), example('Dascyllus 🐠', 'd1', DIM)];
      await store.create({ name: 'export-me', model: MODEL_A, dim: DIM, threshold: 0.3, examples: added });
      const dir = mkdtempSync(path.join(tmpdir(), 'mc-export-'));
      try {
        const file = path.join(dir, 'export-me.jsonl');
        const original = await store.exportSet('export-me');
        await writeExportFile(original, file);
        const read = await readExportFile(file);
        assert.deepEqual(read, original);
        const imported = await store.importSet(read, { as: 'imported' });
        assert.deepEqual(imported.labels, (await store.get('export-me')).labels);
        assert.equal(imported.threshold, 0.3);
        assert.deepEqual(imported.model, MODEL_A);
        const back = await store.exportSet('imported');
        assert.deepEqual({ ...back, name: 'export-me' }, original);

        await assert.rejects(store.importSet(read, { as: 'imported' }), rejectsWith('class_set_exists'));
        await store.addExamples('imported', MODEL_A, examples('extra', 2, DIM));
        const replaced = await store.importSet(read, { as: 'imported', replace: true });
        assert.equal(replaced.examples, 4, 'the replaced set has only the file’s examples');
        assert.deepEqual(
          replaced.labels.map(({ label }) => label),
          ['Chromis viridis', 'Dascyllus 🐠'],
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('sets outlive the store object (a new process sees them)', async () => {
      await store.create({ name: 'lasting', model: MODEL_A, dim: DIM, examples: examples('turtle', 2, DIM) });
      const other = backend.open();
      try {
        const seen = await other.get('lasting');
        assert.deepEqual(seen.labels, [{ label: 'turtle', count: 2 }]);
        assert.equal(seen.stamp, (await store.get('lasting')).stamp);
      } finally {
        await other.close();
      }
    });
  });
}

describe('SQLite store: the file itself', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'mc-class-file-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('DATA_DIR is made when missing; the file is in WAL mode with its schema version', async () => {
    const dataDir = path.join(dir, 'new', 'deeper');
    const store = new SqliteClassSetStore({ dataDir });
    await store.create({ name: 'x', model: MODEL_A, dim: DIM });
    await store.close();
    const db = new Database(path.join(dataDir, CLASS_SETS_FILE), { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  test('a DATA_DIR that cannot be used, or a file that is not SQLite, is class_store_unavailable naming it', () => {
    const notADir = path.join(dir, 'a-file');
    writeFileSync(notADir, 'x');
    assert.throws(
      () => new SqliteClassSetStore({ dataDir: notADir }),
      rejectsWith('class_store_unavailable', /a-file/),
    );
    const garbage = mkdtempSync(path.join(dir, 'garbage-'));
    writeFileSync(
      path.join(garbage, CLASS_SETS_FILE),
      'this is not a database, but it is long enough to be read as one '.repeat(20),
    );
    assert.throws(
      () => new SqliteClassSetStore({ dataDir: garbage }),
      rejectsWith('class_store_unavailable', new RegExp(CLASS_SETS_FILE)),
    );
  });

  test('a file from a newer version is refused, not changed', () => {
    const dataDir = path.join(dir, 'newer');
    void new SqliteClassSetStore({ dataDir }).close();
    const db = new Database(path.join(dataDir, CLASS_SETS_FILE));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => new SqliteClassSetStore({ dataDir }), /written by a newer marine-classifier/);
  });
});
