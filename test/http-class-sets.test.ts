/**
 * Custom classes over HTTP, in-process: a set made empty, photos of three reef-fish species added
 * as a multipart upload, listed, shown and evaluated, then a held-out photo classified with
 * class_set; bad input and API keys; large uploads as a job with progress. Real model, real
 * server, real SQLite in a temporary DATA_DIR.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { openClassSetStore } from '../src/classes/index.ts';
import type { RunningService } from '../src/http/service.ts';
import {
  expectError,
  json,
  pollJob,
  postForm,
  postImage,
  postJson,
  sharedPath,
  startTestService,
} from './helpers/http-fixtures.ts';

const FISH = sharedPath('fewshot', 'fish4knowledge');
const SPECIES = ['Amphiprion_clarkii', 'Chaetodon_trifascialis', 'Dascyllus_reticulatus'];
const TEACH = 5;
const KEY = 'test-key-class-sets';
const AUTH = { authorization: `Bearer ${KEY}` };

function photos(species: string): { name: string; bytes: Buffer }[] {
  const dir = path.join(FISH, species);
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: readFileSync(path.join(dir, name)) }));
}

let service: RunningService;
let dataDir: string;
const url = (p: string) => `${service.url}${p}`;

interface SetView {
  name: string;
  model: { id: string; sha256: string } | null;
  dim: number | null;
  labels: { label: string; count: number }[];
  examples: number;
}

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'class-sets-http-'));
  service = await startTestService({ dataDir, apiKeys: [KEY] });
});

after(async () => {
  await service?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('teach a set over HTTP and classify a held-out photo with it', async () => {
  const created = await json<{ set: SetView }>(postJson(url('/class-sets'), { name: 'reef' }, AUTH), 201);
  assert.equal(created.set.name, 'reef');
  assert.equal(created.set.model, null, 'no model until the first photo');
  assert.equal(created.set.examples, 0);
  await expectError(postJson(url('/class-sets'), { name: 'reef' }, AUTH), 409, 'class_set_exists');
  await expectError(postJson(url('/class-sets'), { name: 'Reef Fish' }, AUTH), 400, 'invalid_class_set_name');

  // One form: label, its photos, next label, its photos; a text file and a repeated photo among them.
  const form = new FormData();
  for (const species of SPECIES) {
    form.append('label', species);
    for (const photo of photos(species).slice(0, TEACH))
      form.append('file', new Blob([new Uint8Array(photo.bytes)], { type: 'image/png' }), photo.name);
  }
  form.append('file', new Blob(['not a photo at all']), 'notes.txt');
  const again = photos(SPECIES[0])[0];
  form.append('file', new Blob([new Uint8Array(again.bytes)], { type: 'image/png' }), `copy-${again.name}`);
  const added = await json<{
    added: number;
    duplicates: { source: string; label: string; existing_label: string }[];
    skipped: { source: string; error: { code: string } }[];
    set: SetView;
  }>(fetch(url('/class-sets/reef/examples'), { method: 'POST', body: form, headers: AUTH }));
  assert.equal(added.added, SPECIES.length * TEACH);
  assert.deepEqual(
    added.skipped.map((s) => s.source),
    ['notes.txt'],
  );
  assert.equal(added.skipped[0].error.code, 'not_an_image');
  assert.deepEqual(added.duplicates, [{ source: `copy-${again.name}`, label: SPECIES[2], existing_label: SPECIES[0] }]);
  assert.equal(added.set.examples, SPECIES.length * TEACH);
  assert.equal(added.set.model?.id, 'mobilenetv2-12-int8');
  assert.equal(added.set.dim, 1280);
  assert.deepEqual(
    added.set.labels,
    SPECIES.map((label) => ({ label, count: TEACH })),
  );

  const list = await json<{ sets: SetView[] }>(fetch(url('/class-sets'), { headers: AUTH }));
  assert.deepEqual(
    list.sets.map((s) => [s.name, s.examples]),
    [['reef', SPECIES.length * TEACH]],
  );
  const shown = await json<{ set: SetView; evaluation: null }>(fetch(url('/class-sets/reef'), { headers: AUTH }));
  assert.equal(shown.evaluation, null);
  const evaluated = await json<{
    evaluation: {
      method: string;
      top1: number;
      labels: { label: string; count: number; recall: number }[];
      confusion: { labels: string[]; matrix: number[][] };
    };
  }>(fetch(url('/class-sets/reef?evaluate=true'), { headers: AUTH }));
  assert.equal(evaluated.evaluation.method, 'splits');
  assert.deepEqual(evaluated.evaluation.confusion.labels, SPECIES);
  assert.equal(evaluated.evaluation.confusion.matrix.length, SPECIES.length);
  assert.ok(evaluated.evaluation.top1 > 0.5, `top-1 on its own photos ${evaluated.evaluation.top1}`);

  // Held-out photos (not among the taught ones), each species through /classify with class_set.
  for (const species of SPECIES) {
    const held = photos(species)[TEACH + 2];
    const result = await json<{ answer: string; custom: { set: string; label: string; top: unknown[] } }>(
      postImage(url('/classify?class_set=reef'), held.bytes, 'image/png', AUTH),
    );
    assert.equal(result.custom.set, 'reef');
    assert.equal(result.custom.label, species, `${species}/${held.name}`);
    assert.equal(result.answer, species);
    assert.equal(result.custom.top.length, 3);
  }
  // A threshold no photo reaches: unknown, with the ImageNet answer still beside it.
  const strict = await json<{ answer: string; custom: { unknown: boolean }; predictions: unknown[] }>(
    postJson(
      url('/classify'),
      {
        image_base64: photos(SPECIES[0])[TEACH + 3].bytes.toString('base64'),
        class_set: 'reef',
        class_threshold: 0.999,
      },
      AUTH,
    ),
  );
  assert.equal(strict.answer, 'unknown');
  assert.equal(strict.custom.unknown, true);
  assert.ok(strict.predictions.length > 0);

  // The set's own threshold, changed after it was made: every answer follows it until it is cleared.
  const heldBack = photos(SPECIES[0])[TEACH + 2].bytes;
  const patch = (threshold: number | null) =>
    fetch(url('/class-sets/reef'), {
      method: 'PATCH',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ threshold }),
    });
  const raised = await json<{ set: { threshold: number | null } }>(patch(0.999));
  assert.equal(raised.set.threshold, 0.999);
  const refused = await json<{ answer: string; custom: { unknown: boolean; threshold: number } }>(
    postImage(url('/classify?class_set=reef'), heldBack, 'image/png', AUTH),
  );
  assert.equal(refused.answer, 'unknown');
  assert.equal(refused.custom.threshold, 0.999);
  const cleared = await json<{ set: { threshold: number | null } }>(patch(null));
  assert.equal(cleared.set.threshold, null);
  const calibrated = await json<{ answer: string; custom: { threshold: number } }>(
    postImage(url('/classify?class_set=reef'), heldBack, 'image/png', AUTH),
  );
  assert.equal(calibrated.answer, SPECIES[0]);
  assert.ok(calibrated.custom.threshold < 0.999, `calibrated threshold ${calibrated.custom.threshold}`);
  await expectError(patch(2), 400, 'invalid_request');

  // POST /jobs carries the set by name and resolves it where the job runs.
  const accepted = await json<{ id: string; status_url: string }>(
    postForm(
      url('/jobs'),
      [{ name: 'a.png', bytes: photos(SPECIES[1])[TEACH + 2].bytes }],
      { class_set: 'reef' },
      AUTH,
    ),
    202,
  );
  const job = await pollJob<{ status: string; result: { custom: { label: string } } }>(url(accepted.status_url), AUTH);
  assert.equal(job.status, 'succeeded');
  assert.equal(job.result.custom.label, SPECIES[1]);
});

test('bad input: unknown set 404, bad label 400, a file before any label 400', async () => {
  const photo = photos(SPECIES[0])[0];
  await expectError(
    postImage(url('/classify?class_set=nope'), photo.bytes, 'image/png', AUTH),
    404,
    'class_set_not_found',
  );
  await expectError(fetch(url('/class-sets/nope'), { headers: AUTH }), 404, 'class_set_not_found');
  await expectError(
    postForm(url('/class-sets/nope/examples'), [{ name: 'a.png', bytes: photo.bytes }], { label: 'x' }, AUTH),
    404,
    'class_set_not_found',
  );
  await json(postJson(url('/class-sets'), { name: 'bad-input' }, AUTH), 201);
  for (const label of ['a/b', '..', 'x'.repeat(300), 'tab\there', 'unknown'])
    await expectError(
      postForm(url('/class-sets/bad-input/examples'), [{ name: 'a.png', bytes: photo.bytes }], { label }, AUTH),
      400,
      'invalid_label',
    );
  await expectError(
    postForm(url('/class-sets/bad-input/examples'), [{ name: 'a.png', bytes: photo.bytes }], {}, AUTH),
    400,
    'invalid_request',
  );
  const unchanged = await json<{ set: SetView }>(fetch(url('/class-sets/bad-input'), { headers: AUTH }));
  assert.equal(unchanged.set.examples, 0, 'nothing half-written');
  await expectError(
    postImage(url('/classify?class_set=bad-input'), photo.bytes, 'image/png', AUTH),
    409,
    'class_set_empty',
  );
  await expectError(fetch(url('/class-sets/bad-input?evaluate=true'), { headers: AUTH }), 409, 'class_set_empty');

  // A set another model made (written straight into the same DATA_DIR, as `classes import` would).
  const store = openClassSetStore({ dataDir });
  try {
    const vector = new Float32Array(1280);
    vector[0] = 1;
    await store.create({
      name: 'other-model',
      model: { id: 'resnet50-v1-12', sha256: 'a'.repeat(64) },
      dim: 1280,
      examples: [{ label: 'x', vector, sha256: 'b'.repeat(64), source: 'x.jpg' }],
    });
  } finally {
    await store.close();
  }
  const mismatch = await expectError(
    postImage(url('/classify?class_set=other-model'), photo.bytes, 'image/png', AUTH),
    409,
    'class_set_model_mismatch',
  );
  assert.match(mismatch.error.message, /resnet50-v1-12/);
  await expectError(
    postForm(url('/class-sets/other-model/examples'), [{ name: 'a.png', bytes: photo.bytes }], { label: 'x' }, AUTH),
    409,
    'class_set_model_mismatch',
  );
});

test('API keys: every class-set route needs one', async () => {
  await expectError(postJson(url('/class-sets'), { name: 'keyless' }), 401, 'unauthorized');
  await expectError(fetch(url('/class-sets/reef'), { method: 'DELETE' }), 401, 'unauthorized');
  await expectError(fetch(url('/class-sets')), 401, 'unauthorized');
  await expectError(
    postJson(url('/class-sets'), { name: 'keyless' }, { authorization: 'Bearer wrong' }),
    401,
    'unauthorized',
  );
});

test('a large upload runs as a job with progress; labels and sets are removed', async () => {
  await json(postJson(url('/class-sets'), { name: 'big' }, AUTH), 201);
  const examples = SPECIES.slice(0, 2).flatMap((species) =>
    photos(species)
      .slice(0, 4)
      .map((p) => ({ label: species, image_base64: p.bytes.toString('base64') })),
  );
  const accepted = await json<{ job_id: string; status_url: string }>(
    postJson(url('/class-sets/big/examples?async=true'), { examples }, AUTH),
    202,
  );
  const job = await pollJob<{
    status: string;
    kind: string;
    progress: { done: number; failed: number; total: number };
    result: { added: number; set: SetView };
  }>(url(accepted.status_url), AUTH);
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  assert.equal(job.kind, 'examples');
  assert.deepEqual(job.progress, { done: 8, failed: 0, total: 8 });
  assert.equal(job.result.added, 8);
  assert.equal(job.result.set.examples, 8);

  // A job none of whose files is a photo has failed, with the first file's error.
  const junk = await json<{ status_url: string }>(
    postJson(
      url('/class-sets/big/examples?async=true'),
      { examples: [{ label: 'x', image_base64: Buffer.from('just text').toString('base64') }] },
      AUTH,
    ),
    202,
  );
  const failed = await pollJob<{ status: string; error: { code: string } }>(url(junk.status_url), AUTH);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.code, 'not_an_image');

  const removed = await json<{ set: SetView }>(
    fetch(url(`/class-sets/big/labels/${SPECIES[0]}`), { method: 'DELETE', headers: AUTH }),
  );
  assert.deepEqual(removed.set.labels, [{ label: SPECIES[1], count: 4 }]);
  await expectError(
    fetch(url(`/class-sets/big/labels/${SPECIES[0]}`), { method: 'DELETE', headers: AUTH }),
    404,
    'label_not_found',
  );
  const gone = await fetch(url('/class-sets/big'), { method: 'DELETE', headers: AUTH });
  assert.equal(gone.status, 204);
  await expectError(fetch(url('/class-sets/big'), { headers: AUTH }), 404, 'class_set_not_found');
});

test('the OpenAPI document has the class-set routes and options', async () => {
  const doc = await json<{ paths: Record<string, Record<string, { tags?: string[] }>> }>(fetch(url('/openapi.json')));
  for (const [p, method] of [
    ['/class-sets', 'post'],
    ['/class-sets', 'get'],
    ['/class-sets/{name}', 'get'],
    ['/class-sets/{name}', 'delete'],
    ['/class-sets/{name}', 'patch'],
    ['/class-sets/{name}/examples', 'post'],
    ['/class-sets/{name}/labels/{label}', 'delete'],
  ])
    assert.deepEqual(doc.paths[p]?.[method]?.tags, ['class-sets'], `${method} ${p}`);
  assert.match(JSON.stringify(doc.paths['/classify']), /class_set/);
  assert.match(JSON.stringify(doc.paths['/jobs']), /class_threshold/);
});

test('the answers match the schemas the OpenAPI document declares', async () => {
  const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
  const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
  const doc = await json<{
    paths: Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
    >;
  }>(fetch(url('/openapi.json')));
  const conforms = async (method: string, route: string, response: Promise<Response>, status: number) => {
    const res = await response;
    const text = await res.text();
    assert.equal(res.status, status, text);
    const responses = doc.paths[route][method].responses;
    const schema = (responses[String(status)] ?? responses[`${String(status)[0]}XX`]).content?.['application/json']
      ?.schema;
    assert.ok(schema, `${method} ${route} ${status} declares no JSON body`);
    const validate = ajv.compile(schema);
    assert.ok(validate(JSON.parse(text)), `${method} ${route} ${status}: ${ajv.errorsText(validate.errors)}\n${text}`);
    return JSON.parse(text);
  };
  await conforms('post', '/class-sets', postJson(url('/class-sets'), { name: 'contract' }, AUTH), 201);
  await conforms('post', '/class-sets', postJson(url('/class-sets'), { name: 'contract' }, AUTH), 409);
  const two = SPECIES.slice(0, 2).flatMap((label) =>
    photos(label)
      .slice(0, 2)
      .map((p) => ({ label, image_base64: p.bytes.toString('base64') })),
  );
  await conforms(
    'post',
    '/class-sets/{name}/examples',
    postJson(url('/class-sets/contract/examples'), { examples: two }, AUTH),
    200,
  );
  const accepted = await conforms(
    'post',
    '/class-sets/{name}/examples',
    postJson(url('/class-sets/contract/examples?async=true'), { examples: two }, AUTH),
    202,
  );
  await pollJob(url(accepted.status_url), AUTH);
  await conforms('get', '/jobs/{id}', fetch(url(accepted.status_url), { headers: AUTH }), 200);
  await conforms('get', '/class-sets', fetch(url('/class-sets'), { headers: AUTH }), 200);
  await conforms('get', '/class-sets/{name}', fetch(url('/class-sets/contract?evaluate=true'), { headers: AUTH }), 200);
  await conforms('get', '/class-sets/{name}', fetch(url('/class-sets/none'), { headers: AUTH }), 404);
  await conforms(
    'post',
    '/classify',
    postImage(url('/classify?class_set=contract'), photos(SPECIES[0])[9].bytes, 'image/png', AUTH),
    200,
  );
  await conforms(
    'delete',
    '/class-sets/{name}/labels/{label}',
    fetch(url(`/class-sets/contract/labels/${SPECIES[0]}`), { method: 'DELETE', headers: AUTH }),
    200,
  );
});
