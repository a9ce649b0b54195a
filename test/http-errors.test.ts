// Bad input of every kind against one service: each answer is the documented 4xx with its code,
// never a 500, and the service answers good requests correctly afterwards and meanwhile.
// SSRF: only loopback servers this file starts are ever contacted, and the refusals must come
// before any connection (the servers count connections). The allow-list holds only the host
// name "localhost", so 127.0.0.1 as an address literal stays forbidden.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { ClassificationResult } from '../src/engine/types.ts';
import type { RunningService } from '../src/http/service.ts';
import {
  SHARK_PHOTO,
  expectError,
  json,
  marineImage,
  postForm,
  postImage,
  postJson,
  startImageServer,
  startTestService,
  type ImageServer,
} from './helpers/http-fixtures.ts';

const MiB = 1024 * 1024;
const MAX_BODY = 6 * MiB;
const MAX_PIXELS = 20_000_000;
const shark = readFileSync(SHARK_PHOTO);

let service: RunningService;
let images: ImageServer;
let imagesV6: ImageServer | null = null;
let secretV4: ImageServer | null = null; // 127.0.0.2: loopback, not allow-listed
let secretV6: ImageServer | null = null; // ::1
let classifyUrl: string;

function redirectRoute(path: string, target: () => string) {
  return (
    req: { url?: string },
    res: { writeHead(status: number, headers: Record<string, string>): void; end(): void },
  ) => {
    if (req.url !== path) return false;
    res.writeHead(302, { location: target() });
    res.end();
    return true;
  };
}

before(async () => {
  secretV4 = await startImageServer('127.0.0.2').catch(() => null);
  secretV6 = await startImageServer('::1').catch(() => null);
  const routes = [
    redirectRoute('/to-127-0-0-2', () => `http://127.0.0.2:${secretV4?.port ?? 9}/secret`),
    redirectRoute('/to-v6', () => `http://[::1]:${secretV6?.port ?? 9}/secret`),
    redirectRoute('/to-metadata', () => 'http://169.254.169.254/latest/meta-data/'),
  ];
  images = await startImageServer('127.0.0.1', routes);
  // Where "localhost" resolves to ::1 first, the allowed host must answer there too.
  imagesV6 = await startImageServer('::1', routes, images.port).catch(() => null);
  service = await startTestService({
    urlAllowHosts: ['localhost'],
    maxBodyBytes: MAX_BODY,
    engine: { maxPixels: MAX_PIXELS },
  });
  classifyUrl = `${service.url}/classify`;
});

after(async () => {
  await service?.close();
  await Promise.all([images, imagesV6, secretV4, secretV6].map((s) => s?.close()));
});

async function assertStillServes(): Promise<void> {
  const result = await json<ClassificationResult>(postImage(`${classifyUrl}?top_k=1`, shark));
  assert.equal(result.answer, 'great white shark');
}

describe('image content the engine refuses', () => {
  test('not an image: 415 not_an_image', async () => {
    await expectError(postImage(classifyUrl, Buffer.from('just some text, no pixels here\n')), 415, 'not_an_image');
    await expectError(
      postForm(classifyUrl, [{ name: 'notes.jpg', bytes: Buffer.from('%PDF-1.4 not a photo') }]),
      415,
      'not_an_image',
    );
  });

  test('truncated JPEG (the first half of a real one): 422 corrupt_image', async () => {
    await expectError(postImage(classifyUrl, shark.subarray(0, Math.floor(shark.length / 2))), 422, 'corrupt_image');
  });

  test('zero bytes: 400 empty_image (raw body and base64)', async () => {
    await expectError(postImage(classifyUrl, Buffer.alloc(0)), 400, 'empty_image');
    await expectError(postJson(classifyUrl, { image_base64: '' }), 400, 'empty_image');
  });

  test('decompression bomb: a small PNG declaring more pixels than MAX_PIXELS is refused before decoding: 413', async () => {
    const bomb = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#0a3d62' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    assert.ok(bomb.length < MAX_BODY / 4, `the bomb is small on the wire (${bomb.length} bytes)`);
    const error = await expectError(postImage(classifyUrl, bomb, 'image/png'), 413, 'image_too_many_pixels');
    assert.match(error.error.message, /6000x6000/);
  });
});

