// The project's npm setup: no warning on every npm command, and npm ci downloads nothing from
// outside the registry (onnxruntime-node's install script fetches CUDA libraries from NuGet on linux/x64).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');

test('npm commands in the project print no warning about its config', () => {
  const run = spawnSync('npm', ['--version'], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /warn/i);
  const config = execFileSync('npm', ['config', 'list', '--json'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  assert.equal(JSON.parse(config)['onnxruntime-node-install'], undefined);
});

test("npm ci never runs onnxruntime-node's install script (npm 11 allowScripts, ONNXRUNTIME_NODE_INSTALL before)", () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  assert.match(readFileSync(path.join(root, 'Dockerfile'), 'utf8'), /^ENV ONNXRUNTIME_NODE_INSTALL=skip$/m);
  assert.match(readFileSync(path.join(root, '.ci/run'), 'utf8'), /^ONNXRUNTIME_NODE_INSTALL=skip npm ci /m);
});

test('an install where the libjpeg-turbo addon cannot be built says so and goes on (sharp decodes then)', () => {
  // A node-gyp that fails the way a missing jpeglib.h does; the real addon in build/ is left alone.
  const failing = path.join(tmpdir(), `failing-node-gyp-${process.pid}.cjs`);
  writeFileSync(
    failing,
    "console.error('native/jpeg/jpeg_decode.c:20:10: fatal error: jpeglib.h: No such file or directory'); process.exit(1);",
  );
  try {
    const run = spawnSync(process.execPath, ['scripts/build-native.mjs'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, npm_config_node_gyp: failing },
    });
    assert.equal(run.status, 0, 'the install must not fail');
    assert.match(run.stderr, /addon was not built \(.*jpeglib\.h: No such file or directory\)/);
    assert.match(run.stderr, /decoded by sharp/);
  } finally {
    rmSync(failing, { force: true });
  }
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.scripts.install, 'node scripts/build-native.mjs');
  assert.match(readFileSync(path.join(root, 'Dockerfile'), 'utf8'), /libjpeg62-turbo-dev/);
});
