/**
 * The error catalogue is the one place for codes: every code built in src/ is in it, every code
 * in it is built somewhere, errors take their status from it, and the OpenAPI document and the
 * README list exactly its codes.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { errorShapesOf, errorTableMarkdown } from '../src/error-catalogue.ts';
import {
  ClassifierError,
  ERROR_CODES,
  errorFromReply,
  isErrorCode,
  shuttingDownError,
  toClassifierError,
} from '../src/errors.ts';
import { errorBodyOf } from '../src/queue/error-body.ts';
import { readBlock } from '../scripts/docs-blocks.ts';
import { startTestService } from './helpers/http-fixtures.ts';

const ROOT = new URL('..', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** src/ without the catalogue itself, as text. */
function sourcesOutsideCatalogue(): { file: string; text: string }[] {
  return sourceFiles(path.join(ROOT, 'src'))
    .filter((file) => !file.endsWith('error-catalogue.ts'))
    .map((file) => ({ file: path.relative(ROOT, file), text: readFileSync(file, 'utf8') }));
}

describe('the catalogue', () => {
  test('codes and variants are snake_case, variant names are unique, meanings are one line', () => {
    const variants: string[] = [];
    for (const code of ERROR_CODES) {
      assert.match(code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      for (const { variant, shape } of errorShapesOf(code)) {
        if (variant) variants.push(variant);
        assert.ok(shape.status >= 400 && shape.status < 600, `${code} ${variant ?? ''}: status ${shape.status}`);
        assert.ok(shape.meaning.length > 10 && !shape.meaning.includes('\n'), `${code}: meaning`);
      }
    }
    assert.equal(new Set(variants).size, variants.length, 'variant names are unique');
  });

  test('a code takes its status and retryable from the catalogue, a variant from its own row', () => {
    for (const code of ERROR_CODES) {
      for (const { variant, shape } of errorShapesOf(code)) {
        const error = new ClassifierError(code, 'A sentence.', { variant, cause: 'why' });
        assert.equal(error.code, code);
        assert.equal(error.status, shape.status, `${code} ${variant ?? ''}`);
        assert.equal(error.retryable, shape.retryable, `${code} ${variant ?? ''}`);
        assert.equal(error.cause, 'why');
      }
    }
    const denied = new ClassifierError('file_unreadable', 'no', { variant: 'permission_denied' });
    assert.equal(denied.status, 403);
    const refused = new ClassifierError('fetch_failed', 'no', { variant: 'client_side' });
    assert.deepEqual([refused.status, refused.retryable], [400, false]);
    const dropped = new ClassifierError('fetch_failed', 'no');
    assert.deepEqual([dropped.status, dropped.retryable], [502, true]);
  });

  test('shutting_down has one factory: 503, retryable', () => {
    const error = shuttingDownError();
    assert.deepEqual([error.code, error.status, error.retryable], ['shutting_down', 503, true]);
    assert.equal(error.message, shuttingDownError().message);
  });

  test('an error survives the trip through a worker reply or a job record', () => {
    for (const code of ERROR_CODES) {
      for (const { variant, shape } of errorShapesOf(code)) {
        const original = new ClassifierError(code, `Failed: ${code}.`, { variant });
        const rebuilt = errorFromReply(errorBodyOf(original));
        assert.ok(rebuilt instanceof ClassifierError);
        assert.deepEqual([rebuilt.code, rebuilt.message, rebuilt.status], [code, original.message, shape.status]);
      }
    }
    // A status fastify or a plugin chose (416 for a bad Range) is kept.
    const range = errorFromReply({ code: 'invalid_request', message: 'Range Not Satisfiable.', status: 416 });
    assert.deepEqual([range.code, range.status, range.retryable], ['invalid_request', 416, false]);
    // A code this version does not know stays inside the catalogue.
    const unknown = errorFromReply({ code: 'from_the_future', message: 'Something new.', status: 418 });
    assert.deepEqual([unknown.code, unknown.status, unknown.message], ['internal_error', 500, 'Something new.']);
  });

  test('anything thrown becomes internal_error (500, not retryable)', () => {
    const error = toClassifierError(new TypeError('boom'));
    assert.deepEqual([error.code, error.status, error.retryable], ['internal_error', 500, false]);
    assert.equal(isErrorCode('internal_error'), true);
    assert.equal(isErrorCode('toString'), false);
  });
});

describe('codes in the source', () => {
  // Where src/ names a code as a literal: new ClassifierError('x', ...) and { code: 'x' } (job bodies, replies).
  const CODE_LITERALS = [/new ClassifierError\(\s*'([^']+)'/g, /\bcode: '([^']+)'/g];

  test('every code src/ builds is in the catalogue', () => {
    const unknown: string[] = [];
    for (const { file, text } of sourcesOutsideCatalogue()) {
      for (const pattern of CODE_LITERALS) {
        for (const [, code] of text.matchAll(pattern)) {
          // Node's own error codes (ENOTFOUND, ...) are not ours.
          if (/^[A-Z_]+$/.test(code)) continue;
          if (!isErrorCode(code)) unknown.push(`${file}: ${code}`);
        }
      }
    }
    assert.deepEqual(unknown, []);
  });

  test('every catalogue code and variant is used somewhere in src/ (no dead codes)', () => {
    const text = sourcesOutsideCatalogue()
      .map((source) => source.text)
      .join('\n');
    const dead = ERROR_CODES.flatMap((code) => [
      ...(text.includes(`'${code}'`) ? [] : [code]),
      ...errorShapesOf(code)
        .filter(({ variant }) => variant && !text.includes(`'${variant}'`))
        .map(({ variant }) => `${code}.${variant}`),
    ]);
    assert.deepEqual(dead, []);
  });
});

describe('generated from the catalogue', () => {
  test("README's error list is the generated one (npm run docs rewrites it)", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.equal(readBlock(readme, 'errors'), errorTableMarkdown());
  });

  test('the table has one row per code and variant, with status and retryable', () => {
    const rows = errorTableMarkdown().split('\n').slice(2);
    const expected = ERROR_CODES.flatMap((code) => errorShapesOf(code).map(({ shape }) => ({ code, shape })));
    assert.equal(rows.length, expected.length);
    rows.forEach((row, i) => {
      const [code, status, retryable] = row
        .split('|')
        .slice(1, 4)
        .map((cell) => cell.trim());
      assert.equal(code, `\`${expected[i].code}\``);
      assert.equal(status, String(expected[i].shape.status));
      assert.equal(retryable, expected[i].shape.retryable ? 'yes' : 'no');
    });
  });

  test("the OpenAPI document's error schemas list exactly the catalogue's codes", async () => {
    const service = await startTestService();
    try {
      const response = await fetch(`${service.url}/docs/json`);
      assert.equal(response.status, 200);
      const document = (await response.json()) as { paths: Record<string, unknown> };
      const enums: unknown[] = [];
      collectErrorCodeSchemas(document.paths, enums);
      assert.ok(enums.length > 10, `error schemas found: ${enums.length}`);
      for (const codes of enums) assert.deepEqual(codes, ERROR_CODES);
      const classify = document.paths['/classify'] as { post: { responses: Record<string, unknown> } };
      const found: unknown[] = [];
      collectErrorCodeSchemas(classify.post.responses['4XX'] ?? classify.post.responses['4xx'], found);
      assert.deepEqual(found, [ERROR_CODES], 'POST /classify documents its 4xx error codes');
    } finally {
      await service.close();
    }
  });
});

/** The `enum` of every `{ code, message, status }` object schema under `node`. */
function collectErrorCodeSchemas(node: unknown, out: unknown[]): void {
  if (!node || typeof node !== 'object') return;
  const properties = (node as { properties?: Record<string, { enum?: unknown }> }).properties;
  if (properties?.code && properties.message && properties.status) out.push(properties.code.enum);
  for (const value of Object.values(node)) collectErrorCodeSchemas(value, out);
}
