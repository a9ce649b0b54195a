/**
 * The settings table and what is derived from it: the environment parser, the commands' flags and
 * --help, the README's configuration table, and the one image-source policy of serve and worker.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { readBlock } from '../scripts/docs-blocks.ts';
import { registerClassifyCommand } from '../src/cli/classify-command.ts';
import { registerServeCommand } from '../src/cli/serve-command.ts';
import { registerWorkerCommand } from '../src/cli/worker-command.ts';
import { DEFAULT_MODEL_ID, INT8_DEFAULT_MODEL_ID } from '../src/engine/catalogue.ts';
import { DEFAULT_PREPROCESS_OPTIONS } from '../src/engine/preprocess.ts';
import { ClassifierError } from '../src/errors.ts';
import { defaultServiceConfig, serviceConfigFromEnv } from '../src/http/config.ts';
import { serviceClassifierOptions } from '../src/http/service.ts';
import {
  addSettingOptions,
  DEFAULT_MAX_IMAGE_BYTES,
  flagHelp,
  givenFlags,
  loadSettings,
  type SettingDeclaration,
  SETTINGS,
  settingsTableMarkdown,
} from '../src/settings/index.ts';
import { DEFAULT_URL_FETCH_OPTIONS } from '../src/sources/url.ts';
import { workerConfigOf } from '../src/worker/worker-config.ts';
import { REPO_ROOT } from './helpers/shared.ts';

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ClassifierError, `expected a ClassifierError, got ${String(err)}`);
    assert.equal(err.code, 'invalid_setting');
    assert.equal(err.message, message);
    return true;
  });
}

/** A command with the setting flags of `name`, given `args`. */
function parsed(name: 'serve' | 'worker' | 'classify', args: string[]): Command {
  const command = addSettingOptions(new Command(name).exitOverride(), name);
  command.parse(args, { from: 'user' });
  return command;
}

test("the docs' configuration blocks are the generated ones (npm run docs rewrites them)", () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  assert.equal(readBlock(readme, 'settings'), settingsTableMarkdown());
});

test('the environment, converted and checked', () => {
  const s = loadSettings({
    command: 'serve',
    env: {
      PORT: '9000',
      API_KEYS: ' a, b ,,c',
      RATE_LIMIT_WINDOW: '30s',
      TRUST_PROXY: 'yes',
      LOG_LEVEL: 'DEBUG',
      IMAGE_ROOT: 'images',
      MAX_BATCH_WAIT_MS: '0.5',
      EXECUTION_PROVIDER: 'cuda',
      MODEL_DOWNLOAD: 'off',
      INTRA_OP_THREADS: '',
    },
  });
  assert.equal(s.port, 9000);
  assert.deepEqual(s.apiKeys, ['a', 'b', 'c']);
  assert.equal(s.rateLimitWindowMs, 30_000);
  assert.equal(s.trustProxy, true);
  assert.equal(s.logLevel, 'debug');
  assert.equal(s.imageRoot, path.resolve('images'));
  assert.equal(s.maxWaitMs, 0.5);
  assert.equal(s.executionProvider, 'cuda');
  assert.equal(s.download, false);
  assert.equal(s.intraOpThreads, undefined, 'an empty variable is unset');

  const config = serviceConfigFromEnv({ WEB_ROOT: '', RATE_LIMIT_WINDOW: '2 hours', MODEL_CACHE_DIR: 'models' });
  assert.equal(config.webRoot, null, 'WEB_ROOT= serves no page');
  assert.equal(config.rateLimitWindowMs, 7_200_000);
  assert.equal(config.engine.cacheDir, path.resolve('models'));
  assert.equal(
    serviceConfigFromEnv({ XDG_CACHE_HOME: '/tmp/xdg' }).engine.cacheDir,
    '/tmp/xdg/marine-classifier/models',
  );
  assert.equal(serviceConfigFromEnv({}).engine.intraOpThreads, undefined, 'unset: the engine chooses');
});

