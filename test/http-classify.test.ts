// POST /classify in its four input forms and options, plus the service endpoints (docs, health,
// metrics, models, page). One service with the real model; all traffic stays on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunningService } from '../src/http/service.ts';
import type { ClassificationResult } from '../src/engine/types.ts';
import {
  SHARK_PHOTO,
  TEST_MODEL,
  expectError,
  sharedPath,
  json,
  postForm,
  postImage,
  postJson,
  startImageServer,
  startTestService,
  type ImageServer,
} from './helpers/http-fixtures.ts';

const shark = readFileSync(SHARK_PHOTO);
const sharkSha256 = createHash('sha256').update(shark).digest('hex');
const PAGE = '<!doctype html><title>test page</title><p>marine classifier test page</p>';

let service: RunningService;
let images: ImageServer;
let webRoot: string;

before(async () => {
  webRoot = mkdtempSync(path.join(tmpdir(), 'http-classify-web-'));
  writeFileSync(path.join(webRoot, 'index.html'), PAGE);
  images = await startImageServer('127.0.0.1');
  service = await startTestService({ urlAllowHosts: ['127.0.0.1'], webRoot, imageRoot: sharedPath('images') });
});

after(async () => {
  await service?.close();
  await images?.close();
  rmSync(webRoot, { recursive: true, force: true });
});

function assertGreatWhite(result: ClassificationResult, topK: number): void {
  assert.equal(result.answer, 'great white shark');
  assert.equal(result.unknown, false);
  assert.equal(result.top1?.index, 2);
  assert.equal(result.top1?.marine?.group, 'shark');
  assert.equal(result.predictions.length, topK);
  assert.equal(result.sha256, sharkSha256);
}

