// Requests the framework itself refuses (bad percent-encoding, over-long path parameters, broken
// or oversized headers) and unknown routes get the documented error shape with a stable code, not
// fastify's or Node's own bodies. Sent raw over a socket: fetch would normalise the paths.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { RunningService } from '../src/http/service.ts';
import { startTestService } from './helpers/http-fixtures.ts';

let service: RunningService;
let port: number;

before(async () => {
  service = await startTestService();
  port = Number(new URL(service.url).port);
});

after(async () => {
  await service?.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `head` (request line and headers, without the blank line) as it is and reads the answer until the server closes. */
function rawRequest(head: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [top, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = top.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

async function expectShaped(head: string, status: number, code: string): Promise<void> {
  const answer = await rawRequest(head);
  assert.equal(answer.status, status, `${head.split('\r\n')[0]}: ${answer.status} ${answer.body}`);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, answer.body);
  const body = JSON.parse(answer.body) as {
    error: { code: string; message: string; status: number };
    request_id: string;
  };
  assert.deepEqual(Object.keys(body).sort(), ['error', 'request_id'], answer.body);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'status'], answer.body);
  assert.equal(body.error.code, code, answer.body);
  assert.equal(body.error.status, status);
  assert.ok(body.error.message.length > 10, 'the message is a sentence');
  assert.equal(typeof body.request_id, 'string');
  assert.ok(body.request_id.length > 0);
}

describe('framework errors in the error shape', () => {
  test('bad percent-encoding in the path: 400 invalid_request; unknown routes: 404 not_found', async () => {
    await expectShaped('POST /classify%ZZ HTTP/1.1\r\nContent-Length: 0', 400, 'invalid_request');
    await expectShaped('GET /jobs/%E0%A4%A HTTP/1.1', 400, 'invalid_request');
    await expectShaped('GET /nowhere HTTP/1.1', 404, 'not_found');
    await expectShaped('PATCH /classify HTTP/1.1', 404, 'not_found');
  });

  test('a job id of 128 characters (the schema limit) is looked up: 404 job_not_found', async () => {
    await expectShaped(`DELETE /jobs/${'a'.repeat(128)} HTTP/1.1`, 404, 'job_not_found');
    await expectShaped(`GET /jobs/${'b'.repeat(128)} HTTP/1.1`, 404, 'job_not_found');
  });

  test('a path parameter longer than any id: 414 uri_too_long', async () => {
    await expectShaped(`DELETE /jobs/${'a'.repeat(129)} HTTP/1.1`, 414, 'uri_too_long');
    await expectShaped(`GET /jobs/${'c'.repeat(5000)} HTTP/1.1`, 414, 'uri_too_long');
  });

  test('a malformed header line: 400 invalid_request', async () => {
    await expectShaped('GET /healthz HTTP/1.1\r\nBad Header: x', 400, 'invalid_request');
  });

  test('headers larger than the server reads: 431 headers_too_large', async () => {
    await expectShaped(`GET /healthz HTTP/1.1\r\nX-Filler: ${'x'.repeat(20_000)}`, 431, 'headers_too_large');
    const answer = await rawRequest('GET /healthz HTTP/1.1');
    assert.equal(answer.status, 200, answer.body);
  });
});
