/**
 * The page's Teach panel in a real browser against the real service, the real model and a real
 * class-set store (SQLite in a fresh DATA_DIR): name a set, give it a folder of two reef-fish
 * species from the shared few-shot photos, drop one more photo onto a label, evaluate, classify
 * held-out photos with the set, download the CSV, then delete a label and the set. With API keys:
 * the key is asked for on the first teaching action; photos added to a typed label; a folder
 * dragged in through Chromium's own drag and drop (DataTransfer entries).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { csvColumns, csvRow, type ImageReport } from '../src/cli/report-rows.ts';
import type { ClassificationResult } from '../src/engine/types.ts';
import { serviceConfig, startService, type RunningService } from '../src/http/index.ts';
import { REPO_ROOT, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts');
const FISH = sharedPath('fewshot', 'fish4knowledge');
/** Two species the shared MobileNetV2's features tell apart from four photos each. */
const SPECIES = ['Chaetodon_lunulatus', 'Myripristis_kuntee'] as const;
const SET = 'reef-test';

/** web/report.js and web/class-sets.js are plain JavaScript for the browser; typed here by hand. */
interface WebReport {
  csvColumns(topK: number, customTopK?: number): string[];
  csvRow(report: ImageReport, topK: number, customTopK?: number): string[];
  toCsv(reports: ImageReport[], topK: number, customTopK?: number): string;
}
interface WebClassSets {
  examplesFromFolder(files: { file: { name: string }; path: string }[]): {
    examples: { label: string; file: { name: string } }[];
    ignored: number;
  };
}

let service: RunningService;
/** The same classifier and store, but API keys required. */
let guarded: RunningService;
const API_KEY = 'reef-teach-key';
let browser: Browser;
let tmp: string;
/** Sorted photo files of each species: the first 4 teach, the 5th is dropped on its label, later ones are held out. */
const photos: Record<string, string[]> = {};
const pageErrors: string[] = [];
const offLoopback: string[] = [];

