/**
 * The portable class-set file: what it holds, and every damaged or foreign file refused as a whole
 * (invalid_class_set_file naming the line) before anything is written to a store.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  type ClassSetExport,
  EXPORT_FORMAT,
  exportLines,
  parseExportText,
  readExportFile,
  SqliteClassSetStore,
  writeExportFile,
} from '../src/classes/index.ts';
import { ClassifierError } from '../src/errors.ts';
import { example, examples, MODEL_A } from './helpers/class-sets.ts';

const DIM = 8;
let dir: string;
let file: string;
let lines: string[];
const data: ClassSetExport = {
  name: 'reef',
  model: MODEL_A,
  dim: DIM,
  threshold: 0.25,
  createdAt: '2026-12-05T07:00:00.000Z',
  examples: [...examples('Chromis viridis', 2, DIM), example('Raie manta é', 'manta', DIM)].map((one, i) => ({
    ...one,
    addedAt: `2026-12-05T07:0${i}:00.000Z`,
  })),
};

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mc-export-file-'));
  file = path.join(dir, 'reef.jsonl');
  await writeExportFile(data, file);
  lines = readFileSync(file, 'utf8').split('\n').slice(0, -1);
});

after(() => rmSync(dir, { recursive: true, force: true }));

function invalidFile(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ClassifierError, String(err));
    assert.equal(err.code, 'invalid_class_set_file', err.message);
    assert.match(err.message, pattern);
    assert.match(err.message, /nothing was imported/);
    return true;
  };
}

/** The file's content lines with a new closing line, as a tool that rewrote it would sign it. */
function signed(content: string[]): string {
  const body = content.map((line) => `${line}\n`).join('');
  const count = content.length - 1;
  const sha256 = createHash('sha256').update(body).digest('hex');
  return `${body}${JSON.stringify({ end: true, examples: count, sha256 })}\n`;
}

function withLine(index: number, change: (value: Record<string, unknown>) => void): string[] {
  const copy = [...lines.slice(0, -1)];
  const value = JSON.parse(copy[index]);
  change(value);
  copy[index] = JSON.stringify(value);
  return copy;
}

test('the file is JSON Lines: a header, one line per example with base64 float32, a checksum line', () => {
  assert.equal(lines.length, 1 + data.examples.length + 1);
  const header = JSON.parse(lines[0]);
  assert.deepEqual(header, {
    format: EXPORT_FORMAT,
    version: 1,
    name: 'reef',
    model: MODEL_A,
    dim: DIM,
    threshold: 0.25,
    created_at: data.createdAt,
    examples: 3,
  });
  const first = JSON.parse(lines[1]);
  assert.equal(Buffer.from(first.vector, 'base64').length, DIM * 4);
  assert.deepEqual(
    new Float32Array(Uint8Array.from(Buffer.from(first.vector, 'base64')).buffer),
    data.examples[0].vector,
  );
  const end = JSON.parse(lines.at(-1) as string);
  assert.equal(end.end, true);
  assert.equal(
    end.sha256,
    createHash('sha256')
      .update(
        lines
          .slice(0, -1)
          .map((l) => `${l}\n`)
          .join(''),
      )
      .digest('hex'),
  );
  assert.equal([...exportLines(data)].join(''), readFileSync(file, 'utf8'));
});

test('the file reads back to the same set, also with Windows line ends and from memory', async () => {
  assert.deepEqual(await readExportFile(file), data);
  const crlf = path.join(dir, 'crlf.jsonl');
  writeFileSync(crlf, readFileSync(file, 'utf8').replaceAll('\n', '\r\n'));
  assert.deepEqual(await readExportFile(crlf), data);
  assert.deepEqual(await parseExportText(readFileSync(file)), data);
});

const damaged: [string, () => string, RegExp][] = [
  [
    'no closing line',
    () =>
      lines
        .slice(0, -1)
        .map((l) => `${l}\n`)
        .join(''),
    /truncated/,
  ],
  ['cut inside a line', () => readFileSync(file, 'utf8').slice(0, lines[0].length + 40), /line 2: it is not JSON/],
  ['cut after the header', () => `${lines[0]}\n`, /truncated/],
  ['empty', () => '', /empty/],
  [
    'one vector number changed',
    () => {
      const changed = withLine(1, (v) => {
        const bytes = Buffer.from(v.vector as string, 'base64');
        bytes[5] ^= 1;
        v.vector = bytes.toString('base64');
      });
      return [...changed, lines.at(-1)].join('\n');
    },
    /checksum does not match/,
  ],
  [
    'a label edited',
    () => [...withLine(2, (v) => (v.label = 'Chromis atripectoralis')), lines.at(-1)].join('\n'),
    /checksum does not match/,
  ],
  ['a line after the closing line', () => `${readFileSync(file, 'utf8')}${lines[1]}\n`, /more after the closing line/],
  ['not an export', () => signed([JSON.stringify({ hello: 'world' })]), /line 1: it is not a class-set export/],
  [
    'a newer format',
    () => signed(withLine(0, (v) => (v.version = 2))),
    /format version 2; this marine-classifier reads up to 1/,
  ],
  ['a bad set name', () => signed(withLine(0, (v) => (v.name = '../etc'))), /line 1: its header does not fit/],
  ['a bad model hash', () => signed(withLine(0, (v) => (v.model = { id: 'x', sha256: 'abc' }))), /line 1/],
  ['a bad label', () => signed(withLine(1, (v) => (v.label = 'a/b'))), /line 2: .*label "a\/b"/],
  [
    'a label of 300 characters',
    () => signed(withLine(1, (v) => (v.label = 'x'.repeat(300)))),
    /line 2: .*longer than 100/,
  ],
  [
    'a short vector',
    () => signed(withLine(1, (v) => (v.vector = Buffer.alloc(DIM * 4 - 4).toString('base64')))),
    /line 2: its vector is not 8 float32/,
  ],
  [
    'a vector of zeros',
    () => signed(withLine(1, (v) => (v.vector = Buffer.alloc(DIM * 4).toString('base64')))),
    /line 2: .*not L2-normalised/,
  ],
  [
    'a vector that is not base64',
    () => signed(withLine(1, (v) => (v.vector = '@@@@'))),
    /line 2: its vector is not base64/,
  ],
  [
    'the same photo twice',
    () =>
      signed(
        [...lines.slice(0, -1), lines[1]].map((l, i) => (i === 0 ? l.replace('"examples":3', '"examples":4') : l)),
      ),
    /line 5: the photo .* is in the file twice/,
  ],
  ['a wrong example count', () => signed(withLine(0, (v) => (v.examples = 7))), /should hold 7 examples and holds 3/],
];

for (const [what, make, pattern] of damaged) {
  test(`a file with ${what} is refused`, async () => {
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, make());
    await assert.rejects(readExportFile(bad), invalidFile(pattern));
  });
}

test('a missing file is refused the same way', async () => {
  await assert.rejects(readExportFile(path.join(dir, 'absent.jsonl')), invalidFile(/cannot be read.*ENOENT/));
});

test('a refused file leaves the store as it was', async () => {
  const store = new SqliteClassSetStore({ dataDir: path.join(dir, 'data') });
  try {
    await store.importSet(await readExportFile(file));
    const before = await store.list();
    const bad = path.join(dir, 'truncated.jsonl');
    writeFileSync(bad, lines.slice(0, -1).join('\n'));
    await assert.rejects(
      (async () => store.importSet(await readExportFile(bad), { replace: true }))(),
      invalidFile(/truncated/),
    );
    assert.deepEqual(await store.list(), before);
  } finally {
    await store.close();
  }
});