describe('malformed requests', () => {
  test('bodies over MAX_BODY_BYTES: 413 body_too_large for raw, JSON and multipart', async () => {
    const big = Buffer.alloc(MAX_BODY + MiB, 7);
    await expectError(postImage(classifyUrl, big), 413, 'body_too_large');
    await expectError(
      postJson(classifyUrl, { image_base64: big.subarray(0, 5 * MiB).toString('base64') }),
      413,
      'body_too_large',
    );
    await expectError(postForm(classifyUrl, [{ name: 'huge.jpg', bytes: big }]), 413, 'body_too_large');
  });

  test('bad JSON and empty JSON: 400 invalid_json', async () => {
    await expectError(
      fetch(classifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"image_url": "https://',
      }),
      400,
      'invalid_json',
    );
    await expectError(
      fetch(classifyUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' }),
      400,
      'invalid_json',
    );
  });

  test('unknown fields and wrong types: 400 invalid_request naming the field', async () => {
    const unknown = await expectError(
      postJson(classifyUrl, { image_url: 'https://example.org/a.jpg', topk: 3 }),
      400,
      'invalid_request',
    );
    assert.match(unknown.error.message, /'topk'/);
    const typed = await expectError(
      postJson(classifyUrl, { image_url: 'https://example.org/a.jpg', marine_only: 'maybe' }),
      400,
      'invalid_request',
    );
    assert.match(typed.error.message, /'marine_only'/);
    const query = await expectError(postImage(`${classifyUrl}?topk=3`, shark), 400, 'invalid_request');
    assert.match(query.error.message, /query parameter 'topk'/);
    const form = await expectError(
      postForm(classifyUrl, [{ name: 'a.jpg', bytes: shark }], { colour: 'blue' }),
      400,
      'invalid_request',
    );
    assert.match(form.error.message, /'colour'/);
    await expectError(postJson(classifyUrl, [{ image_url: 'https://example.org/a.jpg' }]), 400, 'invalid_request');
  });

  test('top_k outside 1..1000 and min_score outside 0..1: 400 with their own codes', async () => {
    for (const topK of [0, 1001, 2.5, 'many']) {
      const error = await expectError(
        postJson(classifyUrl, { image_url: 'https://example.org/a.jpg', top_k: topK }),
        400,
        'invalid_top_k',
      );
      assert.match(error.error.message, /'top_k'/);
    }
    await expectError(postImage(`${classifyUrl}?top_k=0`, shark), 400, 'invalid_top_k');
    await expectError(
      postForm(classifyUrl, [{ name: 'a.jpg', bytes: shark }], { top_k: '1001' }),
      400,
      'invalid_top_k',
    );
    await expectError(
      postJson(classifyUrl, { image_url: 'https://example.org/a.jpg', min_score: 1.5 }),
      400,
      'invalid_min_score',
    );
  });

  test('no image: 400 missing_image; two images: 400 ambiguous_image', async () => {
    await expectError(postJson(classifyUrl, {}), 400, 'missing_image');
    await expectError(postJson(classifyUrl, { top_k: 3 }), 400, 'missing_image');
    await expectError(fetch(classifyUrl, { method: 'POST' }), 400, 'missing_image');
    await expectError(postForm(classifyUrl, [], { top_k: '3' }), 400, 'missing_image');
    await expectError(
      postJson(classifyUrl, { image_url: 'https://example.org/a.jpg', image_base64: shark.toString('base64') }),
      400,
      'ambiguous_image',
    );
    await expectError(
      postForm(classifyUrl, [
        { name: 'a.jpg', bytes: shark },
        { name: 'b.jpg', bytes: shark },
      ]),
      400,
      'ambiguous_image',
    );
    await expectError(
      postForm(classifyUrl, [{ name: 'a.jpg', bytes: shark }], { image_url: 'https://example.org/a.jpg' }),
      400,
      'ambiguous_image',
    );
  });

  test('unsupported content types: 415 unsupported_media_type', async () => {
    await expectError(
      fetch(classifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'https://example.org/a.jpg',
      }),
      415,
      'unsupported_media_type',
    );
    await expectError(
      fetch(classifyUrl, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<image/>' }),
      415,
      'unsupported_media_type',
    );
    await expectError(
      fetch(classifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'image_url=x',
      }),
      415,
      'unsupported_media_type',
    );
  });

  test('base64 that is not base64, and local paths without IMAGE_ROOT', async () => {
    await expectError(postJson(classifyUrl, { image_base64: 'this is *not* base64!' }), 400, 'invalid_base64');
    await expectError(postJson(classifyUrl, { image_base64: 'data:image/jpeg,rawbytes' }), 400, 'invalid_base64');
    await expectError(postJson(classifyUrl, { image_path: '/etc/passwd' }), 400, 'files_not_allowed');
    await expectError(postJson(classifyUrl, { image_url: '/etc/passwd' }), 400, 'invalid_url');
  });
});

