/**
 * Part 3: POST /classify end to end. The service runs as a child process (so its peak RSS can be
 * read), images by URL come from a static server on 127.0.0.1 in its own process
 * (image-server.ts), and the load comes from autocannon in its own process (load-client.ts).
 * Loopback only.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  BUILT_CLI,
  cpuSnapshot,
  imagenetImages,
  log,
  measureQuietly,
  memoryOf,
  otherBusyCores,
  ticksOf,
  waitForQuiet,
  MODELS,
  quick,
  repoRoot,
  round,
  spawnTracked,
  stopChild,
  tmpDir,
  track,
  type ModelName,
} from './common.ts';
import type { ImageServerMessage, ImageServerReply } from './image-server.ts';
import type { LoadJob, LoadResult } from './load-client.ts';
import { rawRate } from './raw-model.ts';
import { measurePaired, PAIRED_CONNECTIONS, type PairedResult } from './paired.ts';
import type { ChildProcess } from 'node:child_process';

export interface HttpRow extends LoadResult {
  model: ModelName;
  mode: 'upload' | 'url';
  /** The service's VmHWM after this level: the peak since it started. */
  service_peak_rss_mb: number | null;
  /** Cores used by processes other than the bench, service and load generator meanwhile. */
  other_load_cores: number | null;
  /** Where the CPU went, per request; null where /metrics or /proc could not tell. */
  cpu_ms_per_request: CpuPerRequest | null;
}

/**
 * CPU per request, from the service's /metrics (its model threads against its whole process)
 * and the load generator's own count, taken over the level and until the service is idle again.
 * Requests = answered + one abandoned in flight per connection (autocannon stops on time; the
 * service still finishes them), so this is close, not exact.
 */
export interface CpuPerRequest {
  model: number;
  /** Decoding, HTTP, the runtime: everything in the service but the model threads. */
  service_rest: number;
  load_generator: number;
  /** Every core the machine was busy, divided by requests: the three above plus everything else. */
  machine: number;
}

export interface ServiceInfo {
  model: string;
  /** The model alone at batch 8 again, measured just before this service started (machine drift check). */
  raw_batch8_images_per_s: number | null;
  startup_ms: number;
  ready_rss_mb: number | null;
  peak_rss_mb: number | null;
  /** How the service's engine runs the model, from its start-up log line (null if not found). */
  engine: string | null;
  log_file: string;
}

export interface HttpResult {
  skipped: string | null;
  levels: number[];
  duration_s: number;
  upload_body: string;
  /** Engine settings the service took from the environment (unset: the engine's defaults). */
  service_env: Record<string, string>;
  services: ServiceInfo[];
  rows: HttpRow[];
  /** Point 5 in alternating slices (see paired.ts). */
  paired: PairedResult[];
}

export const LEVELS = quick ? [16] : [1, 4, 16, 64];
const DURATION_S = quick ? 3 : 8;
const WARMUP_S = quick ? 2 : 3;
const MAX_REQUESTS = 5000;
const READY_TIMEOUT_MS = 120_000;

const TUNING_VARIABLES = [
  'INTRA_OP_THREADS',
  'PARALLEL_SESSIONS',
  'SOLO_SESSION',
  'DECODE_THREADS',
  'MAX_BATCH',
  'MAX_BATCH_WAIT_MS',
  'RESIZE',
  'QUEUE_LIMIT',
  'LOG_LEVEL',
];

function tuningEnv(): Record<string, string> {
  return Object.fromEntries(
    TUNING_VARIABLES.filter((name) => process.env[name]).map((name) => [name, process.env[name]!]),
  );
}

