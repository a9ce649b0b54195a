/**
 * Class sets in Redis (with QUEUE_URL): the API and every worker on every machine see the same
 * sets. Each write is one Lua script (redis-scripts.ts), so it lands whole or not at all; a set
 * made or replaced from many examples is built under a new uid that expires unless committed,
 * then switched to in one script. They survive a Redis restart when Redis keeps an append-only
 * file (`appendonly yes`): that is Redis's configuration, see docs/custom-classes.md.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ClassifierError } from '../errors.ts';
import {
  checkDim,
  checkExample,
  checkModel,
  checkSetName,
  checkThreshold,
  exists,
  labelNotFound,
  modelMismatch,
  notFound,
  sameModel,
} from './checks.ts';
import { buildMatrix, MATRIX_RECHECK_MS, MatrixCache } from './matrix.ts';
import { ADD, COMMIT, READ, REMOVE, REMOVE_LABEL, SET_THRESHOLD, STAGE, SUMMARY } from './redis-scripts.ts';
import { compareText } from './sqlite-store.ts';
import type {
  AddResult,
  ClassMatrix,
  ClassSetExport,
  ClassSetStore,
  ClassSetSummary,
  CreateClassSet,
  ExampleInput,
  ImportOptions,
  LoadMatrixOptions,
  ModelFingerprint,
  StoredExample,
} from './types.ts';
import { vectorBytes, vectorFromBytes } from './vectors.ts';

export interface RedisStoreOptions {
  /** A connection the caller owns (and closes); commands should fail rather than wait while Redis is away. */
  redis: Redis;
  /** The deployment's key prefix (QUEUE_PREFIX); the sets go under `<prefix>:class-set…`. */
  prefix: string;
  matrixRecheckMs?: number;
  /** How long a set being built stays if the process building it dies before committing. */
  stagingTtlSeconds?: number;
}

/** Examples per staging script: each call stays short, so Redis keeps answering others between them. */
const STAGE_CHUNK = 256;

type Pairs = Map<string, Buffer>;

export class RedisClassSetStore implements ClassSetStore {
  readonly where: string;
  private readonly redis: Redis;
  private readonly index: string;
  private readonly stamps: string;
  private readonly setPrefix: string;
  private readonly stagingTtlSeconds: number;
  private readonly cache: MatrixCache;

  constructor(options: RedisStoreOptions) {
    this.redis = options.redis;
    this.index = `${options.prefix}:class-sets`;
    this.stamps = `${options.prefix}:class-sets:stamps`;
    this.setPrefix = `${options.prefix}:class-set:`;
    this.where = `Redis, keys ${options.prefix}:class-set*`;
    this.stagingTtlSeconds = options.stagingTtlSeconds ?? 24 * 3600;
    this.cache = new MatrixCache(
      (name) => this.guard(() => this.redis.hget(this.stamps, name)),
      (name) => this.readMatrix(name),
      options.matrixRecheckMs ?? MATRIX_RECHECK_MS,
    );
  }

  async create(request: CreateClassSet): Promise<ClassSetSummary> {
    const name = checkSetName(request.name);
    const model = checkModel(request.model);
    const dim = checkDim(request.dim);
    const threshold = checkThreshold(request.threshold);
    const examples = (request.examples ?? []).map((example) => checkExample(example, dim));
    const now = new Date().toISOString();
    await this.build(name, { model, dim, threshold, createdAt: now }, examples, false);
    return this.get(name);
  }

  async list(): Promise<ClassSetSummary[]> {
    const names = await this.guard(() => this.redis.hkeys(this.index));
    const summaries = await Promise.all(names.map((name) => this.summaryOrNull(name)));
    return summaries
      .filter((summary): summary is ClassSetSummary => summary !== null)
      .sort((a, b) => compareText(a.name, b.name));
  }

  async get(name: string): Promise<ClassSetSummary> {
    const summary = await this.summaryOrNull(checkSetName(name));
    if (!summary) throw notFound(name);
    return summary;
  }

  async addExamples(name: string, model: ModelFingerprint, examples: readonly ExampleInput[]): Promise<AddResult> {
    checkSetName(name);
    checkModel(model);
    // The dimension is checked here against the set as read now; the script re-checks the model, which fixes it.
    const { dim } = await this.get(name);
    const checked = examples.map((example) => checkExample(example, dim));
    const reply = (await this.write(name, ADD, [name, model.sha256, new Date().toISOString(), ...fours(checked)])) as
      | string[]
      | undefined;
    const [status, ...rest] = reply ?? [];
    if (status === 'not_found') throw notFound(name);
    if (status === 'model_mismatch') throw modelMismatch(name, { id: rest[0], sha256: rest[1] }, model);
    const duplicates = [];
    for (let i = 1; i < rest.length; i += 2) {
      const example = checked[Number(rest[i])];
      duplicates.push({
        sha256: example.sha256,
        source: example.source,
        label: example.label,
        existingLabel: rest[i + 1],
      });
    }
    return { added: Number(rest[0]), duplicates, summary: await this.get(name) };
  }