describe('POST /classify', () => {
  test('the original client call: JSON {"image_url": ...} answers like the FastAPI service did', async () => {
    const res = await postJson(`${service.url}/classify`, { image_url: images.url('/shark.jpg') });
    const result = await json<ClassificationResult>(res);
    assertGreatWhite(result, 5);
    assert.equal(result.top1?.marine?.scientific_name, 'Carcharodon carcharias');
    assert.equal(result.model, 'mobilenetv2-12-int8');
    assert.deepEqual(
      { width: result.image.width, height: result.image.height, format: result.image.format },
      { width: 3500, height: 2335, format: 'jpeg' },
    );
    for (const key of ['fetch_ms', 'decode_ms', 'queue_ms', 'inference_ms', 'total_ms'] as const) {
      assert.ok(Number.isFinite(result.timings[key]) && result.timings[key] >= 0, key);
    }
    assert.ok(
      result.predictions.every((p, i, all) => i === 0 || all[i - 1].probability >= p.probability),
      'predictions are ranked',
    );
    assert.ok(images.hits.includes('/shark.jpg'), 'the image was fetched from the allow-listed host');
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  test('a client that disconnects cancels the fetch of its image_url', async () => {
    // An image host that sends headers and a few bytes, then holds the rest (the fetch timeout is 15 s).
    let hostClosed: () => void = () => {};
    const hostSawClose = new Promise<void>((resolve) => {
      hostClosed = resolve;
    });
    let requested: () => void = () => {};
    const hostSawRequest = new Promise<void>((resolve) => {
      requested = resolve;
    });
    const host = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(shark.length) });
      res.write(shark.subarray(0, 100));
      req.socket.once('close', hostClosed);
      requested();
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = host.address() as AddressInfo;
      const client = httpRequest(`${service.url}/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      client.on('error', () => {});
      client.end(JSON.stringify({ image_url: `http://127.0.0.1:${port}/slow.jpg` }));
      await hostSawRequest;
      const goneAt = performance.now();
      client.destroy();
      const within = new Promise<'timeout'>((resolve) => setTimeout(resolve, 2000, 'timeout').unref());
      assert.notEqual(await Promise.race([hostSawClose, within]), 'timeout', 'the image fetch still runs after 2 s');
      assert.ok(performance.now() - goneAt < 2000);
    } finally {
      host.closeAllConnections();
      await new Promise<void>((resolve) => host.close(() => resolve()));
    }
  });

  test('multipart upload (field "file" or "image") with top_k=3 as a form field', async () => {
    for (const field of ['file', 'image']) {
      const result = await json<ClassificationResult>(
        postForm(`${service.url}/classify`, [{ field, name: 'shark.jpg', bytes: shark }], { top_k: '3' }),
      );
      assertGreatWhite(result, 3);
    }
  });

  test('raw body: image/jpeg with options in the query, and application/octet-stream', async () => {
    assertGreatWhite(await json<ClassificationResult>(postImage(`${service.url}/classify?top_k=3`, shark)), 3);
    const marine = await json<ClassificationResult>(
      postImage(`${service.url}/classify?marine_only=true&top_k=10`, shark, 'application/octet-stream'),
    );
    assert.equal(marine.predictions.length, 10);
    assert.ok(
      marine.predictions.every((p) => p.marine !== null),
      'marine_only ranks only marine classes',
    );
    assert.ok(
      Math.abs(marine.predictions.reduce((s, p) => s + p.probability, 0) - 1) < 0.05,
      'renormalized over marine classes',
    );
  });

  test('base64 JSON (with a data: URL prefix); min_score 0.999 makes the answer "unknown"', async () => {
    const plain = await json<ClassificationResult>(
      postJson(`${service.url}/classify`, { image_base64: shark.toString('base64'), top_k: 1 }),
    );
    assertGreatWhite(plain, 1);
    const unsure = await json<ClassificationResult>(
      postJson(`${service.url}/classify`, {
        image_base64: `data:image/jpeg;base64,${shark.toString('base64')}`,
        min_score: 0.999,
        marine_only: false,
      }),
    );
    assert.equal(unsure.answer, 'unknown');
    assert.equal(unsure.unknown, true);
    assert.equal(unsure.top1, null);
    assert.equal(unsure.predictions[0].label, 'great white shark', 'predictions are still reported');
  });

  test('image_path reads files inside IMAGE_ROOT only', async () => {
    const result = await json<ClassificationResult>(
      postJson(`${service.url}/classify`, { image_path: 'photos/test_image_shark.jpg', top_k: 2 }),
    );
    assertGreatWhite(result, 2);
    await expectError(
      postJson(`${service.url}/classify`, { image_path: '../models/mobilenetv2-12-int8.onnx' }),
      403,
      'path_not_allowed',
    );
    await expectError(
      postJson(`${service.url}/classify`, { image_path: SHARK_PHOTO.replace('/images/', '/reference/') }),
      403,
      'path_not_allowed',
    );
    await expectError(
      postJson(`${service.url}/classify`, { image_path: 'photos/no_such_photo.jpg' }),
      404,
      'file_not_found',
    );
  });

  test('an incoming X-Request-Id is used for the request and echoed, also in error bodies', async () => {
    const ok = await postImage(`${service.url}/classify?top_k=1`, shark, 'image/jpeg', {
      'x-request-id': 'survey-42.upload-7',
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-request-id'), 'survey-42.upload-7');
    await ok.arrayBuffer();
    const bad = await expectError(
      postJson(`${service.url}/classify`, {}, { 'x-request-id': 'survey-42.upload-8' }),
      400,
      'missing_image',
    );
    assert.equal(bad.request_id, 'survey-42.upload-8');
    // Not a token: replaced rather than written into the logs as is.
    const odd = await fetch(`${service.url}/healthz`, { headers: { 'x-request-id': 'a b\tc' } });
    assert.match(odd.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });
});

describe('service endpoints', () => {
  test('/docs serves Swagger UI from the service itself, /openapi.json documents /classify', async () => {
    const docs = await fetch(`${service.url}/docs`);
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-type') ?? '', /text\/html/);
    const html = await docs.text();
    assert.match(html, /swagger-ui/i);
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)[^"']*\.(js|css)/, 'no assets from a CDN');
    const asset = await fetch(`${service.url}/docs/static/swagger-ui-bundle.js`);
    assert.equal(asset.status, 200);
    await asset.arrayBuffer();

    const doc = await json<{
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }
        >
      >;
    }>(fetch(`${service.url}/openapi.json`));
    assert.match(doc.openapi, /^3\./);
    const classify = doc.paths['/classify']?.post;
    assert.ok(classify, '/classify is documented');
    const content = classify.requestBody!.content;
    assert.deepEqual(Object.keys(content['application/json'].schema.properties ?? {}).sort(), [
      'class_set',
      'class_threshold',
      'image_base64',
      'image_path',
      'image_url',
      'marine_only',
      'min_score',
      'top_k',
    ]);
    assert.ok(
      content['multipart/form-data'] && content['image/*'] && content['application/octet-stream'],
      'every accepted body type is documented',
    );
    for (const p of ['/jobs', '/jobs/{id}', '/healthz', '/readyz', '/metrics', '/models'])
      assert.ok(doc.paths[p], `${p} is documented`);
  });

  test('/healthz and /readyz', async () => {
    assert.deepEqual(await json(fetch(`${service.url}/healthz`)), { status: 'ok' });
    const ready = await json<{ status: string; model: string; queue: { workers: number } }>(
      fetch(`${service.url}/readyz`),
    );
    assert.equal(ready.status, 'ready');
    assert.equal(ready.model, 'mobilenetv2-12-int8');
    assert.ok(ready.queue.workers >= 1);
  });

  test('/metrics has request, image, batch, queue and model metrics after a request', async () => {
    await json(postImage(`${service.url}/classify?top_k=1`, shark));
    await expectError(postImage(`${service.url}/classify`, Buffer.from('not an image at all')), 415, 'not_an_image');
    const res = await fetch(`${service.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /^http_requests_total\{method="POST",route="\/classify",status_code="200"\} \d+/m);
    assert.match(text, /^http_requests_total\{method="POST",route="\/classify",status_code="415"\} \d+/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="[\d.]+",method="POST",route="\/classify"\} \d+/m);
    assert.match(text, /^classifier_images_total\{outcome="succeeded",code=""\} \d+/m);
    assert.match(text, /^classifier_images_total\{outcome="failed",code="not_an_image"\} 1$/m);
    assert.match(text, /^classifier_batch_size_count [1-9]\d*/m);
    assert.match(text, /^classifier_inference_seconds_count [1-9]\d*/m);
    assert.match(text, /^classifier_image_phase_seconds_count\{phase="decode"\} [1-9]\d*/m);
    assert.match(text, /^job_queue_jobs\{state="waiting"\} 0/m);
    assert.match(text, /^classifier_in_flight_images 0/m);
    assert.match(text, /^classifier_decoding_pixels 0/m);
    assert.match(text, /^classifier_decoding_waiting_images 0/m);
    assert.ok(text.includes(`classifier_model_info{id="mobilenetv2-12-int8",path="${TEST_MODEL}"} 1`));
    // The model's threads were found: they have used CPU (warm-up, the request), and less than the whole process.
    const modelCpu = Number(/^classifier_inference_cpu_seconds_total ([\d.e+-]+)$/m.exec(text)?.[1]);
    const processCpu = Number(/^process_cpu_seconds_total ([\d.e+-]+)$/m.exec(text)?.[1]);
    assert.ok(modelCpu > 0 && modelCpu < processCpu, `model ${modelCpu} s of process ${processCpu} s`);
  });

  test('/models lists the loaded model and the catalogue', async () => {
    const models = await json<{
      model: { id: string; path: string; signature: { classes: number; size: number }; catalogue: unknown };
      catalogue: { id: string; sha256: string }[];
    }>(fetch(`${service.url}/models`));
    assert.equal(models.model.id, 'mobilenetv2-12-int8');
    assert.equal(models.model.path, TEST_MODEL);
    assert.equal(models.model.signature.classes, 1000);
    assert.equal(models.model.signature.size, 224);
    assert.equal(models.model.catalogue, null, 'a MODEL_PATH file is not a catalogue download');
    assert.deepEqual(models.catalogue.map((m) => m.id).sort(), [
      'mobilenetv2-12',
      'mobilenetv2-12-int8',
      'resnet50-v1-12',
      'resnet50-v1-12-int8',
      'resnet50-v2-7',
    ]);
    assert.ok(models.catalogue.every((m) => /^[0-9a-f]{64}$/.test(m.sha256)));
  });

  test('the page folder is served at /, unknown routes answer not_found in the error shape', async () => {
    const page = await fetch(`${service.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(await page.text(), PAGE);
    await expectError(fetch(`${service.url}/no/such/thing`), 404, 'not_found');
    await expectError(fetch(`${service.url}/classify`), 404, 'not_found');
  });
});