async function openPage(
  contextOptions: Parameters<Browser['newContext']>[0] = {},
  base = service.url,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    ...contextOptions,
  });
  await context.route(
    (url) =>
      !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) &&
      !['blob:', 'data:', 'about:'].includes(url.protocol),
    (route) => {
      offLoopback.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // Deleting asks first; the test says yes.
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${base}/`);
  return { context, page };
}

async function text(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').trim();
}

function labelRow(page: Page, label: string): Locator {
  return page.locator('.teach-label', { has: page.locator('.teach-label-name', { hasText: label }) });
}

/** Drops a photo onto a label's row, as dragging it there from a file manager does. */
async function dropOnLabel(page: Page, label: string, file: string): Promise<void> {
  const photo = { name: path.basename(file), b64: (await readFile(file)).toString('base64') };
  await labelRow(page, label).evaluate((row, { name, b64 }) => {
    const drop = new DataTransfer();
    drop.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/png' }));
    row.dispatchEvent(new DragEvent('dragover', { dataTransfer: drop, bubbles: true, cancelable: true }));
    row.dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
  }, photo);
}

function card(page: Page, fileName: string): Locator {
  return page.locator('.card', { has: page.locator('.file-name', { hasText: fileName }) });
}

async function downloadText(page: Page, button: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return readFile(await download.path(), 'utf8');
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'marine-web-teach-'));
  // A fresh store for this file's sets (the settings table's DATA_DIR, read when the service starts).
  process.env.DATA_DIR = path.join(tmp, 'data');
  // The folder a user would pick: one sub-folder per species (copies of 4 photos each) and a stray note.
  for (const species of SPECIES) {
    photos[species] = (await readdir(path.join(FISH, species))).sort().map((f) => path.join(FISH, species, f));
    await mkdir(path.join(tmp, 'reef', species), { recursive: true });
    for (const file of photos[species].slice(0, 4))
      await copyFile(file, path.join(tmp, 'reef', species, path.basename(file)));
  }
  await writeFile(path.join(tmp, 'reef', SPECIES[0], 'notes.txt'), 'dive 3, north wall');
  // A second folder, dropped from the file manager in the key test.
  const damsel = path.join(FISH, 'Dascyllus_reticulatus');
  await mkdir(path.join(tmp, 'more', 'Dascyllus_reticulatus'), { recursive: true });
  for (const file of (await readdir(damsel)).sort().slice(0, 2))
    await copyFile(path.join(damsel, file), path.join(tmp, 'more', 'Dascyllus_reticulatus', file));
  await writeFile(path.join(tmp, 'reef', SPECIES[0], 'broken.png'), 'the card was full before this one was written');
  const config = {
    host: '127.0.0.1',
    port: 0,
    logLevel: 'error' as const,
    webRoot: path.join(REPO_ROOT, 'web'),
    apiKeys: [] as string[],
    rateLimitMax: 0,
    engine: { modelPath: TEST_MODEL },
  };
  service = await startService(serviceConfig(config));
  guarded = await startService(serviceConfig({ ...config, apiKeys: [API_KEY] }), {
    classifier: service.engine ?? undefined,
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await guarded?.close();
  await service?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  assert.deepEqual(offLoopback, [], 'the page only talks to loopback');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});

describe('web page: Teach panel', () => {
  test('folders become labels as the CLI makes them, and the CSV has the CLI custom_* columns', async () => {
    const web = (await import(pathToFileURL(path.join(REPO_ROOT, 'web', 'class-sets.js')).href)) as WebClassSets;
    const file = (name: string) => ({ name });
    const { examples, ignored } = web.examplesFromFolder([
      { file: file('a.png'), path: 'reef/Chromis chrysura/a.png' },
      { file: file('b.png'), path: 'reef/Chromis chrysura/2019/b.png' },
      { file: file('c.png'), path: 'reef/Amphiprion/c.png' },
      { file: file('loose.png'), path: 'reef/loose.png' },
      { file: file('d.png'), path: 'Dascyllus/d.png' },
    ]);
    assert.deepEqual(
      examples.map((e) => `${e.label}:${e.file.name}`),
      ['Chromis chrysura:a.png', 'Chromis chrysura:b.png', 'Amphiprion:c.png', 'Dascyllus:d.png'],
      'each sub-folder is a label (photos at any depth); a folder without sub-folders is one label',
    );
    assert.equal(ignored, 1, 'a photo beside the sub-folders has no label');

    const report = (await import(pathToFileURL(path.join(REPO_ROOT, 'web', 'report.js')).href)) as WebReport;
    const result = {
      top1: null,
      answer: 'Chromis, "blue"',
      unknown: false,
      predictions: [{ index: 1, synset: 'n1', label: 'goldfish', probability: 0.5, marine: null }],
      image: { width: 1, height: 2, format: 'png', taken_at: null, latitude: null, longitude: null },
      model: 'm',
      timings: { fetch_ms: 0, decode_ms: 0, queue_ms: 0, inference_ms: 0, total_ms: 0 },
      sha256: 'ab',
      custom: {
        set: 'reef',
        label: 'Chromis, "blue"',
        unknown: false,
        similarity: 0.8123456,
        threshold: 0.6,
        top: [
          { label: 'Chromis, "blue"', similarity: 0.8123456, score: 0.9 },
          { label: 'Amphiprion', similarity: 0.5, score: 0.1 },
        ],
      },
    } as ClassificationResult;
    const reports: ImageReport[] = [
      { path: 'a.png', result },
      { path: 'b.png', result: { ...result, custom: undefined } },
      { path: 'c.png', error: { code: 'not_an_image', message: 'no' } as ImageReport['error'] },
    ];
    for (const [topK, customTopK] of [
      [3, 3],
      [1, 0],
    ]) {
      assert.deepEqual(report.csvColumns(topK, customTopK), csvColumns(topK, customTopK));
      for (const r of reports) assert.deepEqual(report.csvRow(r, topK, customTopK), csvRow(r, topK, customTopK));
      assert.equal(
        report.toCsv(reports, topK, customTopK),
        stringifyCsv([csvColumns(topK, customTopK), ...reports.map((r) => csvRow(r, topK, customTopK))]),
      );
    }
  });

  test('teach two species, see counts and thumbnails, evaluate, classify held-out photos with the set, delete', {
    timeout: 90_000,
  }, async () => {
    const { context, page } = await openPage();
    const [fish, soldier] = SPECIES;

    // Name the set.
    await page.getByLabel('Name a new class set').fill(SET);
    await page.getByRole('button', { name: 'Create set' }).click();
    await page.locator('#teach-body').waitFor({ state: 'visible' });
    assert.equal(await page.getByLabel('Class set to teach').inputValue(), SET);
    assert.equal(await text(page.locator('#teach-summary')), '0 labels · 0 photos');

    // The same name again: the API's own message, beside the form that caused it.
    await page.getByLabel('Name a new class set').fill(SET);
    await page.getByRole('button', { name: 'Create set' }).click();
    await page.locator('#teach-create-error').filter({ hasText: /\S/ }).waitFor();
    assert.match(await text(page.locator('#teach-create-error')), /exists already/);
    assert.equal(await page.getByLabel('Name a new class set').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Name a new class set').fill('');
    assert.equal(await text(page.locator('#teach-create-error')), '', 'the error goes once the field is edited');

    // A folder with one sub-folder per species (what "Choose a folder…" gives the page).
    const uploads: string[] = [];
    const polls: string[] = [];
    page.on('request', (r) => {
      const { pathname } = new URL(r.url());
      if (r.method() === 'POST' && pathname === `/class-sets/${SET}/examples`)
        uploads.push(r.postDataBuffer()?.toString('latin1') ?? '');
      if (r.method() === 'GET' && pathname.startsWith('/jobs/')) polls.push(pathname);
    });
    const teachStart = Date.now();
    const progressShown = page.locator('#teach-progress').waitFor({ state: 'visible' });
    await page.setInputFiles('#teach-folder-input', path.join(tmp, 'reef'));
    await progressShown;
    await page.locator('#teach-upload-status', { hasText: /^Added/ }).waitFor({ timeout: 30_000 });
    const teachMs = Date.now() - teachStart;
    assert.match(await text(page.locator('#teach-upload-status')), /^Added 8 photos\. Skipped 2: broken\.png: \S.+/);
    assert.ok(await page.locator('#teach-progress').isHidden(), 'the progress bar goes once the upload is done');
    assert.ok(uploads.length >= 1);
    assert.ok(polls.length >= 1, 'the upload ran as a job, followed on /jobs/{id}');
    const form = uploads.join('');
    for (const species of SPECIES) assert.match(form, new RegExp(`name="label"\\r\\n\\r\\n${species}\\r\\n`));
    assert.doesNotMatch(form, /notes\.txt/, 'a file that is not a photo is not sent');

    assert.equal(await page.locator('.teach-label').count(), 2);
    for (const species of SPECIES) {
      const row = labelRow(page, species);
      assert.equal(await text(row.locator('.teach-count')), '4 photos');
      const thumbs = row.locator('.teach-thumbs img');
      assert.equal(await thumbs.count(), 4, 'thumbnails of the photos the user gave');
      assert.match((await thumbs.first().getAttribute('src')) ?? '', /^blob:/);
    }
    assert.equal(await text(page.locator('#teach-summary')), '2 labels · 8 photos · mobilenetv2-12-int8');

    // A fifth photo dropped onto the soldierfish label.
    await dropOnLabel(page, soldier, photos[soldier][4]);
    await labelRow(page, soldier).locator('.teach-count', { hasText: '5 photos' }).waitFor({ timeout: 20_000 });
    assert.equal(await text(page.locator('#teach-upload-status')), 'Added 1 photo.');
    // The same photo again, onto the other label: counted once, and the page says where it already is.
    await dropOnLabel(page, fish, photos[soldier][4]);
    await page.locator('#teach-upload-status', { hasText: /duplicate/ }).waitFor({ timeout: 20_000 });
    assert.match(
      await text(page.locator('#teach-upload-status')),
      new RegExp(`^Added 0 photos\\. 1 was a duplicate \\(counted once: .+ is already under “${soldier}”\\)\\.$`),
    );
    assert.equal(await text(labelRow(page, fish).locator('.teach-count')), '4 photos');
    assert.equal(await labelRow(page, soldier).locator('.teach-thumbs img').count(), 4, 'at most 4 thumbnails a label');
    assert.equal(await page.locator('.card').count(), 0, 'a photo dropped on the Teach panel is not classified');

    // How good is it?
    const evaluateStart = Date.now();
    await page.getByRole('button', { name: 'Evaluate' }).click();
    const scores = page.locator('.teach-scores');
    await scores.waitFor({ timeout: 30_000 });
    const evaluateMs = Date.now() - evaluateStart;
    assert.match(await text(scores), /Top-1 accuracy\s*\d+\.\d%/);
    assert.match(await text(scores), /Top-3 accuracy\s*\d+\.\d%/);
    const perLabel = page.getByRole('table', { name: 'Per label' });
    assert.equal(await perLabel.locator('tbody tr').count(), 2);
    const confusion = page.getByRole('table', { name: /Confusion matrix/ });
    assert.equal(await confusion.locator('tbody tr').count(), 2);
    assert.deepEqual(await confusion.locator('thead th').allTextContents(), [...SPECIES]);
    const cells = (await confusion.locator('tbody td').allTextContents()).map(Number);
    assert.equal(cells.length, 4);
    assert.ok(cells.every(Number.isInteger) && cells[0] + cells[3] > cells[1] + cells[2], `confusion ${cells}`);

    // Another tab sees the same set and counts, but has none of this tab's photos to show.
    const other = await context.newPage();
    await other.goto(`${service.url}/`);
    await other.getByLabel('Class set to teach').selectOption(SET);
    await labelRow(other, soldier).waitFor();
    assert.equal(await text(labelRow(other, soldier).locator('.teach-count')), '5 photos');
    assert.equal(await other.locator('.teach-label img').count(), 0, 'no thumbnails without local photos');
    await other.close();

    // Classify held-out photos with the set: the custom label first, ImageNet's answer beneath.
    await page.getByRole('button', { name: 'Classify with this set' }).click();
    assert.equal(await page.getByLabel('Your class set').inputValue(), SET);
    const heldOut = [photos[soldier][6], photos[fish][6]];
    const classifyStart = Date.now();
    const [job] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/jobs'),
      page.setInputFiles('#file-input', heldOut),
    ]);
    assert.match(
      job.postDataBuffer()?.toString('latin1') ?? '',
      new RegExp(`name="class_set"\\r\\n\\r\\n${SET}\\r\\n`),
    );
    await page.waitForFunction(
      () => document.getElementById('progress-text')?.textContent?.startsWith('2/2 done'),
      null,
      {
        timeout: 30_000,
      },
    );
    const classifyMs = Date.now() - classifyStart;
    console.log(
      `taught 8 photos in ${teachMs} ms, evaluated in ${evaluateMs} ms, classified 2 held-out photos with the set in ${classifyMs} ms`,
    );
    for (const [file, species] of [
      [heldOut[0], soldier],
      [heldOut[1], fish],
    ]) {
      const c = card(page, path.basename(file));
      assert.equal(await c.getAttribute('data-state'), 'done');
      assert.equal(await text(c.locator('.custom-label')), species, `${path.basename(file)} is ${species}`);
      assert.match(await text(c.locator('.custom-similarity')), /^similarity 0\.\d\d$/);
      assert.match(await text(c.locator('.custom-set')), new RegExp(SET));
      // The ImageNet answer is still there, after the custom one.
      assert.ok((await text(c.locator('.top1'))).length > 0);
      const order = await c.evaluate((el) => {
        const custom = el.querySelector('.custom');
        const imagenet = el.querySelector('.top1');
        return (
          !!custom && !!imagenet && !!(custom.compareDocumentPosition(imagenet) & Node.DOCUMENT_POSITION_FOLLOWING)
        );
      });
      assert.ok(order, 'custom label first, ImageNet beneath');
    }

    // Downloads: the JSON has the custom block, and the CLI's csvRow on it gives the page's CSV byte for byte.
    const records = JSON.parse(await downloadText(page, '#download-json')) as (ClassificationResult & {
      path: string;
      status: string;
    })[];
    const reports: ImageReport[] = records.map(({ path: file, status: _status, ...result }) => ({
      path: file,
      result,
    }));
    assert.ok(reports.every((r) => r.result?.custom?.set === SET));
    const csv = await downloadText(page, '#download-csv');
    assert.equal(csv, stringifyCsv([csvColumns(5, 3), ...reports.map((r) => csvRow(r, 5, 3))]));
    const rows = parseCsv(csv) as string[][];
    assert.equal(rows[1][rows[0].indexOf('custom_label')], soldier);

    // A phone-sized screen: no sideways scrolling of the page (wide tables scroll in their own box).
    await page.setViewportSize({ width: 390, height: 844 });
    const layout = await page.evaluate(() => ({
      viewport: window.innerWidth,
      page: document.documentElement.scrollWidth,
      // What sticks out, outside the tables' own scrolling boxes.
      wide: [...document.querySelectorAll('body *')]
        .filter((el) => !el.closest('.table-scroll') && el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}`)
        .slice(0, 5),
    }));
    assert.ok(
      layout.page <= layout.viewport,
      `page ${layout.page}px wide on a ${layout.viewport}px screen: ${layout.wide}`,
    );

    // The screenshot: the panel with its labels, evaluation, and the cards.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.setViewportSize({
      width: 1280,
      height: await page.evaluate(() => document.documentElement.scrollHeight),
    });
    await page.evaluate(() =>
      Promise.all(
        [...document.querySelectorAll('img')].map((img) =>
          img.naturalWidth > 0 ? img.decode().catch(() => {}) : null,
        ),
      ),
    );
    const shot = path.join(ARTIFACTS, 'web-teach.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    await page.setViewportSize({ width: 1280, height: 900 });

    // Delete a label, then the set.
    await page.getByRole('button', { name: `Delete label ${fish}` }).click();
    await page.locator('.teach-label').nth(1).waitFor({ state: 'detached' });
    assert.equal(await page.locator('.teach-label').count(), 1);
    assert.equal(await text(page.locator('#teach-summary')), '1 label · 5 photos · mobilenetv2-12-int8');
    await page.getByRole('button', { name: 'Delete set' }).click();
    await page.locator('#teach-body').waitFor({ state: 'hidden' });
    assert.equal(await page.getByLabel('Class set to teach').inputValue(), '');
    assert.deepEqual(await page.getByLabel('Your class set').locator('option').allTextContents(), [
      'None: ImageNet only',
    ]);
    await context.close();
  });

  test('with API keys, a teaching action asks for the key, says why beside itself, and works once it is given', async () => {
    const { context, page } = await openPage({}, guarded.url);
    await page.getByRole('heading', { name: 'Teach it your own species' }).waitFor();
    await page.waitForLoadState('networkidle');
    assert.ok(await page.locator('#api-key-form').isHidden(), 'opening the page asks for nothing');
    assert.equal(await text(page.locator('#teach-create-error')), '', 'and shows no error before anything is done');
    await page.getByLabel('Name a new class set').fill('keyed');
    await page.getByRole('button', { name: 'Create set' }).click();
    const keyField = page.getByLabel('API key');
    await keyField.waitFor({ state: 'visible' });
    assert.match(await text(page.locator('#teach-create-error')), /Enter the API key above, then try again\.$/);
    await keyField.fill(API_KEY);
    await keyField.press('Enter');
    const authorised = page.waitForRequest(
      (r) =>
        r.method() === 'POST' && r.url().endsWith('/class-sets') && r.headers().authorization === `Bearer ${API_KEY}`,
    );
    await page.getByRole('button', { name: 'Create set' }).click();
    await authorised;
    await page.locator('#teach-body').waitFor({ state: 'visible' });
    assert.equal(await text(page.locator('#teach-create-error')), '');
    assert.equal(await page.getByLabel('Class set to teach').inputValue(), 'keyed');

    // Photos for a label typed in: the picker opens, the key goes along, and the label appears with its count.
    await page.getByLabel('Or add photos to a label').fill('Amphiprion clarkii');
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      page.getByRole('button', { name: 'Choose photos…' }).click(),
    ]);
    const clownfish = (await readdir(path.join(FISH, 'Amphiprion_clarkii'))).sort().slice(0, 2);
    const [upload] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && r.url().includes('/class-sets/keyed/examples')),
      chooser.setFiles(clownfish.map((f) => path.join(FISH, 'Amphiprion_clarkii', f))),
    ]);
    assert.equal(upload.headers().authorization, `Bearer ${API_KEY}`);
    await labelRow(page, 'Amphiprion clarkii').locator('.teach-count', { hasText: '2 photos' }).waitFor();
    assert.equal(await labelRow(page, 'Amphiprion clarkii').locator('.teach-thumbs img').count(), 2);

    // A folder dragged from the file manager onto the drop zone (Chromium's own drag and drop, so the
    // page reads it through DataTransfer entries): its sub-folder becomes a label.
    const zone = await page.locator('#teach-drop').boundingBox();
    assert.ok(zone);
    const cdp = await context.newCDPSession(page);
    const data = { items: [], files: [path.join(tmp, 'more')], dragOperationsMask: 1 };
    for (const type of ['dragEnter', 'dragOver', 'drop'] as const)
      await cdp.send('Input.dispatchDragEvent', {
        type,
        x: zone.x + zone.width / 2,
        y: zone.y + zone.height / 2,
        data,
      });
    await labelRow(page, 'Dascyllus_reticulatus').locator('.teach-count', { hasText: '2 photos' }).waitFor();
    assert.equal(await text(page.locator('#teach-summary')), '2 labels · 4 photos · mobilenetv2-12-int8');
    assert.equal(await page.locator('.card').count(), 0, 'nothing dropped on the Teach panel is classified');
    await page.getByRole('button', { name: 'Delete set' }).click();
    await page.locator('#teach-body').waitFor({ state: 'hidden' });
    await context.close();
  });
});