/** Why the service cannot be benchmarked yet, or null when it looks present. */
export function serviceMissing(): string | null {
  const httpDir = path.join(repoRoot, 'src', 'http');
  const sources = existsSync(httpDir) ? readdirSync(httpDir).filter((f) => f.endsWith('.ts')) : [];
  if (sources.length === 0) return 'the HTTP service is not in this checkout yet (src/http has no sources)';
  if (!existsSync(BUILT_CLI)) return 'dist/cli/main.js (the built `serve` entry point) does not exist: npm run build';
  return null;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The image host (image-server.ts) in its own process: the URLs of the images and how many it served. */
async function startImageServer(
  files: string[],
): Promise<{ urls: string[]; served: () => Promise<number>; stop: () => Promise<void> }> {
  const child = track(
    fork(path.join(repoRoot, 'bench', 'image-server.ts'), [], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const reply = <T extends ImageServerReply>(): Promise<T> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the image server exited with code ${code}`));
      child.once('exit', onExit);
      child.once('message', (message: T) => {
        child.off('exit', onExit);
        resolve(message);
      });
    });
  const listening = reply<{ port: number }>();
  child.send({ files } satisfies ImageServerMessage);
  const { port } = await listening;
  return {
    urls: files.map((_, i) => `http://127.0.0.1:${port}/img/${i}.jpg`),
    async served() {
      const answer = reply<{ served: number }>();
      child.send('served?' satisfies ImageServerMessage);
      return (await answer).served;
    },
    stop: () => stopChild(child),
  };
}

/** The service's CPU seconds so far: its model threads and its whole process, from /metrics. */
export async function serviceCpu(target: string): Promise<{ model: number; process: number } | null> {
  const text = await fetch(`${target}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const model = Number(/^classifier_inference_cpu_seconds_total ([\d.e+-]+)$/m.exec(text)?.[1]);
  const whole = Number(/^process_cpu_seconds_total ([\d.e+-]+)$/m.exec(text)?.[1]);
  return Number.isFinite(model) && Number.isFinite(whole) ? { model, process: whole } : null;
}

export function cpuPerRequest(
  before: { model: number; process: number } | null,
  after: { model: number; process: number } | null,
  machineBusyTicks: number | null,
  load: LoadResult,
): CpuPerRequest | null {
  const requests = load.ok + load.connections;
  if (!before || !after || machineBusyTicks === null || load.ok === 0) return null;
  const ms = (seconds: number) => round((seconds * 1000) / requests, 2) ?? 0;
  return {
    model: ms(after.model - before.model),
    service_rest: ms(after.process - before.process - (after.model - before.model)),
    load_generator: ms(load.load_generator_cpu_s),
    machine: ms(machineBusyTicks / 100),
  };
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startService(
  model: { name: string; path: string },
  rawBatch8: number | null,
  /** More environment for this service (RESIZE=auto for the camera-size part). */
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number; info: ServiceInfo }> {
  const port = await freePort();
  mkdirSync(tmpDir, { recursive: true });
  const suffix = Object.values(env).join('-');
  const logFile = path.join(tmpDir, `service-${model.name}${suffix ? `-${suffix}` : ''}.log`);
  const fd = openSync(logFile, 'w');
  const started = performance.now();
  // Straight to node (not `npm start`) so the pid is the service's own, for /proc/<pid>/status.
  const child = spawnTracked(process.execPath, [BUILT_CLI, 'serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      MODEL_PATH: model.path,
      URL_ALLOW_HOSTS: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited: string | null = null;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the service ${exited} before it was ready:\n${tail(logFile)}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) {
      const memory = memoryOf(child.pid!);
      const engine = engineLine(readFileSync(logFile, 'utf8'));
      return {
        child,
        port,
        info: {
          model: model.name,
          raw_batch8_images_per_s: rawBatch8,
          startup_ms: Math.round(performance.now() - started),
          ready_rss_mb: memory.rss_mb,
          peak_rss_mb: null,
          engine,
          log_file: path.relative(repoRoot, logFile),
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stopChild(child);
  throw new Error(`the service did not answer 200 on /readyz within ${READY_TIMEOUT_MS / 1000} s:\n${tail(logFile)}`);
}

/** The service's "Engine: ..." start-up message (sessions, threads, and the timings they were chosen from). */
function engineLine(log: string): string | null {
  for (const line of log.split('\n')) {
    try {
      const message = (JSON.parse(line) as { msg?: unknown }).msg;
      if (typeof message === 'string' && message.startsWith('Engine: ')) return message.slice('Engine: '.length);
    } catch {
      // not a JSON log line
    }
  }
  return null;
}

/**
 * autocannon stops on time with requests still in flight; the service keeps working on them
 * (up to 64 images: seconds of ResNet-50). Wait until it is idle so that work does not leak
 * into the next measurement.
 */
export async function waitForIdle(pid: number, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last = ticksOf(`/proc/${pid}/stat`);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = ticksOf(`/proc/${pid}/stat`);
    // Under 0.1 cores over 250 ms: idle (an idle Node process uses well under that).
    if (now - last < 0.1 * 25) return;
    last = now;
  }
}

/** One autocannon run in its own process. */
export function runLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = track(
      fork(path.join(repoRoot, 'bench', 'load-client.ts'), [], {
        cwd: repoRoot,
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const limit = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error('the load generator did not finish in time'));
      },
      (job.durationS + job.timeoutS + 30) * 1000,
    );
    child.once('message', (message: { ok: boolean; result?: LoadResult; error?: string }) => {
      clearTimeout(limit);
      if (message.ok) resolve(message.result!);
      else reject(new Error(`load generator: ${message.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(limit);
      reject(new Error(`the load generator exited with code ${code}`));
    });
    child.send(job);
  });
}

