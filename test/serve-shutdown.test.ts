// `marine-classifier serve` as a real process: SIGTERM while a client trickles its upload. The
// request can never finish, so shutdown must not wait for it beyond SHUTDOWN_GRACE_MS: the process
// closes the connection, says so in its log, and exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { REPO_ROOT, TEST_MODEL } from './helpers/shared.ts';

test('SIGTERM with a client trickling its body: connections are closed after SHUTDOWN_GRACE_MS and serve exits 0', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', '--model-path', TEST_MODEL],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, SHUTDOWN_GRACE_MS: '1000', API_KEYS: '', RATE_LIMIT_MAX: '', HOST: '', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const lines: Record<string, unknown>[] = [];
  let listening: (url: string) => void;
  const url = new Promise<string>((resolve) => {
    listening = resolve;
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    try {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (typeof line.url === 'string' && typeof line.model === 'string') listening(line.url);
    } catch {
      // not a log line
    }
  });
  let trickle: NodeJS.Timeout | undefined;
  try {
    const { port } = new URL(await url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    const socketClosed = once(socket, 'close');
    socket.write(
      'POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n',
    );
    trickle = setInterval(() => socket.write(Buffer.from([0xff])), 200);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const signalled = performance.now();
    child.kill('SIGTERM');
    const [code] = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('serve still running 10 s after SIGTERM')), 10_000),
      ),
    ]);
    const seconds = (performance.now() - signalled) / 1000;
    assert.equal(code, 0);
    assert.ok(seconds >= 0.9 && seconds < 8, `exited ${seconds.toFixed(1)} s after SIGTERM`);
    await socketClosed;
    const cut = lines.find((line) => typeof line.msg === 'string' && line.msg.includes('grace period'));
    assert.ok(cut, 'the log says what was cut short');
    assert.equal(cut.connections, 1);
  } finally {
    clearInterval(trickle);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
