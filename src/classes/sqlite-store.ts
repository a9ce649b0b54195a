/**
 * Class sets in one SQLite file, `DATA_DIR/class-sets.sqlite`: the store when there is no Redis.
 * WAL journal (readers never wait for a writer), a busy timeout (two processes writing take
 * turns instead of failing), and every change is one IMMEDIATE transaction, so a process killed
 * in the middle of one leaves the set as it was. The schema's version is the file's user_version.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ClassifierError } from '../errors.ts';
import {
  checkDim,
  checkExample,
  checkHead,
  checkModel,
  dimForAdding,
  modelOfSet,
  checkSetName,
  checkThreshold,
  exists,
  labelNotFound,
  modelMismatch,
  notFound,
  sameModel,
} from './checks.ts';
import { MATRIX_RECHECK_MS, MatrixBuilder, MatrixCache } from './matrix.ts';
import type {
  AddResult,
  ClassMatrix,
  ClassSetExport,
  ClassSetStore,
  ClassSetSummary,
  CreateClassSet,
  DuplicateExample,
  ExampleInput,
  ImportOptions,
  LoadMatrixOptions,
  ModelFingerprint,
  StoredExample,
} from './types.ts';
import { vectorBytes, vectorFromBytes } from './vector-bytes.ts';

export const CLASS_SETS_FILE = 'class-sets.sqlite';
/** Raise with a migration in MIGRATIONS when the schema changes. */
export const SCHEMA_VERSION = 1;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE class_sets (
      id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so a re-created set gets a new stamp
      name TEXT NOT NULL UNIQUE,
      model_id TEXT NOT NULL,
      model_sha256 TEXT NOT NULL,
      dim INTEGER NOT NULL,
      threshold REAL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      version INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE examples (
      id INTEGER PRIMARY KEY,
      set_id INTEGER NOT NULL REFERENCES class_sets(id) ON DELETE CASCADE,
      label TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      source TEXT NOT NULL,
      added_at TEXT NOT NULL,
      vector BLOB NOT NULL,
      UNIQUE (set_id, sha256)
    );
    -- A set's rows come back in id order straight from this index (the rowid is its last column): no sort.
    CREATE INDEX examples_by_set ON examples (set_id);
  `,
};

export interface SqliteStoreOptions {
  /** The folder (DATA_DIR); created if missing. */
  dataDir: string;
  /** How long a write waits for another process's transaction before class_store_unavailable. */
  busyTimeoutMs?: number;
  matrixRecheckMs?: number;
}

interface SetRow {
  id: number;
  name: string;
  model_id: string;
  model_sha256: string;
  dim: number;
  threshold: number | null;
  created_at: string;
  updated_at: string;
  version: number;
}

interface ExampleRow {
  label: string;
  sha256: string;
  source: string;
  added_at: string;
  vector: Buffer;
}

export class SqliteClassSetStore implements ClassSetStore {
  readonly where: string;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly cache: MatrixCache;

  constructor(options: SqliteStoreOptions) {
    this.file = path.join(options.dataDir, CLASS_SETS_FILE);
    this.where = `SQLite file ${this.file}`;
    this.db = guard(this.where, () => {
      mkdirSync(options.dataDir, { recursive: true });
      const db = new Database(this.file, { timeout: options.busyTimeoutMs ?? 10_000 });
      // 16 KiB pages (for a new file; set before WAL, which fixes it): a 1280-number embedding is
      // 5 KiB, and with the default 4 KiB pages every row spills into overflow pages, reading 2-3x slower.
      db.pragma('page_size = 16384');
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      return db;
    });
    guard(this.where, () => migrate(this.db, this.file));
    this.cache = new MatrixCache(
      async (name) => this.stampOf(name),
      async (name) => this.readMatrix(name),
      options.matrixRecheckMs ?? MATRIX_RECHECK_MS,
    );
  }

  async create(request: CreateClassSet): Promise<ClassSetSummary> {
    const name = checkSetName(request.name);
    const { model, dim } = checkHead(request.model, request.dim);
    const threshold = checkThreshold(request.threshold);
    const examples = (request.examples ?? []).map((example) => checkExample(example, dim ?? 0));
    return this.write(name, () => {
      if (this.setRow(name)) throw exists(name);
      const now = new Date().toISOString();
      const id = this.insertSet(name, model, dim, threshold, now, now);
      this.insertExamples(id, examples, now);
      return this.summary(this.setRow(name) as SetRow);
    });
  }

  async list(): Promise<ClassSetSummary[]> {
    return guard(this.where, () => {
      const rows = this.db.prepare('SELECT * FROM class_sets ORDER BY name').all() as SetRow[];
      return rows.map((row) => this.summary(row));
    });
  }

  async get(name: string): Promise<ClassSetSummary> {
    return guard(this.where, () => this.summary(this.existing(checkSetName(name))));
  }

  async addExamples(name: string, model: ModelFingerprint, examples: readonly ExampleInput[]): Promise<AddResult> {
    checkSetName(name);
    checkModel(model);
    return this.write(name, () => {
      const set = this.existing(name);
      const setModel = modelOfRow(set);
      if (setModel && !sameModel(setModel, model)) throw modelMismatch(name, setModel, model);
      const dim = dimForAdding(setModel ? set.dim : null, examples);
      const checked = examples.map((example) => checkExample(example, dim));
      // A set made without a model takes the one its first examples came from.
      if (!setModel && checked.length > 0)
        this.db
          .prepare('UPDATE class_sets SET model_id = ?, model_sha256 = ?, dim = ? WHERE id = ?')
          .run(model.id, model.sha256, dim, set.id);
      const { added, duplicates } = this.insertExamples(set.id, checked, new Date().toISOString());
      if (added > 0) this.touch(set.id);
      return { added, duplicates, summary: this.summary(this.existing(name)) };
    });
  }

  async removeLabel(name: string, label: string): Promise<number> {
    checkSetName(name);
    return this.write(name, () => {
      const set = this.existing(name);
      const { changes } = this.db
        .prepare('DELETE FROM examples WHERE set_id = ? AND label = ?')
        .run(set.id, String(label).normalize('NFC'));
      if (changes === 0) throw labelNotFound(name, label);
      this.touch(set.id);
      return changes;
    });
  }

  async remove(name: string): Promise<void> {
    checkSetName(name);
    this.write(name, () => {
      if (this.db.prepare('DELETE FROM class_sets WHERE name = ?').run(name).changes === 0) throw notFound(name);
    });
  }

  async setThreshold(name: string, threshold: number | null): Promise<ClassSetSummary> {
    checkSetName(name);
    const value = checkThreshold(threshold);
    return this.write(name, () => {
      const set = this.existing(name);
      this.db.prepare('UPDATE class_sets SET threshold = ? WHERE id = ?').run(value, set.id);
      this.touch(set.id);
      return this.summary(this.existing(name));
    });
  }

  async exportSet(name: string): Promise<ClassSetExport> {
    checkSetName(name);
    return guard(this.where, () =>
      // One read transaction: the set's row and its examples from the same moment.
      this.db.transaction(() => {
        const set = this.existing(name);
        const rows = this.db
          .prepare('SELECT label, sha256, source, added_at, vector FROM examples WHERE set_id = ? ORDER BY id')
          .all(set.id) as ExampleRow[];
        const examples: StoredExample[] = rows.map((row) => ({
          label: row.label,
          sha256: row.sha256,
          source: row.source,
          addedAt: row.added_at,
          vector: vectorFromBytes(row.vector, set.dim) ?? corruptRow(name),
        }));
        return {
          name: set.name,
          model: modelOfSet(name, modelOfRow(set)),
          dim: set.dim,
          threshold: set.threshold,
          createdAt: set.created_at,
          examples,
        };
      })(),
    );
  }

  async importSet(data: ClassSetExport, options: ImportOptions = {}): Promise<ClassSetSummary> {
    const name = checkSetName(options.as ?? data.name);
    const model = checkModel(data.model);
    const dim = checkDim(data.dim);
    const threshold = checkThreshold(data.threshold);
    const examples = data.examples.map((example) => ({ ...checkExample(example, dim), addedAt: example.addedAt }));
    return this.write(name, () => {
      const old = this.setRow(name);
      if (old && !options.replace) throw exists(name);
      if (old) this.db.prepare('DELETE FROM class_sets WHERE id = ?').run(old.id);
      const id = this.insertSet(name, model, dim, threshold, data.createdAt, new Date().toISOString());
      this.insertExamples(id, examples, new Date().toISOString());
      return this.summary(this.setRow(name) as SetRow);
    });
  }

  async loadMatrix(name: string, options: LoadMatrixOptions = {}): Promise<ClassMatrix> {
    checkSetName(name);
    const matrix = await this.cache.get(name, () => notFound(name));
    if (options.model && matrix.model && !sameModel(matrix.model, options.model))
      throw modelMismatch(name, matrix.model, options.model);
    return matrix;
  }

  async close(): Promise<void> {
    this.cache.clear();
    if (this.db.open) this.db.close();
  }

  /** A write: one IMMEDIATE transaction (takes the write lock at once, so no upgrade deadlock). */
  private write<T>(name: string, body: () => T): T {
    try {
      return guard(this.where, () => this.db.transaction(body).immediate());
    } finally {
      this.cache.invalidate(name);
    }
  }

  private setRow(name: string): SetRow | undefined {
    return this.db.prepare('SELECT * FROM class_sets WHERE name = ?').get(name) as SetRow | undefined;
  }

  private existing(name: string): SetRow {
    const row = this.setRow(name);
    if (!row) throw notFound(name);
    return row;
  }

  private insertSet(
    name: string,
    model: ModelFingerprint | null,
    dim: number | null,
    threshold: number | null,
    createdAt: string,
    updatedAt: string,
  ): number {
    const result = this.db
      .prepare(
        'INSERT INTO class_sets (name, model_id, model_sha256, dim, threshold, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)',
      )
      .run(name, model?.id ?? '', model?.sha256 ?? '', dim ?? 0, threshold, createdAt, updatedAt);
    return Number(result.lastInsertRowid);
  }

  /** Inside a transaction. A photo already in the set (or earlier in `examples`) is reported, not stored. */
  private insertExamples(
    setId: number,
    examples: readonly (ExampleInput & { addedAt?: string })[],
    now: string,
  ): { added: number; duplicates: DuplicateExample[] } {
    const find = this.db.prepare('SELECT label FROM examples WHERE set_id = ? AND sha256 = ?').pluck();
    const insert = this.db.prepare(
      'INSERT INTO examples (set_id, label, sha256, source, added_at, vector) VALUES (?, ?, ?, ?, ?, ?)',
    );
    let added = 0;
    const duplicates: DuplicateExample[] = [];
    for (const example of examples) {
      const existingLabel = find.get(setId, example.sha256) as string | undefined;
      if (existingLabel !== undefined) {
        duplicates.push({ sha256: example.sha256, source: example.source, label: example.label, existingLabel });
        continue;
      }
      insert.run(
        setId,
        example.label,
        example.sha256,
        example.source,
        example.addedAt || now,
        vectorBytes(example.vector),
      );
      added++;
    }
    return { added, duplicates };
  }

  private touch(setId: number): void {
    this.db
      .prepare('UPDATE class_sets SET version = version + 1, updated_at = ? WHERE id = ?')
      .run(new Date().toISOString(), setId);
  }

  private summary(row: SetRow): ClassSetSummary {
    const labels = (
      this.db.prepare('SELECT label, count(*) AS count FROM examples WHERE set_id = ? GROUP BY label').all(row.id) as {
        label: string;
        count: number;
      }[]
    ).sort((a, b) => compareText(a.label, b.label));
    return {
      name: row.name,
      model: modelOfRow(row),
      dim: modelOfRow(row) ? row.dim : null,
      threshold: row.threshold,
      labels,
      examples: labels.reduce((sum, { count }) => sum + count, 0),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      stamp: `${row.id}:${row.version}`,
    };
  }

  private stampOf(name: string): string | null {
    return guard(this.where, () => {
      const row = this.db.prepare('SELECT id, version FROM class_sets WHERE name = ?').get(name) as
        | { id: number; version: number }
        | undefined;
      return row ? `${row.id}:${row.version}` : null;
    });
  }

  private readMatrix(name: string): ClassMatrix {
    // One read transaction: the count, the labels and the rows are of the same moment.
    return guard(this.where, () =>
      this.db.transaction(() => {
        const set = this.existing(name);
        const labels = this.db.prepare('SELECT DISTINCT label FROM examples WHERE set_id = ?').pluck().all(set.id);
        const rows = this.db.prepare('SELECT count(*) FROM examples WHERE set_id = ?').pluck().get(set.id) as number;
        const builder = new MatrixBuilder(
          {
            name,
            model: modelOfRow(set),
            dim: set.dim,
            threshold: set.threshold,
            stamp: `${set.id}:${set.version}`,
          },
          labels as string[],
          rows,
        );
        const read = this.db.prepare('SELECT label, vector FROM examples WHERE set_id = ? ORDER BY id').raw();
        for (const [label, vector] of read.iterate(set.id) as IterableIterator<[string, Buffer]>)
          builder.add(label, vector);
        return builder.finish();
      })(),
    );
  }
}

/** A set made without a model has empty model columns (and dim 0) until its first examples. */
function modelOfRow(row: SetRow): ModelFingerprint | null {
  return row.model_sha256 === '' ? null : { id: row.model_id, sha256: row.model_sha256 };
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function corruptRow(name: string): never {
  throw new ClassifierError('internal_error', `The class set "${name}" holds an embedding of the wrong size.`);
}

function migrate(db: Database.Database, file: string): void {
  const current = () => db.pragma('user_version', { simple: true }) as number;
  if (current() > SCHEMA_VERSION)
    throw new ClassifierError(
      'internal_error',
      `${file} was written by a newer marine-classifier (schema ${current()}; this one reads up to ${SCHEMA_VERSION}).`,
    );
  if (current() === SCHEMA_VERSION) return;
  // IMMEDIATE, and the version read again inside: two processes opening a new file at once migrate it once.
  db.transaction(() => {
    for (let version = current() + 1; version <= SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version]);
      db.pragma(`user_version = ${version}`);
    }
  }).immediate();
}

const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|READONLY|FULL|IOERR|PERM|NOTADB|CORRUPT)/;

/** SQLite's own failures (locked by another process past the timeout, disk full, no such folder) as class_store_unavailable. */
function guard<T>(where: string, body: () => T): T {
  try {
    return body();
  } catch (err) {
    if (err instanceof ClassifierError) throw err;
    const code = (err as { code?: unknown }).code;
    if ((typeof code === 'string' && UNAVAILABLE.test(code)) || (err as NodeJS.ErrnoException).syscall)
      throw new ClassifierError(
        'class_store_unavailable',
        `The class-set store (${where}) failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    throw err;
  }
}
