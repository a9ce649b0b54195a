/**
 * Shared pieces of the HTTP tests: a service on 127.0.0.1 with the real model, a loopback image
 * server, request helpers and the error-shape assertion. Nothing here connects anywhere but
 * loopback.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serviceConfig, type ServiceConfigOverrides } from '../../src/http/config.ts';
import { startService, type RunningService, type StartServiceOptions } from '../../src/http/service.ts';
import { SHARK_PHOTO, TEST_MODEL, referenceTop5, sharedPath } from './shared.ts';

export { SHARK_PHOTO, TEST_MODEL, referenceTop5, sharedPath };

export const MARINE_DIR = sharedPath('images', 'imagenet-marine');

export interface TestImage {
  name: string;
  bytes: Buffer;
  /** Reference top-1 class index (PIL/torchvision pipeline). */
  referenceTop1: number;
}

/** The 40 ImageNet marine samples with the reference pipeline's top-1. */
export function marineImages(): TestImage[] {
  const reference = referenceTop5().top5;
  return readdirSync(MARINE_DIR)
    .filter((name) => name.endsWith('.JPEG'))
    .sort()
    .map((name) => ({
      name,
      bytes: readFileSync(`${MARINE_DIR}/${name}`),
      referenceTop1: reference[`images/imagenet-marine/${name}`][0].index,
    }));
}

export function marineImage(name: string): TestImage {
  const image = marineImages().find((candidate) => candidate.name.includes(name));
  assert.ok(image, `no marine test image named like ${name}`);
  return image;
}

/**
 * The service with the test model, quiet logs, on a free port, configured only by `overrides`:
 * the environment is ignored so that a developer's API_KEYS or MODEL_ID cannot change a test.
 */
export async function startTestService(
  overrides: ServiceConfigOverrides = {},
  options: StartServiceOptions = {},
): Promise<RunningService> {
  const config = serviceConfig(
    {
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      webRoot: null,
      ...overrides,
      engine: { modelPath: TEST_MODEL, ...overrides.engine },
    },
    {},
  );
  return startService(config, options);
}

// ---------------------------------------------------------------------------------------------
// Loopback image server

export interface ImageServer {
  host: string;
  port: number;
  /** http://host:port + path */
  url(path: string): string;
  /** Request paths received, in order. */
  hits: string[];
  /** TCP connections accepted: a refusal must happen before connecting, not just before a request. */
  connections(): number;
  close(): Promise<void>;
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** Serves /shark.jpg and /marine/<file>; `routes` handle anything else first (return true when handled). */
export async function startImageServer(host = '127.0.0.1', routes: Route[] = [], port = 0): Promise<ImageServer> {
  const hits: string[] = [];
  let connections = 0;
  const shark = readFileSync(SHARK_PHOTO);
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    hits.push(url);
    for (const route of routes) if (route(req, res)) return;
    if (url === '/shark.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': shark.length });
      res.end(shark);
      return;
    }
    const marine = /^\/marine\/([\w.-]+\.JPEG)$/.exec(url);
    if (marine) {
      const bytes = readFileSync(`${MARINE_DIR}/${marine[1]}`);
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(bytes);
      return;
    }
    res.writeHead(404);
    res.end('not here');
  });
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port: actualPort,
    url: (path) => `http://${hostInUrl}:${actualPort}${path}`,
    hits,
    connections: () => connections,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export function postImage(
  url: string,
  bytes: Buffer | Uint8Array,
  contentType = 'image/jpeg',
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body: new Uint8Array(bytes),
  });
}

export interface UploadFile {
  field?: string;
  name: string;
  bytes: Buffer;
}

export function postForm(
  url: string,
  files: UploadFile[],
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const file of files)
    form.append(file.field ?? 'file', new Blob([new Uint8Array(file.bytes)], { type: 'image/jpeg' }), file.name);
  return fetch(url, { method: 'POST', body: form, headers });
}

export interface ErrorAnswer {
  error: { code: string; message: string; status: number };
  request_id: string;
}

/** Asserts the documented error shape, status and code; returns the body for further checks. */
export async function expectError(
  response: Response | Promise<Response>,
  status: number,
  code: string,
): Promise<ErrorAnswer> {
  const res = await response;
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as ErrorAnswer;
  assert.equal(body.error.code, code, text);
  assert.equal(body.error.status, status);
  assert.ok(body.error.message.length > 10, 'the message is a sentence');
  assert.equal(typeof body.request_id, 'string');
  assert.equal(res.headers.get('x-request-id'), body.request_id);
  return body;
}

export async function json<T>(response: Response | Promise<Response>, status = 200): Promise<T> {
  const res = await response;
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as T;
}

/** Polls GET url until the job has finished (or the deadline passes). */
export async function pollJob<T extends { status: string }>(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await json<T>(fetch(url, { headers }));
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > deadline) assert.fail(`job at ${url} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
