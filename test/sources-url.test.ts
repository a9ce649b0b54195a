// Real connections in this file go only to servers it starts on loopback (127.0.0.1, 127.0.0.2, ::1).
// Non-loopback addresses are tested through isForbiddenAddress alone, never fetched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClassifierError } from '../src/errors.ts';
import { closeUrlFetchAgents, fetchImageFromUrl, isForbiddenAddress, UrlFetcher } from '../src/sources/url.ts';

interface TestServer {
  server: http.Server;
  port: number;
  hits: string[];
  /** TCP connections accepted; stronger than `hits`, since a refusal must come before connecting. */
  connections: number;
}

const IMAGE = Buffer.from('\x89PNG\r\n\x1a\n-fake-image-bytes', 'binary');
const ALLOW_LOCAL = { allowedHosts: ['127.0.0.1'] };

let main: TestServer;
let sideV4: TestServer | null = null; // 127.0.0.2, a loopback address that is not allow-listed
let sideV6: TestServer | null = null; // ::1

function route(server: () => TestServer) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    server().hits.push(url);
    const port = server().port;
    const chain = /^\/chain\/(\d+)$/.exec(url);
    if (url === '/image.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': IMAGE.length });
      res.end(IMAGE);
    } else if (url === '/redirect') {
      res.writeHead(302, { location: '/image.png' });
      res.end('moved');
    } else if (chain) {
      const n = Number(chain[1]);
      if (n === 0) {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(IMAGE);
      } else {
        res.writeHead(301, { location: `/chain/${n - 1}` });
        res.end();
      }
    } else if (url === '/to-v6') {
      res.writeHead(302, { location: `http://[::1]:${sideV6?.port ?? port}/secret` });
      res.end();
    } else if (url === '/to-127-0-0-2') {
      res.writeHead(302, { location: `http://127.0.0.2:${sideV4?.port ?? port}/secret` });
      res.end();
    } else if (url === '/to-file') {
      res.writeHead(302, { location: 'file:///etc/passwd' });
      res.end();
    } else if (url === '/slow-headers') {
      // Never answers; the client's time limit has to end it.
    } else if (url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write('first bytes');
    } else if (url === '/huge-declared') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 64 * 1024 });
      res.end(Buffer.alloc(64 * 1024));
    } else if (url === '/huge-chunked') {
      res.writeHead(200, { 'content-type': 'image/png' });
      for (let i = 0; i < 64; i++) res.write(Buffer.alloc(1024));
      res.end();
    } else if (url === '/missing') {
      res.writeHead(404);
      res.end('not here');
    } else if (url === '/broken') {
      res.writeHead(500);
      res.end('oops');
    } else {
      res.writeHead(200);
      res.end('side');
    }
  };
}

async function startServer(host: string): Promise<TestServer> {
  const state = { hits: [] as string[], port: 0, connections: 0 } as TestServer;
  state.server = http.createServer(route(() => state));
  state.server.on('connection', () => {
    state.connections++;
  });
  await new Promise<void>((resolve, reject) => {
    state.server.once('error', reject);
    state.server.listen(0, host, () => resolve());
  });
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}

async function stopServer(s: TestServer | null): Promise<void> {
  if (!s) return;
  s.server.closeAllConnections();
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  extra: Partial<Pick<ClassifierError, 'status' | 'retryable'>> = {},
): Promise<ClassifierError> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}, but the fetch succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ClassifierError, `expected a ClassifierError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (extra.status !== undefined) assert.equal(err.status, extra.status);
  if (extra.retryable !== undefined) assert.equal(err.retryable, extra.retryable);
  return err;
}

before(async () => {
  main = await startServer('127.0.0.1');
  sideV4 = await startServer('127.0.0.2').catch(() => null);
  sideV6 = await startServer('::1').catch(() => null);
});

after(async () => {
  await closeUrlFetchAgents();
  await Promise.all([stopServer(main), stopServer(sideV4), stopServer(sideV6)]);
});

function mainUrl(path: string, host = '127.0.0.1'): string {
  return `http://${host}:${main.port}${path}`;
}

test('fetches an allow-listed loopback URL', async () => {
  const image = await fetchImageFromUrl(mainUrl('/image.png'), ALLOW_LOCAL);
  assert.deepEqual(image.bytes, IMAGE);
  assert.equal(image.contentType, 'image/png');
  assert.equal(image.finalUrl, mainUrl('/image.png'));
});

