/**
 * A separate process writing to a class-set store, for the kill -9 and two-writer tests.
 * argv[2] is JSON: { store: {dataDir} | {redisUrl, prefix}, action: 'add' | 'import', ... }.
 * It prints "ready" when it waits for the start file, "started" when it begins writing and "done <n>"
 * when it has finished.
 */
import { existsSync, writeSync } from 'node:fs';
import { Redis } from 'ioredis';
import {
  type ClassSetStore,
  readExportFile,
  RedisClassSetStore,
  SqliteClassSetStore,
} from '../../src/classes/index.ts';
import { examples, MODEL_A } from './class-sets.ts';

interface Args {
  store: { dataDir: string } | { redisUrl: string; prefix: string };
  action: 'add' | 'import';
  name: string;
  /** add: label, examples in all, per call; start when this file exists (both writers at once). */
  label?: string;
  count?: number;
  batch?: number;
  dim?: number;
  startFile?: string;
  /** import: the export file. */
  file?: string;
}

const args = JSON.parse(process.argv[2]) as Args;
// writeSync: the parent must see the line even when this process is killed right after.
const say = (line: string) => writeSync(1, `${line}\n`);

const redis = 'redisUrl' in args.store ? new Redis(args.store.redisUrl) : undefined;
const store: ClassSetStore =
  'dataDir' in args.store
    ? new SqliteClassSetStore({ dataDir: args.store.dataDir })
    : new RedisClassSetStore({ redis: redis as Redis, prefix: args.store.prefix });

if (args.action === 'add') {
  const all = examples(args.label as string, args.count as number, args.dim as number, `${args.label}-`);
  say('ready');
  while (args.startFile && !existsSync(args.startFile)) await new Promise((resolve) => setTimeout(resolve, 2));
  say(`started at ${Date.now()}`);
  let added = 0;
  for (let i = 0; i < all.length; i += args.batch as number)
    added += (await store.addExamples(args.name, MODEL_A, all.slice(i, i + (args.batch as number)))).added;
  say(`done ${added} at ${Date.now()}`);
} else {
  const data = await readExportFile(args.file as string);
  say('started');
  const summary = await store.importSet(data, { as: args.name, replace: true });
  say(`done ${summary.examples}`);
}
await store.close();
redis?.disconnect();