describe('image URLs (SSRF) with only "localhost" allow-listed', () => {
  test('control: the allow-listed host name is fetched', async () => {
    const result = await json<ClassificationResult>(
      postJson(classifyUrl, { image_url: `http://localhost:${images.port}/shark.jpg`, top_k: 1 }),
    );
    assert.equal(result.answer, 'great white shark');
  });

  test('private, loopback and metadata addresses are refused before connecting: 400 url_not_allowed', async () => {
    const before = images.connections() + (imagesV6?.connections() ?? 0) + (secretV6?.connections() ?? 0);
    const forbidden = [
      `http://127.0.0.1:${images.port}/shark.jpg`,
      `http://[::1]:${secretV6?.port ?? images.port}/`,
      'http://169.254.169.254/latest/meta-data/',
      `http://0x7f000001:${images.port}/shark.jpg`,
      `http://2130706433:${images.port}/shark.jpg`,
      `http://[::ffff:127.0.0.1]:${images.port}/shark.jpg`,
      `http://10.0.0.1/fish.jpg`,
    ];
    for (const url of forbidden) {
      const error = await expectError(postJson(classifyUrl, { image_url: url }), 400, 'url_not_allowed');
      assert.doesNotMatch(error.error.message, /ECONN|getaddrinfo/, url);
    }
    const after = images.connections() + (imagesV6?.connections() ?? 0) + (secretV6?.connections() ?? 0);
    assert.equal(after, before, 'no connection was made to any of them');
  });

  test('a redirect from the allowed host to a private address is refused, and the target never hears of it', async () => {
    await expectError(
      postJson(classifyUrl, { image_url: `http://localhost:${images.port}/to-127-0-0-2` }),
      400,
      'url_not_allowed',
    );
    await expectError(
      postJson(classifyUrl, { image_url: `http://localhost:${images.port}/to-v6` }),
      400,
      'url_not_allowed',
    );
    await expectError(
      postJson(classifyUrl, { image_url: `http://localhost:${images.port}/to-metadata` }),
      400,
      'url_not_allowed',
    );
    assert.ok(images.hits.includes('/to-127-0-0-2'), 'the allowed host was asked');
    assert.equal(secretV4?.connections() ?? 0, 0, '127.0.0.2 was never contacted');
    assert.equal(secretV6?.connections() ?? 0, 0, '::1 was never contacted');
  });

  test('file:// and ftp:// URLs: 400 invalid_url', async () => {
    await expectError(postJson(classifyUrl, { image_url: 'file:///etc/passwd' }), 400, 'invalid_url');
    await expectError(
      postJson(classifyUrl, { image_url: `ftp://127.0.0.1:${images.port}/shark.jpg` }),
      400,
      'invalid_url',
    );
  });
});

describe('isolation', () => {
  test('bad requests sent alongside good ones do not disturb them', async () => {
    const white = marineImage('great_white_shark');
    const bad = [
      postImage(classifyUrl, shark.subarray(0, 5000)),
      postImage(classifyUrl, Buffer.from('nope')),
      postJson(classifyUrl, { image_url: `http://127.0.0.1:${images.port}/shark.jpg` }),
      fetch(classifyUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
      postImage(classifyUrl, Buffer.alloc(0)),
      postJson(classifyUrl, { top_k: 0 }),
    ];
    const good = Array.from({ length: 6 }, () => postImage(`${classifyUrl}?top_k=1`, white.bytes));
    const answers = await Promise.all([...bad, ...good]);
    const statuses = answers.map((r) => r.status);
    assert.deepEqual(statuses.slice(0, 6), [422, 415, 400, 400, 400, 400]);
    assert.ok(
      statuses.every((s) => s < 500),
      'never a 5xx for bad input',
    );
    for (const res of answers.slice(6)) {
      const result = (await res.json()) as ClassificationResult;
      assert.equal(result.top1?.index, white.referenceTop1);
    }
    await Promise.all(answers.slice(0, 6).map((r) => r.arrayBuffer()));
  });

  test('after all of the above the service still answers a good request correctly', async () => {
    await assertStillServes();
    const ready = await fetch(`${service.url}/readyz`);
    assert.equal(ready.status, 200);
    await ready.arrayBuffer();
  });
});