test('a CIDR allow-list entry permits addresses in its range', async () => {
  const image = await fetchImageFromUrl(mainUrl('/image.png'), { allowedHosts: ['127.0.0.0/8'] });
  assert.deepEqual(image.bytes, IMAGE);
});

test('a host-name allow-list entry permits that name whatever it resolves to', async () => {
  const image = await fetchImageFromUrl(mainUrl('/image.png', 'LocalHost'), { allowedHosts: ['localhost'] });
  assert.deepEqual(image.bytes, IMAGE);
});

test('allowPrivateNetworks disables the guard', async () => {
  const image = await fetchImageFromUrl(mainUrl('/image.png'), { allowPrivateNetworks: true });
  assert.deepEqual(image.bytes, IMAGE);
});

test('loopback URLs are refused without the allow-list, before any request', async (t) => {
  const hosts = ['127.0.0.1', '[::1]', '0x7f000001', '2130706433', '0177.0.0.1', 'localhost', '[::ffff:127.0.0.1]'];
  for (const host of hosts) {
    await t.test(host, async () => {
      const before = main.connections + (sideV6?.connections ?? 0);
      const port = host === '[::1]' && sideV6 ? sideV6.port : main.port;
      const err = await rejectsWith(fetchImageFromUrl(`http://${host}:${port}/image.png`), 'url_not_allowed', {
        status: 400,
        retryable: false,
      });
      assert.match(err.message, /private or reserved network address/);
      assert.equal(main.connections + (sideV6?.connections ?? 0), before, 'the server must not have been connected to');
    });
  }
});

test('an allow-list for one address does not cover other loopback addresses', async () => {
  const before = main.connections;
  await rejectsWith(
    fetchImageFromUrl(mainUrl('/image.png'), { allowedHosts: ['::1', '127.0.0.2', 'example.com'] }),
    'url_not_allowed',
  );
  assert.equal(main.connections, before);
});

test('follows a relative redirect', async () => {
  const image = await fetchImageFromUrl(mainUrl('/redirect'), ALLOW_LOCAL);
  assert.deepEqual(image.bytes, IMAGE);
  assert.equal(image.finalUrl, mainUrl('/image.png'));
});

test('follows exactly maxRedirects hops, refuses one more', async () => {
  const image = await fetchImageFromUrl(mainUrl('/chain/3'), { ...ALLOW_LOCAL, maxRedirects: 3 });
  assert.deepEqual(image.bytes, IMAGE);

  main.hits.length = 0;
  await rejectsWith(fetchImageFromUrl(mainUrl('/chain/5'), { ...ALLOW_LOCAL, maxRedirects: 3 }), 'too_many_redirects', {
    status: 400,
  });
  assert.deepEqual(main.hits, ['/chain/5', '/chain/4', '/chain/3', '/chain/2']);
});

test('a redirect to [::1] is refused when only 127.0.0.1 is allow-listed', async () => {
  await rejectsWith(fetchImageFromUrl(mainUrl('/to-v6'), ALLOW_LOCAL), 'url_not_allowed');
  if (sideV6) assert.equal(sideV6.connections, 0);
  assert.ok(!main.hits.includes('/secret'));
});

test('a redirect to 127.0.0.2 is refused when only 127.0.0.1 is allow-listed', async () => {
  await rejectsWith(fetchImageFromUrl(mainUrl('/to-127-0-0-2'), ALLOW_LOCAL), 'url_not_allowed');
  if (sideV4) assert.equal(sideV4.connections, 0);
  assert.ok(!main.hits.includes('/secret'));
});

test('a redirect to a non-http scheme is refused', async () => {
  await rejectsWith(fetchImageFromUrl(mainUrl('/to-file'), ALLOW_LOCAL), 'invalid_url');
});

test('non-http schemes and unparseable URLs are invalid', async (t) => {
  const urls = [
    'file:///etc/passwd',
    'ftp://127.0.0.1/image.png',
    'data:image/png;base64,iVBORw0KGgo=',
    'gopher://127.0.0.1:70/',
    'javascript:alert(1)',
    'not a url',
    'http://',
    '',
  ];
  for (const url of urls) {
    await t.test(url || '(empty)', async () => {
      await rejectsWith(fetchImageFromUrl(url, { allowPrivateNetworks: true }), 'invalid_url', { status: 400 });
    });
  }
});

