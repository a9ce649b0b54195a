/**
 * The portable class-set file (`classes export` / `classes import`, and the same text over HTTP):
 * JSON Lines, UTF-8, read and written a line at a time so a set of any size never has to be one
 * string.
 *
 *   line 1      {"format":"marine-classifier-class-set","version":1,"name":…,"model":{"id":…,"sha256":…},
 *                "dim":1280,"threshold":null,"created_at":…,"examples":N}
 *   N lines     {"label":…,"sha256":…,"source":…,"added_at":…,"vector":"<base64 float32 little-endian>"}
 *   last line   {"end":true,"examples":N,"sha256":"<sha256 of every byte before this line>"}
 *
 * A file without its last line (truncated), with a wrong checksum (changed or damaged), or with
 * any line that does not fit is refused as a whole with invalid_class_set_file: nothing is imported.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ClassifierError } from '../errors.ts';
import { checkDim, checkExample, checkLabel, checkModel, checkSetName, checkThreshold } from './checks.ts';
import type { ClassSetExport, StoredExample } from './types.ts';
import { vectorBytes, vectorFromBytes } from './vector-bytes.ts';

export const EXPORT_FORMAT = 'marine-classifier-class-set';
export const EXPORT_VERSION = 1;

interface Header {
  format: string;
  version: number;
  name: string;
  model: { id: string; sha256: string };
  dim: number;
  threshold: number | null;
  created_at: string;
  examples: number;
}

/** The file's lines, each ending in "\n", the checksum line last. */
export function* exportLines(data: ClassSetExport): Generator<string> {
  const hash = createHash('sha256');
  const emit = (value: unknown): string => {
    const line = `${JSON.stringify(value)}\n`;
    hash.update(line, 'utf8');
    return line;
  };
  const header: Header = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    name: data.name,
    model: data.model,
    dim: data.dim,
    threshold: data.threshold,
    created_at: data.createdAt,
    examples: data.examples.length,
  };
  yield emit(header);
  for (const example of data.examples)
    yield emit({
      label: example.label,
      sha256: example.sha256,
      source: example.source,
      added_at: example.addedAt,
      vector: vectorBytes(example.vector).toString('base64'),
    });
  yield `${JSON.stringify({ end: true, examples: data.examples.length, sha256: hash.digest('hex') })}\n`;
}

/** Writes the file beside its final name and renames it there: a reader never sees half a file. */
export async function writeExportFile(data: ClassSetExport, file: string): Promise<void> {
  const part = `${file}.part`;
  const handle = await open(part, 'w');
  try {
    let buffered: string[] = [];
    let size = 0;
    for (const line of exportLines(data)) {
      buffered.push(line);
      size += line.length;
      if (size > 1 << 20) {
        await handle.write(buffered.join(''));
        buffered = [];
        size = 0;
      }
    }
    await handle.write(buffered.join(''));
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(part, { force: true });
    throw err;
  }
  await handle.close();
  await rename(part, file);
}

/** Reads and checks a whole export file; invalid_class_set_file (naming the line) when it does not fit. */
export async function readExportFile(file: string): Promise<ClassSetExport> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    throw new ClassifierError(
      'invalid_class_set_file',
      `The class-set file ${file} cannot be read (${(err as Error).message}); nothing was imported.`,
      { cause: err },
    );
  }
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    return await parseExport(lines);
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** The same check for a file's text already in memory (an upload). */
export function parseExportText(text: string | Buffer): Promise<ClassSetExport> {
  const body = typeof text === 'string' ? text : text.toString('utf8');
  const lines = body.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return parseExport(lines);
}

export async function parseExport(lines: AsyncIterable<string> | Iterable<string>): Promise<ClassSetExport> {
  const hash = createHash('sha256');
  let header: Header | undefined;
  let end: { examples: unknown; sha256: unknown } | undefined;
  const examples: StoredExample[] = [];
  const seen = new Set<string>();
  let number = 0;
  for await (const raw of lines) {
    number++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (end) throw bad(number, 'there is more after the closing line');
    const value = parseLine(line, number);
    if (!header) {
      header = checkHeader(value, number);
    } else if (value.end === true) {
      end = { examples: value.examples, sha256: value.sha256 };
      continue;
    } else {
      const example = checkLine(value, header.dim, number);
      if (seen.has(example.sha256)) throw bad(number, `the photo ${example.sha256} is in the file twice`);
      seen.add(example.sha256);
      examples.push(example);
    }
    hash.update(`${line}\n`, 'utf8');
  }
  if (!header) throw bad(0, 'the file is empty');
  if (!end) throw bad(number, 'the file ends before its closing line: it is truncated');
  if (end.examples !== examples.length || header.examples !== examples.length)
    throw bad(number, `it should hold ${header.examples} examples and holds ${examples.length}`);
  if (end.sha256 !== hash.digest('hex'))
    throw bad(number, 'the checksum does not match: the file was changed or damaged after it was exported');
  return {
    name: header.name,
    model: header.model,
    dim: header.dim,
    threshold: header.threshold,
    createdAt: header.created_at,
    examples,
  };
}

function parseLine(line: string, number: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw bad(number, 'it is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(number, 'it is not a JSON object');
  return value as Record<string, unknown>;
}

function checkHeader(value: Record<string, unknown>, number: number): Header {
  if (value.format !== EXPORT_FORMAT)
    throw bad(number, `it is not a class-set export (no "format": "${EXPORT_FORMAT}")`);
  if (typeof value.version !== 'number' || value.version > EXPORT_VERSION)
    throw bad(number, `it is format version ${value.version}; this marine-classifier reads up to ${EXPORT_VERSION}`);
  try {
    const header = value as unknown as Header;
    checkSetName(header.name);
    checkModel(header.model);
    checkDim(header.dim);
    checkThreshold(header.threshold);
    if (typeof header.created_at !== 'string') throw new Error('no created_at');
    if (!Number.isInteger(header.examples) || header.examples < 0) throw new Error('no example count');
    return header;
  } catch (err) {
    throw bad(number, `its header does not fit: ${(err as Error).message}`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function checkLine(value: Record<string, unknown>, dim: number, number: number): StoredExample {
  const { label, sha256, source, added_at: addedAt, vector } = value;
  if (typeof vector !== 'string' || !BASE64.test(vector)) throw bad(number, 'its vector is not base64');
  const floats = vectorFromBytes(Buffer.from(vector, 'base64'), dim);
  if (!floats) throw bad(number, `its vector is not ${dim} float32 numbers`);
  if (typeof addedAt !== 'string') throw bad(number, 'it has no added_at');
  try {
    checkLabel(label);
    const example = checkExample(
      { label: label as string, sha256: sha256 as string, source: source as string, vector: floats },
      dim,
    );
    return { ...example, addedAt };
  } catch (err) {
    throw bad(number, (err as Error).message);
  }
}

function bad(line: number, why: string): ClassifierError {
  const where = line > 0 ? `line ${line}: ` : '';
  return new ClassifierError(
    'invalid_class_set_file',
    `The class-set file cannot be imported (${where}${why}); nothing was imported.`,
  );
}
