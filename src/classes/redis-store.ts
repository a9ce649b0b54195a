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
import { ADD, COMMIT, REMOVE, REMOVE_LABEL, SET_THRESHOLD, STAGE, SUMMARY } from './redis-scripts.ts';
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
import { vectorBytes, vectorFromBytes } from './vector-bytes.ts';

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
/** Embeddings per HMGET when a set is read, and HMGETs per round trip. */
const READ_CHUNK = 500;
const READ_CHUNKS_PER_TRIP = 20;
/** Reads of a set that changed under them, retried before giving up. */
const READ_ATTEMPTS = 5;

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
    const { model, dim } = checkHead(request.model, request.dim);
    const threshold = checkThreshold(request.threshold);
    const examples = (request.examples ?? []).map((example) => checkExample(example, dim ?? 0));
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
    const set = await this.get(name);
    const dim = dimForAdding(set.dim, examples);
    const checked = examples.map((example) => checkExample(example, dim));
    // The script gives a set without a model this one (and dim) when it stores the first examples.
    const reply = (await this.write(name, ADD, [
      name,
      model.sha256,
      new Date().toISOString(),
      model.id,
      String(dim),
      ...fours(checked),
    ])) as string[] | undefined;
    const [status, ...rest] = reply ?? [];
    if (status === 'not_found') throw notFound(name);
    if (status === 'model_mismatch') throw modelMismatch(name, { id: rest[0], sha256: rest[1] }, model);
    if (status === 'dim_mismatch')
      throw new ClassifierError(
        'invalid_example',
        `The class set "${name}" holds embeddings of ${rest[0]} numbers; these have ${dim}.`,
      );
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
    const exported = await this.consistentRead(name, async (uid) => {
      const { meta, order, labelOf } = await this.readIndex(uid);
      const info = new Map(Object.entries(await this.guard(() => this.redis.hgetall(`${this.setPrefix}${uid}:info`))));
      const dim = Number(meta.get('dim'));
      const examples: StoredExample[] = [];
      await this.readVectors(uid, order, (sha256, bytes) => {
        const details = JSON.parse(info.get(sha256) ?? '{}') as { source: string; addedAt: string };
        examples.push({
          label: labelOf.get(sha256) ?? '',
          sha256,
          source: details.source,
          addedAt: details.addedAt,
          vector: vectorFromBytes(bytes ?? Buffer.alloc(0), dim) ?? corrupt(name),
        });
      });
      const head = headOf(meta);
      return {
        name,
        ...head,
        model: modelOfSet(name, head.model),
        dim: head.dim ?? 0,
        createdAt: meta.get('created_at') ?? '',
        examples,
      };
    });
    if (!exported) throw notFound(name);
    return exported;
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
    if (options.model && matrix.model && !sameModel(matrix.model, options.model))
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
    head: { model: ModelFingerprint | null; dim: number | null; threshold: number | null; createdAt: string },
    examples: readonly (ExampleInput & { addedAt?: string })[],
    replace: boolean,
  ): Promise<void> {
    // Checked again when committing; here so a refused name costs no upload of its examples.
    if (!replace && (await this.guard(() => this.redis.hexists(this.index, name)))) throw exists(name);
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
      ['model_id', head.model?.id ?? ''],
      ['model_sha256', head.model?.sha256 ?? ''],
      ['dim', String(head.dim ?? 0)],
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

  /**
   * Reads a set in several commands (a large set in one reply would hold Redis up for seconds):
   * the stamp is read before and after, and a read that a write slipped into is done again.
   */
  private async consistentRead<T>(name: string, body: (uid: string, stamp: string) => Promise<T>): Promise<T | null> {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = await this.guard(() => this.redis.hget(this.stamps, name));
      if (before === null) return null;
      let result: T;
      try {
        result = await body(before.slice(0, before.lastIndexOf(':')), before);
      } catch (err) {
        // Half of a set removed under the read looks like damage: it is only damage if the set did not change.
        if ((await this.guard(() => this.redis.hget(this.stamps, name))) === before) throw err;
        continue;
      }
      if ((await this.guard(() => this.redis.hget(this.stamps, name))) === before) return result;
    }
    throw new ClassifierError(
      'class_store_unavailable',
      `The class set "${name}" kept changing while it was read (${READ_ATTEMPTS} times); try again.`,
    );
  }

  private async readIndex(
    uid: string,
  ): Promise<{ meta: Map<string, string>; order: string[]; labelOf: Map<string, string> }> {
    const base = `${this.setPrefix}${uid}:`;
    const [meta, order, labelOf] = await this.guard(() =>
      Promise.all([
        this.redis.hgetall(`${base}meta`),
        this.redis.zrange(`${base}order`, '0', '-1'),
        this.redis.hgetall(`${base}labelof`),
      ]),
    );
    return { meta: new Map(Object.entries(meta)), order, labelOf: new Map(Object.entries(labelOf)) };
  }

  /** Calls `each` with every embedding in `order`, a few thousand per round trip. */
  private async readVectors(
    uid: string,
    order: string[],
    each: (sha256: string, bytes: Buffer | null) => void,
  ): Promise<void> {
    const key = `${this.setPrefix}${uid}:vectors`;
    const trip = READ_CHUNK * READ_CHUNKS_PER_TRIP;
    for (let start = 0; start < order.length; start += trip) {
      const shas = order.slice(start, start + trip);
      const pipeline = this.redis.pipeline();
      for (let i = 0; i < shas.length; i += READ_CHUNK) pipeline.hmgetBuffer(key, ...shas.slice(i, i + READ_CHUNK));
      const replies = (await this.guard(() => pipeline.exec())) ?? [];
      let i = 0;
      for (const [err, values] of replies) {
        if (err) throw err;
        for (const bytes of values as (Buffer | null)[]) each(shas[i++], bytes);
      }
    }
  }

  private async readMatrix(name: string): Promise<ClassMatrix> {
    const matrix = await this.consistentRead(name, async (uid, stamp) => {
      const { meta, order, labelOf } = await this.readIndex(uid);
      const head = headOf(meta);
      const builder = new MatrixBuilder({ name, ...head, dim: head.dim ?? 0, stamp }, labelOf.values(), order.length);
      await this.readVectors(uid, order, (sha256, bytes) =>
        builder.add(labelOf.get(sha256) ?? '', bytes ?? Buffer.alloc(0)),
      );
      return builder.finish();
    });
    if (!matrix) throw notFound(name);
    return matrix;
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
    const head = headOf(meta);
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

function stringPairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
  return map;
}

/** A set made without a model has an empty model_sha256 (and dim 0) until its first examples. */
function headOf(meta: Map<string, string>): {
  model: ModelFingerprint | null;
  dim: number | null;
  threshold: number | null;
} {
  const threshold = meta.get('threshold') ?? '';
  const sha256 = meta.get('model_sha256') ?? '';
  return {
    model: sha256 === '' ? null : { id: meta.get('model_id') ?? '', sha256 },
    dim: sha256 === '' ? null : Number(meta.get('dim')),
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