test('flags win over the environment', () => {
  const command = parsed('serve', [
    '--port',
    '9001',
    '--api-key',
    'x',
    '--api-key',
    'y,z',
    '--resize',
    'fast',
    '--model',
    'mobilenetv2-12',
  ]);
  const s = loadSettings({
    command: 'serve',
    env: { PORT: '9000', HOST: '0.0.0.0', API_KEYS: 'q', MODEL_PATH: '/models/own.onnx', RESIZE: 'exact' },
    flags: givenFlags(command, 'serve'),
  });
  assert.equal(s.port, 9001);
  assert.equal(s.host, '0.0.0.0', 'the environment where no flag is given');
  assert.deepEqual(s.apiKeys, ['x', 'y', 'z']);
  assert.equal(s.resize, 'fast');
  assert.equal(s.modelId, 'mobilenetv2-12');
  assert.equal(s.modelPath, undefined, '--model sets aside MODEL_PATH from the environment');

  const worker = parsed('worker', ['--concurrency', '3', '--queue', 'redis://h:1']);
  const w = loadSettings({ command: 'worker', env: { WORKER_CONCURRENCY: '9' }, flags: givenFlags(worker, 'worker') });
  assert.equal(w.workerConcurrency, 3);
  assert.equal(w.queueUrl, 'redis://h:1');
});

test('a bad value names the setting as given, the value and what is allowed', () => {
  invalid(
    () => loadSettings({ command: 'serve', env: { PORT: '70000' } }),
    'PORT=70000 is not valid: expected a whole number from 0 to 65535.',
  );
  invalid(
    () =>
      loadSettings({ command: 'serve', env: {}, flags: givenFlags(parsed('serve', ['--threads', '2.5']), 'serve') }),
    '--threads=2.5 is not valid: expected a whole number from 1 to 256.',
  );
  invalid(
    () =>
      loadSettings({ command: 'classify', env: {}, flags: givenFlags(parsed('classify', ['-k', '0']), 'classify') }),
    '--top-k=0 is not valid: expected a whole number from 1 to 1000.',
  );
  invalid(
    () => loadSettings({ command: 'serve', env: { RATE_LIMIT_WINDOW: 'soon' } }),
    'RATE_LIMIT_WINDOW=soon is not valid: expected a duration from 1 ms to 7 days, such as 60000, 30s, 1m or 1 hour.',
  );
  invalid(
    () => loadSettings({ command: 'serve', env: { LOG_LEVEL: 'loud' } }),
    'LOG_LEVEL=loud is not valid: expected fatal, error, warn, info, debug, trace or silent.',
  );
  invalid(
    () => loadSettings({ command: 'worker', env: { TRUST_PROXY: 'x', RESULT_CACHE: 'maybe' } }),
    'RESULT_CACHE=maybe is not valid: expected true or false.',
  );
  invalid(
    () => loadSettings({ command: 'worker', env: { QUEUE_URL: 'http://h:6379' } }),
    'QUEUE_URL=http://h:6379 is not valid: expected a redis:// or rediss:// URL such as redis://127.0.0.1:6379.',
  );
  assert.doesNotThrow(
    () => loadSettings({ command: 'classify', env: { PORT: 'x', QUEUE_PREFIX: 'a b' } }),
    'classify reads neither',
  );
});

test('a worker reads no HTTP settings, and applies the same image-source policy as serve', () => {
  const env = {
    QUEUE_URL: 'redis://127.0.0.1:6379',
    IMAGE_ROOT: '/srv/images',
    URL_ALLOW_HOSTS: '10.0.0.5,cams.internal',
    URL_TIMEOUT_MS: '4000',
    MAX_BODY_BYTES: '2000000',
  };
  const worker = workerConfigOf(loadSettings({ command: 'worker', env: { ...env, PORT: 'not-a-port', HOST: '' } }));
  const service = serviceClassifierOptions(serviceConfigFromEnv(env));
  assert.deepEqual(worker.engine.sources, service.sources);
  assert.deepEqual(worker.engine.sources, {
    maxBytes: 2_000_000,
    allowFiles: true,
    imageRoot: '/srv/images',
    url: {
      allowedHosts: ['10.0.0.5', 'cams.internal'],
      allowPrivateNetworks: false,
      timeoutMs: 4000,
      maxBytes: 2_000_000,
    },
  });
  invalid(
    () => workerConfigOf(loadSettings({ command: 'worker', env: {} })),
    'A worker needs the queue: set QUEUE_URL (e.g. redis://127.0.0.1:6379) or pass --queue.',
  );
});