test('URLs with credentials are invalid', async () => {
  const before = main.connections;
  await rejectsWith(
    fetchImageFromUrl(`http://user:secret@127.0.0.1:${main.port}/image.png`, ALLOW_LOCAL),
    'invalid_url',
  );
  await rejectsWith(fetchImageFromUrl(`http://user@127.0.0.1:${main.port}/image.png`, ALLOW_LOCAL), 'invalid_url');
  assert.equal(main.connections, before);
});

test('a declared Content-Length over the cap is refused', async () => {
  await rejectsWith(
    fetchImageFromUrl(mainUrl('/huge-declared'), { ...ALLOW_LOCAL, maxBytes: 1000 }),
    'image_too_large_bytes',
    { status: 413 },
  );
});

test('a chunked body over the cap is cut off', async () => {
  await rejectsWith(
    fetchImageFromUrl(mainUrl('/huge-chunked'), { ...ALLOW_LOCAL, maxBytes: 1000 }),
    'image_too_large_bytes',
    { status: 413 },
  );
});

test('a body exactly at the cap is accepted', async () => {
  const image = await fetchImageFromUrl(mainUrl('/image.png'), { ...ALLOW_LOCAL, maxBytes: IMAGE.length });
  assert.equal(image.bytes.length, IMAGE.length);
});

test('a server that never answers times out', async () => {
  const started = Date.now();
  await rejectsWith(fetchImageFromUrl(mainUrl('/slow-headers'), { ...ALLOW_LOCAL, timeoutMs: 300 }), 'fetch_timeout', {
    status: 504,
    retryable: true,
  });
  assert.ok(Date.now() - started < 5000);
});

test('a body that stalls times out', async () => {
  await rejectsWith(fetchImageFromUrl(mainUrl('/slow-body'), { ...ALLOW_LOCAL, timeoutMs: 300 }), 'fetch_timeout', {
    status: 504,
    retryable: true,
  });
});

test('a cancelled fetch stops at once, told apart from a timeout', async () => {
  const fetcher = new UrlFetcher();
  try {
    const started = Date.now();
    const cancel = AbortSignal.timeout(200);
    await assert.rejects(fetcher.fetch(mainUrl('/slow-body'), ALLOW_LOCAL, cancel), {
      code: 'fetch_failed',
      message: /cancelled/,
    });
    assert.ok(Date.now() - started < 5000);
  } finally {
    await fetcher.close();
  }
});

test('a remote 404 is a non-retryable fetch_failed', async () => {
  const err = await rejectsWith(fetchImageFromUrl(mainUrl('/missing'), ALLOW_LOCAL), 'fetch_failed', {
    status: 400,
    retryable: false,
  });
  assert.equal(err.message, 'Fetching the URL failed: the server answered HTTP 404.');
});

test('a remote 500 is a retryable fetch_failed', async () => {
  await rejectsWith(fetchImageFromUrl(mainUrl('/broken'), ALLOW_LOCAL), 'fetch_failed', {
    status: 502,
    retryable: true,
  });
});

test('a refused connection is a retryable fetch_failed', async () => {
  const closed = await startServer('127.0.0.1');
  const port = closed.port;
  await stopServer(closed);
  await rejectsWith(fetchImageFromUrl(`http://127.0.0.1:${port}/image.png`, ALLOW_LOCAL), 'fetch_failed', {
    status: 502,
    retryable: true,
  });
});

test('isForbiddenAddress classifies addresses without connecting', async (t) => {
  const forbidden = [
    '169.254.169.254',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '224.0.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '127.0.0.1',
    '::',
    '::1',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '100.100.100.200',
    '::7f00:1',
    '64:ff9b::a00:1',
    '2002:a00:1::',
    '2001::1',
    'not-an-ip',
    '',
  ];
  const allowed = ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'];
  for (const address of forbidden) {
    await t.test(`${address || '(empty)'} is forbidden`, () => assert.equal(isForbiddenAddress(address), true));
  }
  for (const address of allowed) {
    await t.test(`${address} is allowed`, () => assert.equal(isForbiddenAddress(address), false));
  }
});
