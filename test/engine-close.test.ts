/**
 * classifier.close() releases everything the engine opened: a process that loads the model,
 * classifies an image by URL (which opens a kept-alive connection pool) and closes the
 * classifier has no connection left open and exits by itself, with no closeUrlFetchAgents()
 * or process.exit().
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, SHARK_PHOTO, TEST_MODEL } from './helpers/shared.ts';

let server: Server;
let imageUrl: string;
let dir: string;
/** Connections from the child still open. */
let openConnections = 0;

before(async () => {
  const photo = readFileSync(SHARK_PHOTO);
  // Keep-alive on, and for long: an unclosed pool would hold its socket (and the child) open.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': photo.length });
    res.end(photo);
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    openConnections++;
    socket.on('close', () => openConnections--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  imageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/shark.jpg`;
  dir = mkdtempSync(path.join(tmpdir(), 'engine-close-'));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** How long the child lived after printing "closed". */
  afterCloseMs: number;
  /** Connections to the test server still open shortly after the child printed "closed". */
  openAfterClose: number;
}

/** Runs the script under tsx. */
function runChild(script: string): Promise<ChildRun> {
  const file = path.join(dir, 'child.mts');
  writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    let closedAt = 0;
    let openAfterClose = -1;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (!closedAt && stdout.includes('closed')) {
        closedAt = Date.now();
        // The child lingers for a second after close(), so a pool it left open would still hold its connection here.
        setTimeout(() => {
          openAfterClose = openConnections;
        }, 500);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, afterCloseMs: closedAt ? Date.now() - closedAt : Infinity, openAfterClose });
    });
  });
}

test('after classifier.close(), nothing the engine opened keeps the process alive', async () => {
  const engine = pathToFileURL(path.join(REPO_ROOT, 'src', 'engine', 'classifier.ts')).href;
  const { code, stdout, stderr, afterCloseMs, openAfterClose } = await runChild(`
    import { createClassifier } from ${JSON.stringify(engine)};
    const classifier = await createClassifier({
      modelPath: ${JSON.stringify(TEST_MODEL)},
      sources: { url: { allowedHosts: ['127.0.0.1'] } },
    });
    const result = await classifier.classify(${JSON.stringify(imageUrl)});
    console.log('top1', result.top1.label);
    await classifier.close();
    console.log('closed');
    setTimeout(() => {}, 1000);
  `);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /top1 .*shark/i);
  assert.equal(openAfterClose, 0, 'the connection to the image server was still open after close()');
  assert.ok(afterCloseMs < 5000, `the process lived ${afterCloseMs} ms after close()`);
});
