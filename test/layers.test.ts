/**
 * The layers import one way: cli -> http | worker -> queue -> classes -> engine -> sources, with
 * settings and errors at the bottom; survey (the Camtrap DP and Darwin Core exports) sits beside
 * queue, used by cli and http. A file may import from its own layer and the ones below, never above or
 * sideways (http and worker do not import each other).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers/shared.ts';

const SRC = path.join(REPO_ROOT, 'src');

/** What each layer may import besides itself. */
const ALLOWED: Record<string, string[]> = {
  cli: ['http', 'worker', 'survey', 'queue', 'classes', 'engine', 'sources', 'settings', 'errors'],
  http: ['survey', 'queue', 'classes', 'engine', 'sources', 'settings', 'errors'],
  survey: ['engine', 'sources', 'settings', 'errors'],
  worker: ['queue', 'classes', 'engine', 'sources', 'settings', 'errors'],
  queue: ['classes', 'engine', 'sources', 'settings', 'errors'],
  classes: ['engine', 'sources', 'settings', 'errors'],
  engine: ['sources', 'settings', 'errors'],
  sources: ['settings', 'errors'],
  settings: ['errors'],
  errors: [],
  index: ['engine', 'sources', 'settings', 'errors'],
};

/** "src/http/app.ts" -> "http"; "src/errors.ts" and "src/error-catalogue.ts" -> "errors". */
function layerOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  if (first === 'errors.ts' || first === 'error-catalogue.ts') return 'errors';
  return first.replace(/\.ts$/, '');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

test('every import in src/ goes to the same layer or one below it', () => {
  const wrong: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    assert.ok(ALLOWED[from], `${path.relative(REPO_ROOT, file)} is in no known layer`);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const to = layerOf(path.resolve(path.dirname(file), spec));
      if (to !== from && !ALLOWED[from].includes(to)) wrong.push(`${path.relative(REPO_ROOT, file)} -> ${spec}`);
    }
  }
  assert.deepEqual(wrong, []);
});
