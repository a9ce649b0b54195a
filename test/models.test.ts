import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CATALOGUE, DEFAULT_MODEL_ID, findCatalogueEntry, type CatalogueEntry } from '../src/engine/catalogue.ts';
import { progressReporter } from '../src/engine/download-progress.ts';
import {
  cachedModelPath,
  downloadModel,
  isCachedModelValid,
  resolveModel,
  sha256File,
} from '../src/engine/model-files.ts';
import { cpuFlagsOf, int8DotProductOf } from '../src/engine/cpu-features.ts';
import { defaultModelChoice } from '../src/engine/default-model.ts';
import { ClassifierError } from '../src/errors.ts';
import { defaultModelCacheDir } from '../src/settings/load.ts';

const SHARED_README = '/work/shared/README.md';
const SHARED_MOBILENET = '/work/shared/models/mobilenetv2-12-int8.onnx';

// Big enough that undici delivers it in several chunks, so "dropped mid-body" really is mid-body.
const payload = randomBytes(300_000);
const fakeEntry: CatalogueEntry = {
  id: 'fake-model',
  description: 'random bytes standing in for a model',
  url: 'http://127.0.0.1:9/never-used',
  bytes: payload.length,
  sha256: createHash('sha256').update(payload).digest('hex'),
  inputLayout: 'NCHW',
  inputSize: 224,
  preprocessing: 'imagenet',
  license: 'Apache-2.0',
  accuracy: { top1: 0, top5: 0 },
  speed: null,
};

const requests: string[] = [];
let server: Server;
let base: string;
const tempDirs: string[] = [];

function route(url: string, res: import('node:http').ServerResponse): void {
  switch (url) {
    case '/model.onnx':
      res.writeHead(200, { 'content-length': payload.length });
      res.end(payload);
      return;
    case '/redirect':
      res.writeHead(302, { location: '/model.onnx' });
      res.end();
      return;
    case '/wrong-hash': {
      const other = Buffer.from(payload);
      other[1000] ^= 0xff;
      res.writeHead(200, { 'content-length': other.length });
      res.end(other);
      return;
    }
    case '/short':
      // A clean end with too few bytes (no content-length, so HTTP itself sees nothing wrong).
      res.writeHead(200);
      res.end(payload.subarray(0, 1000));
      return;
    case '/drop':
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, payload.length / 2), () => {
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    case '/stall':
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, 1000));
      return; // never finishes; the client's inactivity timeout must fire
    default:
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
  }
}