export async function benchHttp(): Promise<HttpResult> {
  const result: HttpResult = {
    skipped: null,
    levels: LEVELS,
    duration_s: DURATION_S,
    upload_body: 'raw image/jpeg',
    service_env: tuningEnv(),
    services: [],
    rows: [],
    paired: [],
  };
  result.skipped = serviceMissing();
  if (result.skipped) {
    log(`http: skipped: ${result.skipped}`);
    return result;
  }
  const files = imagenetImages();
  const images = await startImageServer(files);
  try {
    for (const model of MODELS) {
      let service: Awaited<ReturnType<typeof startService>>;
      const raw = await rawRate(model, 8);
      log(`http ${model.name}: the model alone at batch 8 right now: ${raw.images_per_s} img/s`);
      try {
        service = await startService(model, raw.images_per_s);
      } catch (err) {
        result.skipped = `the service could not be started (${model.name}): ${err instanceof Error ? err.message : String(err)}`;
        log(`http: skipped: ${result.skipped}`);
        return result;
      }
      log(`http ${model.name}: service ready on 127.0.0.1:${service.port} in ${service.info.startup_ms} ms`);
      const target = `http://127.0.0.1:${service.port}`;
      try {
        // The first batches of each size are slow (ONNX Runtime plans memory per shape): not measured.
        await runLoad({
          target,
          mode: 'upload',
          connections: 16,
          durationS: WARMUP_S,
          maxRequests: MAX_REQUESTS,
          timeoutS: 60,
          images: files,
        });
        for (const mode of ['upload', 'url'] as const) {
          for (const connections of LEVELS) {
            const measured = await measureQuietly(`http ${model.name} ${mode} c=${connections}`, async () => {
              await waitForIdle(service.child.pid!);
              await waitForQuiet();
              const cpuBefore = cpuSnapshot();
              const serviceBefore = await serviceCpu(target);
              const load = await runLoad({
                target,
                mode,
                connections,
                durationS: DURATION_S,
                maxRequests: MAX_REQUESTS,
                timeoutS: 60,
                images: mode === 'upload' ? files : images.urls,
              });
              const other_load_cores = otherBusyCores(cpuBefore, cpuSnapshot());
              await waitForIdle(service.child.pid!);
              const cpuAfter = cpuSnapshot();
              const machineBusy = cpuBefore && cpuAfter ? cpuAfter.machineBusy - cpuBefore.machineBusy : null;
              return {
                ...load,
                other_load_cores,
                cpu_ms_per_request: cpuPerRequest(serviceBefore, await serviceCpu(target), machineBusy, load),
              };
            });
            const row: HttpRow = {
              model: model.name,
              mode,
              ...measured,
              service_peak_rss_mb: memoryOf(service.child.pid!).peak_rss_mb,
            };
            row.requests_per_s = round(row.requests_per_s) ?? 0;
            result.rows.push(row);
            log(
              `http ${model.name} ${mode} c=${connections}: ${row.requests_per_s} req/s, p50 ${row.latency_ms_p50} p95 ${row.latency_ms_p95} p99 ${row.latency_ms_p99} ms, ` +
                `errors ${row.errors + row.non_2xx}, peak RSS ${row.service_peak_rss_mb} MB, other load ${row.other_load_cores}${row.first_error ? ` (${row.first_error.slice(0, 120)})` : ''}`,
            );
          }
        }
        const paired = await measurePaired(
          model,
          (durationS) =>
            runLoad({
              target,
              mode: 'upload',
              connections: PAIRED_CONNECTIONS,
              durationS,
              maxRequests: MAX_REQUESTS,
              timeoutS: 60,
              images: files,
            }),
          async () => {
            await waitForIdle(service.child.pid!);
            await waitForQuiet();
          },
        );
        result.paired.push(paired);
        log(
          `paired ${model.name}: e2e ÷ raw batch 8 = ${paired.ratio} (rounds ${paired.ratio_min}-${paired.ratio_max}), ÷ parallel sessions = ${paired.ratio_vs_lanes}`,
        );
      } finally {
        service.info.peak_rss_mb = memoryOf(service.child.pid!).peak_rss_mb;
        // Let abandoned requests finish so shutdown does not cut them off (and log them as errors).
        await waitForIdle(service.child.pid!).catch(() => {});
        result.services.push(service.info);
        await stopChild(service.child);
      }
    }
  } finally {
    log(`http: image server answered ${await images.served()} requests`);
    await images.stop();
  }
  return result;
}