const run = promisify(execFile);
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
      },
    );
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

test('a bad PORT stops serve at start, and not a worker', async () => {
  const serve = await cli(['serve'], { PORT: 'eighty' });
  assert.equal(serve.code, 2);
  assert.match(
    serve.stderr,
    /error \(invalid_setting\): PORT=eighty is not valid: expected a whole number from 0 to 65535/,
  );
  // The worker gets past its settings to loading the model, which is not there.
  const worker = await cli(['worker'], {
    PORT: 'eighty',
    QUEUE_URL: 'redis://127.0.0.1:6379',
    MODEL_PATH: '/nonexistent/model.onnx',
  });
  assert.equal(worker.code, 2);
  assert.match(worker.stderr, /model_not_found/);
  assert.doesNotMatch(worker.stderr, /PORT/);
});

test("--help shows each flag's generated help: meaning, variable and default", () => {
  const program = new Command().configureHelp({ helpWidth: 10_000 });
  registerClassifyCommand(program);
  registerServeCommand(program);
  registerWorkerCommand(program);
  for (const name of ['classify', 'serve', 'worker'] as const) {
    const command = program.commands.find((c) => c.name() === name);
    assert.ok(command);
    command.configureHelp({ helpWidth: 10_000 });
    const help = command.helpInformation();
    for (const declaration of Object.values(SETTINGS) as SettingDeclaration[]) {
      if (!declaration.flag) continue;
      const line = help.split('\n').find((l) => l.trimStart().startsWith(`${declaration.flag} `));
      if (!declaration.commands.includes(name)) {
        assert.ok(!line || declaration.flag === '--concurrency <n>', `${name} has no ${declaration.flag}`);
        continue;
      }
      assert.ok(line, `${name} --help lists ${declaration.flag}`);
      assert.ok(line.includes(flagHelp(declaration)), `${line} has ${flagHelp(declaration)}`);
    }
  }
  const serveHelp = program.commands.find((c) => c.name() === 'serve')?.helpInformation() ?? '';
  assert.match(serveHelp, /--queue-limit <n> +in-process: .*\(env QUEUE_LIMIT; default 256\)/);
});

test('one default per fact: largest image, model id, pixel limit', () => {
  assert.equal(DEFAULT_MAX_IMAGE_BYTES, 25 * 1024 * 1024);
  assert.equal(DEFAULT_URL_FETCH_OPTIONS.maxBytes, DEFAULT_MAX_IMAGE_BYTES);
  assert.equal(defaultServiceConfig().maxBodyBytes, DEFAULT_MAX_IMAGE_BYTES);
  assert.equal(
    SETTINGS.modelId.defaultText,
    `${INT8_DEFAULT_MODEL_ID} on CPUs with int8 dot products (VNNI, AMX), else ${DEFAULT_MODEL_ID}`,
  );
  assert.equal(SETTINGS.maxPixels.default, DEFAULT_PREPROCESS_OPTIONS.maxPixels);
});

test('process.env is read only in src/settings, and src/settings imports no layer above it', () => {
  const src = path.join(REPO_ROOT, 'src');
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(path.join(src, file), 'utf8');
    if (!file.startsWith(`settings${path.sep}`)) {
      assert.doesNotMatch(text, /process\.env/, `${file} reads process.env`);
      continue;
    }
    for (const [, target] of text.matchAll(/from '(\.\.\/[^']+)'/g))
      assert.ok(target === '../errors.ts', `${file} imports ${target}`);
  }
});