async function newCacheDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'models-test-'));
  tempDirs.push(dir);
  // A subfolder that does not exist yet, so the recursive mkdir is exercised too.
  return path.join(dir, 'cache', 'models');
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function expectDownloadFailure(urlPath: string, reason: RegExp, timeoutMs?: number): Promise<void> {
  const cacheDir = await newCacheDir();
  await assert.rejects(
    downloadModel(fakeEntry, cacheDir, { urlOverride: base + urlPath, timeoutMs }),
    (err: unknown) => {
      assert.ok(err instanceof ClassifierError);
      assert.equal(err.code, 'model_download_failed');
      assert.equal(err.status, 503);
      assert.match(err.message, reason);
      // The message must tell an operator how to get going by hand.
      assert.match(err.message, new RegExp(`${fakeEntry.bytes} bytes, sha256 ${fakeEntry.sha256}`));
      assert.ok(err.message.includes(cachedModelPath(fakeEntry, cacheDir)));
      assert.match(err.message, /MODEL_PATH/);
      return true;
    },
  );
  assert.deepEqual(await listDir(cacheDir), [], 'neither the final file nor a .part file may be left behind');
}

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    route(req.url ?? '', res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('download', () => {
  test('downloads, verifies and renames into place; a second resolve uses the cache', async () => {
    const cacheDir = await newCacheDir();
    const progress: Array<[number, number]> = [];
    const options = {
      modelId: fakeEntry.id,
      catalogue: [fakeEntry],
      cacheDir,
      urlOverride: `${base}/model.onnx`,
      onProgress: (received: number, total: number) => progress.push([received, total]),
    };
    const requestsBefore = requests.length;

    const first = await resolveModel(options);
    assert.equal(first.id, fakeEntry.id);
    assert.equal(first.entry, fakeEntry);
    assert.equal(first.path, cachedModelPath(fakeEntry, cacheDir));
    assert.ok((await readFile(first.path)).equals(payload));
    assert.deepEqual(await listDir(cacheDir), ['fake-model.onnx']);
    assert.ok(await isCachedModelValid(fakeEntry, cacheDir));
    assert.deepEqual(progress.at(-1), [payload.length, payload.length]);

    const second = await resolveModel(options);
    assert.equal(second.path, first.path);
    assert.equal(requests.length - requestsBefore, 1, 'the cached file must be reused without a request');
  });

  test('follows a redirect', async () => {
    const cacheDir = await newCacheDir();
    const requestsBefore = requests.length;
    const file = await downloadModel(fakeEntry, cacheDir, { urlOverride: `${base}/redirect` });
    assert.ok((await readFile(file)).equals(payload));
    assert.deepEqual(requests.slice(requestsBefore), ['/redirect', '/model.onnx']);
  });

  test('a cached file of the wrong size is replaced by a download', async () => {
    const cacheDir = await newCacheDir();
    await downloadModel(fakeEntry, cacheDir, { urlOverride: `${base}/model.onnx` });
    await writeFile(cachedModelPath(fakeEntry, cacheDir), 'truncated');
    assert.equal(await isCachedModelValid(fakeEntry, cacheDir), false);
    const location = await resolveModel({
      modelId: fakeEntry.id,
      catalogue: [fakeEntry],
      cacheDir,
      urlOverride: `${base}/model.onnx`,
    });
    assert.ok((await readFile(location.path)).equals(payload));
  });

  test('stale .part files are never taken for the model', async () => {
    const cacheDir = await newCacheDir();
    await downloadModel(fakeEntry, cacheDir, { urlOverride: `${base}/model.onnx` }).then((file) => rm(file));
    await writeFile(path.join(cacheDir, 'fake-model.onnx.1.abc.part'), payload);
    await assert.rejects(resolveModel({ modelId: fakeEntry.id, catalogue: [fakeEntry], cacheDir, download: false }), {
      code: 'model_not_available',
    });
  });

  test('a download removes .part files of killed downloads, not those of a live one', async () => {
    const cacheDir = await newCacheDir();
    const killed = 'other-model.onnx.4242.aaaaaaaaaaaa.part';
    const live = 'other-model.onnx.4343.bbbbbbbbbbbb.part';
    await mkdir(cacheDir, { recursive: true });
    await writeFile(path.join(cacheDir, killed), 'half a model');
    await writeFile(path.join(cacheDir, live), 'being written');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    await utimes(path.join(cacheDir, killed), twoDaysAgo, twoDaysAgo);
    await downloadModel(fakeEntry, cacheDir, { urlOverride: `${base}/model.onnx` });
    assert.deepEqual(
      (await listDir(cacheDir)).sort(),
      [live, path.basename(cachedModelPath(fakeEntry, cacheDir))].sort(),
    );
  });

  test('wrong sha256 -> model_download_failed, nothing left behind', async () => {
    await expectDownloadFailure('/wrong-hash', /sha256 is [0-9a-f]{64}, expected/);
  });

  test('too few bytes -> model_download_failed, nothing left behind', async () => {
    await expectDownloadFailure('/short', /received 1000 bytes, expected 300000/);
  });

  test('connection dropped mid-body -> model_download_failed, nothing left behind', async () => {
    await expectDownloadFailure('/drop', /terminated|closed|socket/i);
  });

  test('HTTP 404 -> model_download_failed, nothing left behind', async () => {
    await expectDownloadFailure('/missing', /HTTP 404/);
  });

  test('server stops sending -> model_download_failed after the inactivity timeout', async () => {
    await expectDownloadFailure('/stall', /no data received for 200 ms/, 200);
  });

  test('connection refused -> model_download_failed, retryable', async () => {
    const cacheDir = await newCacheDir();
    // A port that was just free: the fetch spec blocks "well-known" ports like 1 or 9 before connecting.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(downloadModel(fakeEntry, cacheDir, { urlOverride: `http://127.0.0.1:${port}/x` }), {
      code: 'model_download_failed',
      retryable: true,
      message: /ECONNREFUSED/,
    });
    assert.deepEqual(await listDir(cacheDir), []);
  });

  test('an unusable cache dir -> model_download_failed, not retryable, no request made', async () => {
    const notADir = path.join(await newCacheDir(), '..', '..', 'plain-file');
    await writeFile(notADir, '');
    const requestsBefore = requests.length;
    await assert.rejects(
      downloadModel(fakeEntry, path.join(notADir, 'models'), { urlOverride: `${base}/model.onnx` }),
      {
        code: 'model_download_failed',
        retryable: false,
        message: /ENOTDIR/,
      },
    );
    assert.equal(requests.length, requestsBefore);
  });
});

