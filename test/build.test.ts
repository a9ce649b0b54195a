/**
 * The build: the compiled JavaScript (what `npm start`, the bin, the worker threads and the Docker
 * image run) works on its own, without tsx, and its declarations type-check a library user's code.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT, SHARK_PHOTO, TEST_MODEL } from './helpers/shared.ts';

const run = promisify(execFile);
// Inside the repository, at dist/'s depth: the compiled modules resolve node_modules and web/ as dist/ does.
const outDir = mkdtempSync(path.join(REPO_ROOT, 'dist-test-'));
const tsc = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc');

before(async () => {
  await run(tsc, ['-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: REPO_ROOT });
  await run(process.execPath, ['scripts/copy-assets.mjs', outDir], { cwd: REPO_ROOT });
});
after(() => rmSync(outDir, { recursive: true, force: true }));

test('the compiled CLI classifies with plain node (no tsx), through its worker threads', async () => {
  const cli = path.join(outDir, 'cli', 'main.js');
  const { stdout } = await run(
    process.execPath,
    [cli, 'classify', SHARK_PHOTO, '--model-path', TEST_MODEL, '--format', 'json', '--decode-threads', '2'],
    { cwd: REPO_ROOT, env: { ...process.env, NODE_OPTIONS: '' } },
  );
  const [row] = JSON.parse(stdout) as { top1: { label: string } }[];
  assert.equal(row.top1.label, 'great white shark');
});

test('the declarations type-check a library user', async () => {
  const consumer = mkdtempSync(path.join(tmpdir(), 'marine-consumer-'));
  try {
    writeFileSync(
      path.join(consumer, 'use.ts'),
      [
        `import { createClassifier, isClassifierError, type ClassificationResult } from '${outDir}/index.js';`,
        'export async function top(file: string): Promise<string | undefined> {',
        '  const classifier = await createClassifier({ modelPath: file });',
        '  const result: ClassificationResult = await classifier.classify(file);',
        '  await classifier.close();',
        '  return result.top1?.label;',
        '}',
        'export const known = (err: unknown): boolean => isClassifierError(err);',
      ].join('\n'),
    );
    const options = ['--strict', '--noEmit', '--module', 'nodenext', '--target', 'es2022', '--types', 'node'];
    await run(tsc, [...options, '--typeRoots', path.join(REPO_ROOT, 'node_modules', '@types'), 'use.ts'], {
      cwd: consumer,
    });
  } finally {
    rmSync(consumer, { recursive: true, force: true });
  }
});
