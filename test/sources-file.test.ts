import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClassifierError } from '../src/errors.ts';
import { readImageFile } from '../src/sources/file.ts';

let base: string;
let root: string;
const IMAGE = Buffer.from('fake image bytes');
const LIMIT = { maxBytes: 1024 };

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'marine-file-'));
  root = path.join(base, 'images');
  await mkdir(path.join(root, 'sub'), { recursive: true });
  await writeFile(path.join(root, 'fish.jpg'), IMAGE);
  await writeFile(path.join(root, 'sub', 'crab.jpg'), IMAGE);
  await writeFile(path.join(root, 'big.jpg'), Buffer.alloc(2048));
  await writeFile(path.join(base, 'secret.txt'), 'outside the root');
  // A sibling whose name starts with the root's name must not count as inside it.
  await mkdir(path.join(base, 'images-private'));
  await writeFile(path.join(base, 'images-private', 'x.jpg'), IMAGE);
  await symlink(path.join(base, 'secret.txt'), path.join(root, 'escape.jpg'));
  await symlink(path.join(base, 'images-private'), path.join(root, 'sibling-dir'));
  await symlink(path.join(root, 'sub', 'crab.jpg'), path.join(root, 'alias.jpg'));
  await symlink(path.join(base, 'nowhere'), path.join(root, 'dangling.jpg'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ClassifierError, `expected a ClassifierError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.status, status);
}

test('reads a file by any path without a root', async () => {
  assert.deepEqual(await readImageFile(path.join(root, 'fish.jpg'), LIMIT), IMAGE);
  assert.deepEqual(await readImageFile(path.join(base, 'secret.txt'), LIMIT), Buffer.from('outside the root'));
});

test('a missing file is file_not_found', async () => {
  await rejectsWith(readImageFile(path.join(root, 'nope.jpg'), LIMIT), 'file_not_found', 404);
  await rejectsWith(readImageFile('nope.jpg', { ...LIMIT, root }), 'file_not_found', 404);
});

test('a directory is not_a_file', async () => {
  await rejectsWith(readImageFile(root, LIMIT), 'not_a_file', 400);
  await rejectsWith(readImageFile('sub', { ...LIMIT, root }), 'not_a_file', 400);
  await rejectsWith(readImageFile('.', { ...LIMIT, root }), 'not_a_file', 400);
});

test('a file over maxBytes is image_too_large_bytes', async () => {
  await rejectsWith(readImageFile(path.join(root, 'big.jpg'), LIMIT), 'image_too_large_bytes', 413);
  assert.equal((await readImageFile(path.join(root, 'big.jpg'), { maxBytes: 2048 })).length, 2048);
});

test('with a root, paths are relative to it', async () => {
  assert.deepEqual(await readImageFile('fish.jpg', { ...LIMIT, root }), IMAGE);
  assert.deepEqual(await readImageFile('sub/crab.jpg', { ...LIMIT, root }), IMAGE);
  assert.deepEqual(await readImageFile('sub/../fish.jpg', { ...LIMIT, root }), IMAGE);
  assert.deepEqual(await readImageFile(path.join(root, 'fish.jpg'), { ...LIMIT, root }), IMAGE);
});

test('with a root, .. escapes are refused', async () => {
  await rejectsWith(readImageFile('../secret.txt', { ...LIMIT, root }), 'path_not_allowed', 403);
  await rejectsWith(readImageFile('sub/../../secret.txt', { ...LIMIT, root }), 'path_not_allowed', 403);
  await rejectsWith(readImageFile('../images-private/x.jpg', { ...LIMIT, root }), 'path_not_allowed', 403);
  // Refused even when the target does not exist, so the root cannot be used to probe for files outside it.
  await rejectsWith(readImageFile('../does-not-exist', { ...LIMIT, root }), 'path_not_allowed', 403);
});

test('with a root, absolute paths outside it are refused', async () => {
  await rejectsWith(readImageFile(path.join(base, 'secret.txt'), { ...LIMIT, root }), 'path_not_allowed', 403);
  await rejectsWith(readImageFile('/etc/passwd', { ...LIMIT, root }), 'path_not_allowed', 403);
});

test('with a root, symlinks pointing outside are refused and inside are followed', async () => {
  await rejectsWith(readImageFile('escape.jpg', { ...LIMIT, root }), 'path_not_allowed', 403);
  await rejectsWith(readImageFile('sibling-dir/x.jpg', { ...LIMIT, root }), 'path_not_allowed', 403);
  assert.deepEqual(await readImageFile('alias.jpg', { ...LIMIT, root }), IMAGE);
});

test('a dangling symlink is file_not_found', async () => {
  await rejectsWith(readImageFile('dangling.jpg', { ...LIMIT, root }), 'file_not_found', 404);
});

test('a root given through a symlink still works', async () => {
  const linkedRoot = path.join(base, 'linked-root');
  await symlink(root, linkedRoot);
  assert.deepEqual(await readImageFile('fish.jpg', { ...LIMIT, root: linkedRoot }), IMAGE);
  await rejectsWith(readImageFile('escape.jpg', { ...LIMIT, root: linkedRoot }), 'path_not_allowed', 403);
});

test('an unreadable file is file_unreadable', {
  skip: process.getuid?.() === 0 ? 'root ignores file permissions' : false,
}, async () => {
  const locked = path.join(root, 'locked.jpg');
  await writeFile(locked, IMAGE, { mode: 0o000 });
  await rejectsWith(readImageFile(locked, LIMIT), 'file_unreadable', 403);
});