  async removeLabel(name: string, label: string): Promise<number> {
    checkSetName(name);
    const reply = String(
      await this.write(name, REMOVE_LABEL, [name, String(label).normalize('NFC'), new Date().toISOString()]),
    );
    if (reply === 'not_found') throw notFound(name);
    if (reply === 'label_not_found') throw labelNotFound(name, label);
    return Number(reply);
  }

  async remove(name: string): Promise<void> {
    checkSetName(name);
    if ((await this.write(name, REMOVE, [name])) === 'not_found') throw notFound(name);
  }

  async setThreshold(name: string, threshold: number | null): Promise<ClassSetSummary> {
    checkSetName(name);
    const value = checkThreshold(threshold);
    const reply = await this.write(name, SET_THRESHOLD, [
      name,
      value === null ? '' : String(value),
      new Date().toISOString(),
    ]);
    if (reply === 'not_found') throw notFound(name);
    return this.get(name);
  }

  async exportSet(name: string): Promise<ClassSetExport> {
    checkSetName(name);
    const view = await this.read(name, true);
    if (!view) throw notFound(name);
    const { meta, order, labelOf, info, vectors } = view;
    const dim = Number(text(meta, 'dim'));
    const examples: StoredExample[] = order.map((sha256) => {
      const details = JSON.parse(text(info, sha256)) as { source: string; addedAt: string };
      return {
        label: text(labelOf, sha256),
        sha256,
        source: details.source,
        addedAt: details.addedAt,
        vector: vectorFromBytes(vectors.get(sha256) ?? Buffer.alloc(0), dim) ?? corrupt(name),
      };
    });
    return { name, ...headOf(meta), createdAt: text(meta, 'created_at'), examples };
  }

  async importSet(data: ClassSetExport, options: ImportOptions = {}): Promise<ClassSetSummary> {
    const name = checkSetName(options.as ?? data.name);
    const model = checkModel(data.model);
    const dim = checkDim(data.dim);
    const threshold = checkThreshold(data.threshold);
    const examples = data.examples.map((example) => ({ ...checkExample(example, dim), addedAt: example.addedAt }));
    await this.build(name, { model, dim, threshold, createdAt: data.createdAt }, examples, options.replace === true);
    return this.get(name);
  }

  async loadMatrix(name: string, options: LoadMatrixOptions = {}): Promise<ClassMatrix> {
    checkSetName(name);
    const matrix = await this.cache.get(name, () => notFound(name));
    if (options.model && !sameModel(matrix.model, options.model))
      throw modelMismatch(name, matrix.model, options.model);
    return matrix;
  }

  /** The connection is the caller's: closing the store only drops its cache. */
  async close(): Promise<void> {
    this.cache.clear();
  }

  /**
   * Builds a whole set under a fresh uid (its keys expire unless committed: a process killed half
   * way leaves nothing anyone sees), then commits it under `name` in one script.
   */
  private async build(
    name: string,
    head: { model: ModelFingerprint; dim: number; threshold: number | null; createdAt: string },
    examples: readonly (ExampleInput & { addedAt?: string })[],
    replace: boolean,
  ): Promise<void> {
    const uid = randomUUID();
    const now = new Date().toISOString();
    for (let start = 0; start < examples.length; start += STAGE_CHUNK) {
      const chunk = examples.slice(start, start + STAGE_CHUNK);
      await this.guard(() =>
        this.redis.eval(
          STAGE,
          2,
          this.index,
          this.stamps,
          this.setPrefix,
          uid,
          this.stagingTtlSeconds,
          ...fours(chunk, now),
        ),
      );
    }
    const meta = [
      ['name', name],
      ['model_id', head.model.id],
      ['model_sha256', head.model.sha256],
      ['dim', String(head.dim)],
      ['threshold', head.threshold === null ? '' : String(head.threshold)],
      ['created_at', head.createdAt],
      ['updated_at', now],
    ].flat();
    const reply = await this.write(name, COMMIT, [name, uid, replace ? '1' : '0', ...meta]);
    if (reply === 'exists') {
      await this.guard(() => this.redis.eval(REMOVE_ABANDONED, 0, this.setPrefix, uid)).catch(() => undefined);
      throw exists(name);
    }
  }

