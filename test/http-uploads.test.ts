// Uploads against a real `serve` process, over raw sockets so nothing smooths over what the
// server does: oversized bodies (raw and JSON) must get their 413 however the client writes them,
// `Expect: 100-continue` is honoured, and slow uploaders (trickling or stalled) get 408 and can
// hold at most their address's share of the slots while a normal request still gets 200.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { SHARK_PHOTO } from './helpers/http-fixtures.ts';
import { sleep, until } from './helpers/redis-processes.ts';
import { type ServeProcess, startServeProcess } from './helpers/serve-process.ts';

const MiB = 1024 * 1024;
const STALL_MS = 1500;
const QUEUE_LIMIT = 8;
let serve: ServeProcess;

before(async () => {
  serve = await startServeProcess({
    QUEUE_LIMIT: String(QUEUE_LIMIT),
    BODY_STALL_MS: String(STALL_MS),
    BODY_MIN_RATE: '4096',
  });
});
after(() => serve.close());

interface RawAnswer {
  status: number | null;
  text: string;
  /** A socket error the client saw (EPIPE, ECONNRESET), if any. */
  error: string | null;
  /** The server's 100 Continue, when it sent one. */
  continued: boolean;
}

interface RawClient {
  socket: net.Socket;
  answer: Promise<RawAnswer>;
}

/** A connection from `localAddress` that has sent `head`; its answer is what arrives until the server closes. */
function rawClient(head: string, localAddress = '127.0.0.1'): RawClient {
  const socket = net.connect({ port: serve.port, host: '127.0.0.1', localAddress });
  let text = '';
  let error: string | null = null;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error = err.code ?? err.message;
  });
  socket.write(head);
  const answer = new Promise<RawAnswer>((resolve) => {
    socket.on('close', () => {
      const continued = text.startsWith('HTTP/1.1 100');
      const final = continued ? text.slice(text.indexOf('\r\n\r\n') + 4) : text;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(final);
      resolve({ status: status ? Number(status[1]) : null, text: final, error, continued });
    });
  });
  return { socket, answer };
}

function head(type: string, length: number, extra = ''): string {
  return `POST /classify HTTP/1.1\r\nHost: test\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\nConnection: close\r\n${extra}\r\n`;
}

function errorCodeOf(answer: RawAnswer): string | undefined {
  const body = answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4);
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** Sends all of `body` as fast as the socket takes it, ignoring the server's answer meanwhile. */
async function sendWhole(type: string, body: Buffer): Promise<RawAnswer> {
  const client = rawClient(head(type, body.length));
  client.socket.write(body);
  return client.answer;
}

test('an oversized upload, raw or JSON, sent without Expect: every try gets its 413 with the error shape', async () => {
  const raw = Buffer.alloc(26 * MiB, 0xff);
  const json = Buffer.from(`{"image_base64":"${'A'.repeat(26 * MiB)}"}`);
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) {
    for (const [type, body] of [
      ['image/jpeg', raw],
      ['application/json', json],
    ] as const) {
      const answer = await sendWhole(type, body);
      seen.push(`${type}: ${answer.status ?? answer.error} ${errorCodeOf(answer) ?? ''}`.trim());
    }
  }
  assert.deepEqual(
    seen.filter((line) => !line.endsWith('413 body_too_large')),
    [],
    `every client must read its 413; got ${seen.join(', ')}`,
  );
});

test('Expect: 100-continue: an oversized body is refused before it is sent, one that fits is asked for', async () => {
  const refused = rawClient(head('image/jpeg', 26 * MiB, 'Expect: 100-continue\r\n'));
  const answer = await refused.answer;
  assert.equal(answer.continued, false, 'no 100 Continue for a body over the limit');
  assert.equal(answer.status, 413);
  assert.equal(errorCodeOf(answer), 'body_too_large');

  const photo = readFileSync(SHARK_PHOTO);
  const accepted = rawClient(head('image/jpeg', photo.length, 'Expect: 100-continue\r\n'));
  await until('100 Continue', () => accepted.socket.bytesRead > 0, 10_000);
  accepted.socket.write(photo);
  const done = await accepted.answer;
  assert.equal(done.continued, true);
  assert.equal(done.status, 200);
});

/** Clients that send their headers, then one byte every `everyMs`, until the server closes them. */
function tricklers(
  count: number,
  localAddress: string,
  everyMs: number,
): { answers: Promise<RawAnswer[]>; stop(): void } {
  const clients = Array.from({ length: count }, () => rawClient(head('image/jpeg', 100_000), localAddress));
  const timer = setInterval(() => {
    for (const { socket } of clients) if (!socket.destroyed) socket.write(Buffer.from([0xff]));
  }, everyMs);
  const answers = Promise.all(clients.map((client) => client.answer)).finally(() => clearInterval(timer));
  return {
    answers,
    stop() {
      clearInterval(timer);
      for (const { socket } of clients) socket.destroy();
    },
  };
}

async function classifyFrom(localAddress: string): Promise<{ status: number; ms: number }> {
  const dispatcher = new Agent({ connect: { localAddress } });
  const started = performance.now();
  try {
    const response = await request(`${serve.baseUrl}/classify`, {
      method: 'POST',
      body: readFileSync(SHARK_PHOTO),
      headers: { 'content-type': 'image/jpeg' },
      dispatcher,
    });
    await response.body.text();
    return { status: response.statusCode, ms: performance.now() - started };
  } finally {
    await dispatcher.close();
  }
}

test('300 clients trickling their uploads from one address: another address still gets 200, and the slow ones get 408', async () => {
  const slow = tricklers(300, '127.0.0.3', 500);
  try {
    await sleep(300);
    const normal = await classifyFrom('127.0.0.2');
    assert.equal(normal.status, 200, 'a normal request from another address is answered while they trickle');

    const answers = await Promise.race([
      slow.answers,
      sleep(STALL_MS * 6).then(() => assert.fail('slow clients still connected long after BODY_STALL_MS')),
    ]);
    const counts: Record<string, number> = {};
    for (const answer of answers) {
      const key = `${answer.status} ${errorCodeOf(answer)}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    // QUEUE_LIMIT 8: one address holds at most half; those four trickle too slowly and get 408. The
    // others are refused at once, and read their 503 once the server gives up on their bodies.
    assert.deepEqual(counts, { '408 request_timeout': QUEUE_LIMIT / 2, '503 queue_full': 300 - QUEUE_LIMIT / 2 });
    assert.equal((await classifyFrom('127.0.0.3')).status, 200, 'their slots are free again');
  } finally {
    slow.stop();
  }
});

test('a body that stops arriving halfway gets 408 and loses its slot; so does a multipart form', async () => {
  const photo = readFileSync(SHARK_PHOTO);
  const half = rawClient(head('image/jpeg', photo.length));
  half.socket.write(photo.subarray(0, photo.length >> 1));
  const form = rawClient(
    `POST /classify HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 100000\r\n\r\n` +
      `--XX\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  );
  form.socket.write(photo.subarray(0, 1000));
  for (const client of [half, form]) {
    const answer = await Promise.race([
      client.answer,
      sleep(STALL_MS * 6).then(() => assert.fail('the stalled upload is still connected')),
    ]);
    assert.equal(answer.status, 408);
    assert.equal(errorCodeOf(answer), 'request_timeout');
    assert.match(answer.text, /stopped arriving|slower than/);
  }
});