describe('resolveModel', () => {
  test('download:false and not cached -> model_not_available with how-to text', async () => {
    const cacheDir = await newCacheDir();
    const requestsBefore = requests.length;
    await assert.rejects(
      resolveModel({
        modelId: fakeEntry.id,
        catalogue: [fakeEntry],
        cacheDir,
        download: false,
        urlOverride: `${base}/model.onnx`,
      }),
      (err: unknown) => {
        assert.ok(err instanceof ClassifierError);
        assert.equal(err.code, 'model_not_available');
        assert.equal(err.status, 503);
        assert.ok(err.message.includes(cachedModelPath(fakeEntry, cacheDir)));
        assert.ok(err.message.includes(fakeEntry.sha256));
        assert.match(err.message, /MODEL_PATH/);
        return true;
      },
    );
    assert.equal(requests.length, requestsBefore);
  });

  test('download:false with the real default id never touches the network', async () => {
    const cacheDir = await newCacheDir();
    await assert.rejects(resolveModel({ cacheDir, download: false, cpuFlags: new Set() }), (err: unknown) => {
      assert.ok(err instanceof ClassifierError);
      assert.equal(err.code, 'model_not_available');
      assert.ok(err.message.includes(findCatalogueEntry(DEFAULT_MODEL_ID)!.url));
      return true;
    });
  });

  test('no model named: the int8 ResNet-50 where the CPU has int8 dot products, the fp32 one elsewhere', async () => {
    const cacheDir = await newCacheDir();
    const cases = [
      { flags: ['sse4_2', 'avx2', 'avx512f', 'avx512_vnni'], id: 'resnet50-v1-12-int8' },
      { flags: ['avx2', 'avx_vnni'], id: 'resnet50-v1-12-int8' },
      { flags: ['avx2', 'amx_int8', 'amx_tile'], id: 'resnet50-v1-12-int8' },
      { flags: ['sse4_2', 'avx2', 'avx512f'], id: 'resnet50-v1-12' },
      { flags: [], id: 'resnet50-v1-12' }, // not Linux, or no /proc/cpuinfo: the safe answer
    ];
    for (const { flags, id } of cases) {
      const choice = defaultModelChoice(new Set(flags));
      assert.equal(choice.id, id, flags.join(' '));
      assert.match(choice.reason, id.endsWith('int8') ? /int8 dot products/ : /no int8 dot-product/);
      // The engine downloads that one (here: refuses to, naming its URL).
      await assert.rejects(resolveModel({ cacheDir, download: false, cpuFlags: new Set(flags) }), (err: unknown) => {
        assert.ok(err instanceof ClassifierError);
        assert.ok(err.message.includes(findCatalogueEntry(id)!.url));
        return true;
      });
    }
    // A named model is always exactly that one.
    await assert.rejects(
      resolveModel({ cacheDir, download: false, modelId: 'resnet50-v1-12', cpuFlags: new Set(['avx512_vnni']) }),
      (err: unknown) => err instanceof Error && err.message.includes(findCatalogueEntry('resnet50-v1-12')!.url),
    );
  });

  test('CPU flags are read from /proc/cpuinfo text', () => {
    const cpuinfo = 'processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_vnni\n\nprocessor\t: 1\n';
    assert.deepEqual([...cpuFlagsOf(cpuinfo)], ['fpu', 'avx2', 'avx512_vnni']);
    assert.equal(int8DotProductOf(cpuFlagsOf(cpuinfo)), 'avx512_vnni');
    assert.equal(cpuFlagsOf('Features\t: fp asimd\n').size, 0);
  });

  test('modelPath to a missing file -> model_not_found', async () => {
    const missing = path.join(await newCacheDir(), 'nope.onnx');
    await assert.rejects(resolveModel({ modelPath: missing }), (err: unknown) => {
      assert.ok(err instanceof ClassifierError);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.status, 500);
      assert.ok(err.message.startsWith(`No model file at ${missing}.`));
      return true;
    });
  });

  test('modelPath to a directory -> model_not_found', async () => {
    await assert.rejects(resolveModel({ modelPath: tmpdir() }), { code: 'model_not_found' });
  });

  test('modelPath to the shared mobilenet file is used as is', { skip: !existsSync(SHARED_MOBILENET) }, async () => {
    const location = await resolveModel({ modelPath: SHARED_MOBILENET, modelId: 'resnet50-v1-12' });
    assert.deepEqual(location, { id: 'mobilenetv2-12-int8', path: SHARED_MOBILENET, entry: null, choice: null });
  });

  test('unknown id -> unknown_model listing the known ids', async () => {
    await assert.rejects(resolveModel({ modelId: 'resnet9000', cacheDir: await newCacheDir() }), (err: unknown) => {
      assert.ok(err instanceof ClassifierError);
      assert.equal(err.code, 'unknown_model');
      assert.equal(err.status, 400);
      for (const entry of CATALOGUE) assert.ok(err.message.includes(entry.id), entry.id);
      return true;
    });
  });

  test('defaultModelCacheDir honours MODEL_CACHE_DIR, then XDG_CACHE_HOME', () => {
    const saved = { MODEL_CACHE_DIR: process.env.MODEL_CACHE_DIR, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
    try {
      process.env.MODEL_CACHE_DIR = '/tmp/explicit-models';
      process.env.XDG_CACHE_HOME = '/tmp/xdg';
      assert.equal(defaultModelCacheDir(), '/tmp/explicit-models');
      delete process.env.MODEL_CACHE_DIR;
      assert.equal(defaultModelCacheDir(), '/tmp/xdg/marine-classifier/models');
      delete process.env.XDG_CACHE_HOME;
      assert.match(defaultModelCacheDir(), /\/\.cache\/marine-classifier\/models$/);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe('catalogue', () => {
  // Copied from shared/README.md so the test also runs where shared/ is absent; cross-checked below.
  const expected = [
    [
      'resnet50-v1-12',
      'resnet/model/resnet50-v1-12.onnx',
      102576593,
      '3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526',
    ],
    [
      'resnet50-v2-7',
      'resnet/model/resnet50-v2-7.onnx',
      102442452,
      '79102261eb6e5fd7af5d27f41316293e388c5cb691e5d25bfb035c4f64fefe31',
    ],
    [
      'resnet50-v1-12-int8',
      'resnet/model/resnet50-v1-12-int8.onnx',
      25816052,
      'c234f30975989788b4405f25253275aae247ab6dbdd34aaa69ab0a59ff76f6d0',
    ],
    [
      'mobilenetv2-12-int8',
      'mobilenet/model/mobilenetv2-12-int8.onnx',
      3655033,
      'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f',
    ],
    [
      'mobilenetv2-12',
      'mobilenet/model/mobilenetv2-12.onnx',
      13964571,
      'c0c3f76d93fa3fd6580652a45618618a220fced18babf65774ed169de0432ad5',
    ],
  ] as const;

  test('entries match the model table', () => {
    assert.deepEqual(
      CATALOGUE.map((entry) => entry.id),
      expected.map(([id]) => id),
    );
    for (const [id, zooPath, bytes, sha256] of expected) {
      const entry = findCatalogueEntry(id);
      assert.ok(entry, id);
      assert.equal(entry.url, `https://github.com/onnx/models/raw/main/validated/vision/classification/${zooPath}`);
      assert.equal(entry.bytes, bytes);
      assert.equal(entry.sha256, sha256);
      assert.equal(entry.inputLayout, 'NCHW');
      assert.equal(entry.inputSize, 224);
      assert.equal(entry.preprocessing, 'imagenet');
      assert.equal(entry.license, 'Apache-2.0');
    }
    assert.ok(findCatalogueEntry(DEFAULT_MODEL_ID));
    assert.equal(findCatalogueEntry('nope'), undefined);
  });

  test('the expected table is the one in shared/README.md', { skip: !existsSync(SHARED_README) }, () => {
    const rows = readFileSync(SHARED_README, 'utf8')
      .split('\n')
      .map((line) => line.match(/^\| ([\w.-]+) \| (\S+\.onnx) \| (\d+) \| ([0-9a-f]{64}) \|$/))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[2], Number(match[3]), match[4]]);
    assert.deepEqual(
      rows,
      expected.map((row) => [...row]),
    );
  });

  test('sha256File gives the hash shared/README.md states for the shared mobilenet', {
    skip: !existsSync(SHARED_MOBILENET),
  }, async () => {
    assert.equal(
      await sha256File(SHARED_MOBILENET),
      '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f',
    );
  });
});

describe('progressReporter', () => {
  test('without a TTY it writes at most one line per 10 %', () => {
    const lines: string[] = [];
    const fakeStream = { isTTY: false, write: (text: string) => lines.push(text) } as unknown as NodeJS.WriteStream;
    const report = progressReporter('model', fakeStream);
    for (let received = 0; received <= 1000; received += 7) report(received, 1000);
    report(1000, 1000);
    assert.equal(lines.length, 11);
    assert.equal(lines[0], 'model: 0% (0.0 of 0.0 MB)\n');
    assert.match(lines[10]!, /^model: 100% /);
  });
});