  private async write(name: string, script: string, args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await this.guard(() => this.redis.eval(script, 2, this.index, this.stamps, this.setPrefix, ...args));
    } finally {
      this.cache.invalidate(name);
    }
  }

  private async read(
    name: string,
    withInfo: boolean,
  ): Promise<{ meta: Pairs; order: string[]; labelOf: Pairs; info: Pairs; vectors: Pairs; stamp: string } | null> {
    const reply = (await this.guard(() =>
      this.redis.callBuffer('EVAL', READ, 2, this.index, this.stamps, this.setPrefix, name, withInfo ? '1' : '0'),
    )) as [Buffer[], Buffer[], Buffer[], Buffer[], Buffer[], Buffer] | [];
    if (reply.length === 0) return null;
    const [meta, order, labelOf, info, vectors, uid] = reply;
    const metaPairs = pairs(meta);
    return {
      meta: metaPairs,
      stamp: `${uid.toString('utf8')}:${text(metaPairs, 'version')}`,
      order: order.map((sha) => sha.toString('utf8')),
      labelOf: pairs(labelOf),
      info: pairs(info),
      vectors: pairs(vectors),
    };
  }

  private async readMatrix(name: string): Promise<ClassMatrix> {
    const view = await this.read(name, false);
    if (!view) throw notFound(name);
    const { meta, order, labelOf, vectors, stamp } = view;
    const rows = order.map((sha) => ({ label: text(labelOf, sha), vector: vectors.get(sha) ?? Buffer.alloc(0) }));
    return buildMatrix({ name, ...headOf(meta), stamp }, rows);
  }

  private async summaryOrNull(name: string): Promise<ClassSetSummary | null> {
    const reply = (await this.guard(() =>
      this.redis.eval(SUMMARY, 2, this.index, this.stamps, this.setPrefix, name),
    )) as [string[], string[], string] | [];
    if (reply.length === 0) return null;
    const meta = stringPairs(reply[0]);
    const labels = [...stringPairs(reply[1])]
      .map(([label, count]) => ({ label, count: Number(count) }))
      .filter(({ count }) => count > 0)
      .sort((a, b) => compareText(a.label, b.label));
    const version = meta.get('version') ?? '0';
    const head = headOf(new Map([...meta].map(([k, v]) => [k, Buffer.from(v)])));
    return {
      name,
      ...head,
      labels,
      examples: labels.reduce((sum, { count }) => sum + count, 0),
      createdAt: meta.get('created_at') ?? '',
      updatedAt: meta.get('updated_at') ?? '',
      stamp: `${reply[2]}:${version}`,
    };
  }

  /** Redis failures (down, timed out, read-only replica) as class_store_unavailable; the scripts' own errors stay as they are. */
  private async guard<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof ClassifierError || !isUnavailable(err)) throw err;
      throw new ClassifierError(
        'class_store_unavailable',
        `The class-set store (${this.where}) cannot be reached: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

/** ARGV: prefix, uid. Drops what a refused build staged (it would expire anyway). */
const REMOVE_ABANDONED = `
local base = ARGV[1] .. ARGV[2] .. ':'
for _, label in ipairs(redis.call('HKEYS', base .. 'labels')) do redis.call('UNLINK', base .. 'label:' .. label) end
for _, part in ipairs({'meta', 'labelof', 'info', 'vectors', 'order', 'labels'}) do redis.call('UNLINK', base .. part) end
return 'ok'
`;

function fours(examples: readonly (ExampleInput & { addedAt?: string })[], now?: string): (string | Buffer)[] {
  return examples.flatMap((example) => [
    example.sha256,
    example.label,
    JSON.stringify({ source: example.source, addedAt: example.addedAt || now || new Date().toISOString() }),
    vectorBytes(example.vector),
  ]);
}

function pairs(flat: Buffer[]): Pairs {
  const map: Pairs = new Map();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i].toString('utf8'), flat[i + 1]);
  return map;
}

function stringPairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
  return map;
}

function text(map: Pairs, key: string): string {
  return map.get(key)?.toString('utf8') ?? '';
}

function headOf(meta: Pairs): { model: ModelFingerprint; dim: number; threshold: number | null } {
  const threshold = text(meta, 'threshold');
  return {
    model: { id: text(meta, 'model_id'), sha256: text(meta, 'model_sha256') },
    dim: Number(text(meta, 'dim')),
    threshold: threshold === '' ? null : Number(threshold),
  };
}

function corrupt(name: string): never {
  throw new ClassifierError('internal_error', `The class set "${name}" holds an embedding of the wrong size.`);
}

function isUnavailable(err: unknown): boolean {
  const message = err instanceof Error ? `${err.name} ${err.message}` : String(err);
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Command timed out|MaxRetriesPerRequest|max retries per request|LOADING|MISCONF|READONLY|MASTERDOWN|BUSY/i.test(
    message,
  );
}
