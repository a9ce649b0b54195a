/**
 * The page's survey downloads (web/survey-export.js) in Debian's Chromium against the real service
 * and model: two shared photos classified on the page, then the Camtrap DP package and the Darwin
 * Core Archive made by POST /jobs/{id}/export with the form's contributor, title and deployment
 * coordinates; and the service's own message on the page when it refuses (no contributor, a
 * deployment without coordinates).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { strFromU8, unzipSync } from 'fflate';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serviceConfig, startService, type RunningService } from '../src/http/index.ts';
import { camtrapDpProblems } from './helpers/camtrap-dp-validator.ts';
import { REPO_ROOT, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PHOTOS = ['n01484850_great_white_shark.JPEG', 'n01491361_tiger_shark.JPEG'].map((name) =>
  sharedPath('images', 'imagenet-marine', name),
);
const LIMIT = { timeout: 60_000 };

let service: RunningService;
let browser: Browser;
let page: Page;
let tmp: string;
const pageErrors: string[] = [];
/** The job the page exported last (from the name of the file it saved). */
let lastJobId: string | null = null;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'marine-web-survey-'));
  service = await startService(
    serviceConfig({
      host: '127.0.0.1',
      port: 0,
      logLevel: 'error',
      webRoot: path.join(REPO_ROOT, 'web'),
      apiKeys: [],
      rateLimitMax: 0,
      engine: { modelPath: TEST_MODEL },
    }),
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${service.url}/`);
  await page.setInputFiles('#file-input', PHOTOS);
  await page.waitForFunction(() => document.getElementById('progress-text')?.textContent?.startsWith('2/2 done'));
});

after(async () => {
  await browser?.close();
  await service?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});

/** Clicks the form's download button and unzips what the browser saved. */
async function downloadZip(): Promise<{ name: string; files: Record<string, string> }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#survey-download')]);
  const bytes = await readFile(await download.path());
  const files = Object.fromEntries(
    Object.entries(unzipSync(new Uint8Array(bytes))).map(([name, data]) => [name, strFromU8(data)]),
  );
  const name = download.suggestedFilename();
  lastJobId = /^job-(.+)-(camtrap-dp|dwc-a)\.zip$/.exec(name)?.[1] ?? null;
  return { name, files };
}

async function fillForm(fields: Record<string, string>): Promise<void> {
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
}

const rows = (text: string) => parseCsv(text, { columns: true }) as Record<string, string>[];

describe('web page: survey downloads', () => {
  test('Camtrap DP: the package of the two photos, valid, with the deployment entered', LIMIT, async () => {
    await page.getByRole('button', { name: 'Camtrap DP…' }).click();
    assert.equal(await page.isVisible('#survey-form'), true);
    assert.equal(await page.textContent('#survey-download'), 'Download Camtrap DP package');
    await fillForm({
      'survey-name': 'Jane Diver',
      'survey-email': 'jane@example.org',
      'survey-title': 'Reef survey 2026',
      'survey-deployment': 'reef-a',
      'survey-latitude': '-16.2864',
      'survey-longitude': '145.7731',
      'survey-depth': '12.5',
    });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test', 'artifacts', 'web-survey.png'), fullPage: true });
    const { name, files } = await downloadZip();
    assert.match(name, /^job-.+-camtrap-dp\.zip$/);
    assert.deepEqual(Object.keys(files).sort(), [
      'datapackage.json',
      'deployments.csv',
      'media.csv',
      'observations.csv',
    ]);
    const dir = await mkdtemp(path.join(tmp, 'package-'));
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
    assert.deepEqual(camtrapDpProblems(dir), []);
    const datapackage = JSON.parse(files['datapackage.json']);
    assert.equal(datapackage.title, 'Reef survey 2026');
    assert.equal(datapackage.contributors[0].title, 'Jane Diver');
    assert.equal(datapackage.contributors[0].email, 'jane@example.org');
    const [deployment] = rows(files['deployments.csv']);
    assert.equal(deployment.deploymentID, 'reef-a');
    assert.equal(deployment.latitude, '-16.2864');
    assert.equal(deployment.cameraDepth, '12.5');
    const media = rows(files['media.csv']);
    assert.deepEqual(media.map((m) => m.fileName).sort(), PHOTOS.map((p) => path.basename(p)).sort());
    const scientific = rows(files['observations.csv']).map((o) => o.scientificName);
    assert.ok(scientific.includes('Carcharodon carcharias'), scientific.join(', '));
    assert.match((await page.textContent('#survey-status')) ?? '', /^Downloaded the Camtrap DP package\./);
  });

  test('Darwin Core Archive: occurrence.txt and meta.xml, one occurrence per photo of an animal', LIMIT, async () => {
    await page.getByRole('radio', { name: 'Darwin Core Archive' }).check();
    assert.equal(await page.textContent('#survey-download'), 'Download Darwin Core Archive');
    const { name, files } = await downloadZip();
    assert.match(name, /^job-.+-dwc-a\.zip$/);
    assert.ok('occurrence.txt' in files && 'meta.xml' in files, Object.keys(files).join(', '));
    const lines = files['occurrence.txt'].trimEnd().split('\n');
    assert.equal(lines.length, 3, 'a header and the two sharks');
    assert.match(files['meta.xml'], /rowType="http:\/\/rs\.tdwg\.org\/dwc\/terms\/Occurrence"/);
  });

  test('the service’s own message when it refuses: no contributor, then no coordinates', LIMIT, async () => {
    await fillForm({ 'survey-name': '', 'survey-email': '' });
    await page.click('#survey-download');
    await page.waitForFunction(() => document.getElementById('survey-error')?.textContent !== '');
    assert.ok(lastJobId);
    const direct = await fetch(`${service.url}/jobs/${lastJobId}/export`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ format: 'dwc-a', project_title: 'Reef survey 2026' }),
    });
    const refusal = ((await direct.json()) as { error: { code: string; message: string } }).error;
    assert.equal(refusal.code, 'survey_incomplete');
    assert.equal(
      await page.textContent('#survey-error'),
      `The service did not make the Darwin Core Archive: ${refusal.message}`,
    );

    // With a contributor but no coordinates: these ImageNet photos carry no GPS, so the service says which deployment.
    await fillForm({ 'survey-name': 'Jane Diver', 'survey-latitude': '', 'survey-longitude': '' });
    const before = await page.textContent('#survey-error');
    await page.click('#survey-download');
    await page.waitForFunction((before) => {
      const text = document.getElementById('survey-error')?.textContent ?? '';
      return text !== '' && text !== before;
    }, before);
    assert.match((await page.textContent('#survey-error')) ?? '', /reef-a/);
    assert.match((await page.textContent('#survey-error')) ?? '', /coordinates|latitude/i);
  });

  test('a finished video is published too: one media row, its appearances as event observations', {
    timeout: 180_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
    const videoPage = await context.newPage();
    videoPage.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await videoPage.goto(`${service.url}/`);
      await videoPage.setInputFiles('#file-input', [sharedPath('videos', 'pealayer-jellyfish.mp4')]);
      await videoPage.waitForSelector('#videos li[data-state="done"]', { timeout: 120_000 });
      await videoPage.getByRole('button', { name: 'Camtrap DP…' }).click();
      for (const [id, value] of Object.entries({
        'survey-name': 'Jane Diver',
        'survey-title': 'Jellyfish drift',
        'survey-deployment': 'drift-1',
        'survey-latitude': '43.7',
        'survey-longitude': '7.3',
      }))
        await videoPage.fill(`#${id}`, value);
      const [download] = await Promise.all([videoPage.waitForEvent('download'), videoPage.click('#survey-download')]);
      const files = Object.fromEntries(
        Object.entries(unzipSync(new Uint8Array(await readFile(await download.path())))).map(([name, data]) => [
          name,
          strFromU8(data),
        ]),
      );
      const dir = await mkdtemp(path.join(tmp, 'video-package-'));
      for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
      assert.deepEqual(camtrapDpProblems(dir), []);
      const media = rows(files['media.csv']);
      assert.equal(media.length, 1);
      assert.equal(media[0].fileMediatype, 'video/mp4');
      const events = rows(files['observations.csv']).filter((o) => o.observationLevel === 'event');
      assert.ok(events.length > 0, files['observations.csv']);
      // "jellyfish" names the phylum Cnidaria (docs/taxa.md).
      assert.ok(
        events.some((o) => o.scientificName === 'Cnidaria'),
        files['observations.csv'],
      );
    } finally {
      await context.close();
    }
  });
});
