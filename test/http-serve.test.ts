// `marine-classifier serve` as a real process: it starts, serves, and on SIGTERM finishes the
// request in progress before exiting 0. The image it is working on comes from a loopback server
// that holds the response, so the request is provably in flight when the signal arrives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClassificationResult } from '../src/engine/types.ts';
import { REPO_ROOT } from './helpers/shared.ts';
import { SHARK_PHOTO, TEST_MODEL, postJson, startImageServer, type ImageServer } from './helpers/http-fixtures.ts';

let images: ImageServer;
let child: ChildProcess | null = null;
let requestArrived: () => void;
const arrived = new Promise<void>((resolve) => {
  requestArrived = resolve;
});

before(async () => {
  const shark = readFileSync(SHARK_PHOTO);
  images = await startImageServer('127.0.0.1', [
    (req, res) => {
      if (req.url !== '/slow-shark.jpg') return false;
      requestArrived();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.end(shark);
      }, 700);
      return true;
    },
  ]);
});

after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await images?.close();
});

/** Collects the child's JSON log lines and resolves when one matches. */
function waitForLog(
  output: NodeJS.ReadableStream,
  lines: Record<string, unknown>[],
  match: (line: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const text = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(line);
        if (match(line)) {
          output.off('data', onData);
          resolve(line);
        }
      }
    };
    output.on('data', onData);
    output.once('end', () =>
      reject(new Error(`the service ended before logging what was expected; logs: ${JSON.stringify(lines)}`)),
    );
  });
}

test('serve starts, and on SIGTERM finishes the request in flight, closes and exits 0', async () => {
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'src/cli/main.ts'),
      'serve',
      '--port',
      '0',
      '--model-path',
      TEST_MODEL,
      '--allow-host',
      '127.0.0.1',
      '--log-level',
      'info',
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, API_KEYS: '', RATE_LIMIT_MAX: '', HOST: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = once(child, 'exit') as Promise<[number | null]>;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines: Record<string, unknown>[] = [];
  const listening = await waitForLog(child.stdout!, lines, (line) => typeof line.url === 'string');
  const url = listening.url as string;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'binds loopback by default');
  assert.equal(listening.model, 'mobilenetv2-12-int8');

  const answer = postJson(`${url}/classify`, { image_url: images.url('/slow-shark.jpg'), top_k: 1 });
  await arrived;
  const stopped = waitForLog(child.stdout!, lines, (line) => line.msg === 'Stopped');
  child.kill('SIGTERM');

  const res = await answer;
  assert.equal(res.status, 200, 'the request in flight was finished');
  const result = (await res.json()) as ClassificationResult;
  assert.equal(result.answer, 'great white shark');
  await stopped;
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  assert.ok(lines.some((line) => typeof line.msg === 'string' && line.msg.startsWith('Shutting down')));
  await assert.rejects(fetch(`${url}/healthz`), 'the port is closed');
});
