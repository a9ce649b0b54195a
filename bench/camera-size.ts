/**
 * Camera-size photos against ImageNet-size ones (issue 18 point 3) and the two ResNet-50 variants
 * (issue 19 point 4), each in alternating slices of one run, so that the machine's drift and other
 * users' load hit both sides of every ratio alike.
 *
 * - Service: uploads at 16 clients, ImageNet-size JPEGs and camera-size (≥ 8 MP) JPEGs in turn,
 *   per model, with RESIZE=exact (the default) and RESIZE=auto side by side.
 * - CLI: `classify <folder>` on a folder of camera-size photos and one of ImageNet-size photos.
 * - ResNet-50 fp32 and int8 (QDQ): the model alone (batch 8), the engine in-process (16 callers),
 *   the service (16 clients) and CPU per request, in turn.
 *
 *   node --import tsx bench/camera-size.ts     (after npm run build; BENCH_QUICK=1 for one short round)
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createClassifier } from '../src/engine/classifier.ts';
import { DEFAULT_PREPROCESS_OPTIONS, preparePixels } from '../src/engine/preprocess.ts';
import { loadSession } from '../src/engine/session.ts';
import type { ResizeMode } from '../src/settings/table.ts';
import {
  BUILT_CLI,
  CAMERA_IMAGE,
  cores,
  cpuSnapshot,
  imagenetImages,
  log,
  MODELS,
  quick,
  repoRoot,
  resultsDir,
  round,
  sharedDir,
  spawnTracked,
  stopChild,
  syntheticInput,
  killAllChildren,
} from './common.ts';
import { benchCameraDecode, type DecodeCost, decodeCeiling } from './camera-decode.ts';
import { cpuPerRequest, type CpuPerRequest, runLoad, serviceCpu, startService, waitForIdle } from './http-load.ts';
import type { LoadResult } from './load-client.ts';

const CAMERA_DIR = path.join(sharedDir, 'images', 'camera');
/** 3264x2448 (7.99 MP) is what "8 megapixels" means on a phone. */
export const CAMERA_MIN_PIXELS = 7_900_000;
const ROUNDS = quick ? 1 : 3;
const SLICE_S = quick ? 2 : 4;
const RAW_SLICE_MS = SLICE_S * 1000;
const CLIENTS = 16;
const RESIZES: ResizeMode[] = ['exact', 'auto'];
export const RESNET_VARIANTS = [
  { name: 'resnet50-fp32', path: path.join(sharedDir, 'models', 'bench', 'resnet50-untrained.onnx') },
  { name: 'resnet50-int8-qdq', path: path.join(sharedDir, 'models', 'bench', 'resnet50-untrained-int8-qdq.onnx') },
];

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = path.join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** Every camera-size (≥ 8 MP) photo in ../shared/images/camera that decodes, and the shark photo; `jpegOnly` for uploads. */
export async function cameraSizePhotos(jpegOnly = false): Promise<string[]> {
  const found: string[] = [];
  for (const file of [...walk(CAMERA_DIR), CAMERA_IMAGE]) {
    try {
      const bytes = readFileSync(file);
      const meta = await sharp(bytes).metadata();
      if ((meta.width ?? 0) * (meta.height ?? 0) < CAMERA_MIN_PIXELS) continue;
      if (jpegOnly && meta.format !== 'jpeg') continue;
      await preparePixels(bytes, DEFAULT_PREPROCESS_OPTIONS); // jpg/corrupted.jpg is really corrupt
      found.push(file);
    } catch {
      // not an image, or not one that decodes
    }
  }
  return found;
}

interface Slice {
  requests_per_s: number;
  latency_ms_p99: number | null;
  errors: number;
}

export interface CameraHttpRow {
  model: string;
  resize: ResizeMode;
  rounds: { imagenet: Slice; camera: Slice }[];
  /** Sum of camera-size req/s ÷ sum of ImageNet-size req/s over the rounds. */
  ratio: number | null;
  peak_rss_mb: number | null;
}

export interface CameraCliRow {
  model: string;
  resize: ResizeMode;
  imagenet_images_per_s: number | null;
  camera_images_per_s: number | null;
  ratio: number | null;
}

export interface VariantRound {
  variant: string;
  raw_images_per_s: number;
  engine_images_per_s: number;
  service_requests_per_s: number;
  service_p99_ms: number | null;
  cpu_ms_per_request: CpuPerRequest | null;
}

export interface CameraSizeResult {
  camera_photos: string[];
  imagenet_photos: number;
  slice_s: number;
  rounds: number;
  http: CameraHttpRow[];
  cli: CameraCliRow[];
  cli_folders: { camera: number; imagenet: number };
  resnet_variants: VariantRound[];
  /** CPU per photo of decoding, per RESIZE and at the decoder's deepest shrink (camera-decode.ts). */
  decode: DecodeCost | null;
}

const sliceOf = (r: LoadResult): Slice => ({
  requests_per_s: round(r.requests_per_s) ?? 0,
  latency_ms_p99: r.latency_ms_p99,
  errors: r.errors + r.non_2xx,
});
const ratioOf = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(3)) : null);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function load(target: string, images: string[], durationS = SLICE_S): Promise<LoadResult> {
  return runLoad({ target, mode: 'upload', connections: CLIENTS, durationS, maxRequests: 5000, timeoutS: 60, images });
}

/** Per model: a service with RESIZE=exact and one with RESIZE=auto, both up, loaded in turn. */
async function benchHttpCamera(camera: string[], imagenet: string[]): Promise<CameraHttpRow[]> {
  const rows: CameraHttpRow[] = [];
  for (const model of MODELS) {
    const services = [];
    try {
      for (const resize of RESIZES) services.push({ resize, ...(await startService(model, null, { RESIZE: resize })) });
      for (const s of services) await load(`http://127.0.0.1:${s.port}`, [...imagenet, ...camera], 2); // warm-up
      const perService = services.map((s) => ({ ...s, rounds: [] as CameraHttpRow['rounds'] }));
      for (let r = 0; r < ROUNDS; r++) {
        for (const s of perService) {
          const target = `http://127.0.0.1:${s.port}`;
          await waitForIdle(s.child.pid!);
          const a = sliceOf(await load(target, imagenet));
          await waitForIdle(s.child.pid!);
          const b = sliceOf(await load(target, camera));
          s.rounds.push({ imagenet: a, camera: b });
          log(
            `camera-size http ${model.name} RESIZE=${s.resize} round ${r + 1}: ImageNet-size ${a.requests_per_s} req/s, camera-size ${b.requests_per_s} req/s (p99 ${b.latency_ms_p99} ms)`,
          );
        }
      }
      for (const s of perService) {
        await waitForIdle(s.child.pid!);
        rows.push({
          model: model.name,
          resize: s.resize,
          rounds: s.rounds,
          ratio: ratioOf(
            sum(s.rounds.map((x) => x.camera.requests_per_s)),
            sum(s.rounds.map((x) => x.imagenet.requests_per_s)),
          ),
          peak_rss_mb: null,
        });
      }
    } finally {
      for (const s of services) await stopChild(s.child);
    }
  }
  return rows;
}

async function cliRate(modelPath: string, folder: string, resize: ResizeMode, files: number): Promise<number | null> {
  const started = performance.now();
  const child = spawnTracked(process.execPath, [BUILT_CLI, 'classify', folder, '--format', 'jsonl'], {
    cwd: repoRoot,
    env: { ...process.env, MODEL_PATH: modelPath, RESIZE: resize },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let lines = 0;
  child.stdout!.on('data', (chunk: Buffer) => (lines += chunk.toString().split('\n').length - 1));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wall = performance.now() - started;
  if (code !== 0 || lines !== files) return null;
  return round((files * 1000) / wall);
}

/** The CLI on two folders of the same number of files: camera-size photos (repeated) and ImageNet-size ones. */
async function benchCliCamera(camera: string[], imagenet: string[]): Promise<{ rows: CameraCliRow[]; files: number }> {
  // Copies in the system's temporary folder (the CLI does not follow symbolic links; nothing lands in the repo).
  const dir = mkdtempSync(path.join(tmpdir(), 'camera-cli-'));
  const files = quick ? 12 : 36;
  const fill = (name: string, from: string[]) => {
    const folder = path.join(dir, name);
    mkdirSync(folder);
    for (let i = 0; i < files; i++)
      copyFileSync(from[i % from.length], path.join(folder, `${String(i).padStart(3, '0')}.jpg`));
    return folder;
  };
  const cameraFolder = fill('camera', camera);
  const imagenetFolder = fill('imagenet', imagenet);
  const rows: CameraCliRow[] = [];
  try {
    for (const model of MODELS) {
      for (const resize of RESIZES) {
        const a = await cliRate(model.path, imagenetFolder, resize, files);
        const b = await cliRate(model.path, cameraFolder, resize, files);
        rows.push({
          model: model.name,
          resize,
          imagenet_images_per_s: a,
          camera_images_per_s: b,
          ratio: a && b ? ratioOf(b, a) : null,
        });
        log(`camera-size cli ${model.name} RESIZE=${resize}: ImageNet-size ${a} img/s, camera-size ${b} img/s`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, files };
}

/** ResNet-50 fp32 and int8: the model alone, the engine, the service and its CPU per request, in turn, round after round. */
async function benchResnetVariants(imagenet: string[]): Promise<VariantRound[]> {
  const inputs = imagenet.map((f) => readFileSync(f));
  const out: VariantRound[] = [];
  const services = [];
  const engines = [];
  const sessions = [];
  try {
    for (const v of RESNET_VARIANTS) {
      services.push(await startService(v, null));
      sessions.push(await loadSession(v.path, { intraOpThreads: cores, executionProvider: 'cpu' }));
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, v] of RESNET_VARIANTS.entries()) {
        const service = services[i];
        const target = `http://127.0.0.1:${service.port}`;
        if (r === 0) await load(target, imagenet, 2); // warm-up
        await waitForIdle(service.child.pid!);
        // The model alone, batch 8, every core.
        const session = sessions[i];
        const input = syntheticInput(3 * session.signature.size * session.signature.size * 8);
        for (let w = 0; w < 2; w++) await session.run(input, 8);
        let images = 0;
        const rawStarted = performance.now();
        while (performance.now() - rawStarted < RAW_SLICE_MS) {
          await session.run(input, 8);
          images += 8;
        }
        const raw = (images * 1000) / (performance.now() - rawStarted);
        // The engine in this process, 16 callers (started per slice: two idle engines would hold memory and threads).
        const engine = await createClassifier({ modelPath: v.path });
        engines.push(engine);
        let next = 0;
        let done = 0;
        const drive = async (ms: number) => {
          const until = performance.now() + ms;
          await Promise.all(
            Array.from({ length: CLIENTS }, async () => {
              while (performance.now() < until) {
                await engine.classify(inputs[next++ % inputs.length]);
                done++;
              }
            }),
          );
        };
        await drive(1000);
        done = 0;
        const engineStarted = performance.now();
        await drive(RAW_SLICE_MS);
        const engineRate = (done * 1000) / (performance.now() - engineStarted);
        await engine.close();
        engines.pop();
        // The service, 16 clients, with CPU per request from its /metrics and /proc/stat.
        const cpuBefore = cpuSnapshot();
        const serviceBefore = await serviceCpu(target);
        const result = await load(target, imagenet);
        await waitForIdle(service.child.pid!);
        const cpuAfter = cpuSnapshot();
        const machineBusy = cpuBefore && cpuAfter ? cpuAfter.machineBusy - cpuBefore.machineBusy : null;
        const row: VariantRound = {
          variant: v.name,
          raw_images_per_s: round(raw) ?? 0,
          engine_images_per_s: round(engineRate) ?? 0,
          service_requests_per_s: round(result.requests_per_s) ?? 0,
          service_p99_ms: result.latency_ms_p99,
          cpu_ms_per_request: cpuPerRequest(serviceBefore, await serviceCpu(target), machineBusy, result),
        };
        out.push(row);
        log(
          `resnet ${v.name} round ${r + 1}: raw ${row.raw_images_per_s} img/s, engine ${row.engine_images_per_s} img/s, service ${row.service_requests_per_s} req/s, CPU/request ${JSON.stringify(row.cpu_ms_per_request)}`,
        );
      }
    }
  } finally {
    for (const e of engines) await e.close();
    sessions.length = 0; // ONNX Runtime frees them with the process
    for (const s of services) await stopChild(s.child);
  }
  return out;
}

export async function benchCameraSize(): Promise<CameraSizeResult> {
  const camera = await cameraSizePhotos(true);
  const imagenet = imagenetImages();
  log(`camera-size: ${camera.length} photos: ${camera.map((f) => path.basename(f)).join(', ')}`);
  const parts = (process.env.CAMERA_PARTS ?? 'decode,http,cli,resnet').split(',');
  const decode = parts.includes('decode') ? await benchCameraDecode(camera, imagenet) : null;
  const http = parts.includes('http') ? await benchHttpCamera(camera, imagenet) : [];
  const cli = parts.includes('cli') ? await benchCliCamera(camera, imagenet) : { rows: [], files: 0 };
  const resnet = parts.includes('resnet') ? await benchResnetVariants(imagenet) : [];
  return {
    camera_photos: camera.map((f) => path.relative(sharedDir, f)),
    imagenet_photos: imagenet.length,
    slice_s: SLICE_S,
    rounds: ROUNDS,
    http,
    cli: cli.rows,
    cli_folders: { camera: cli.files, imagenet: cli.files },
    resnet_variants: resnet,
    decode,
  };
}

function decodeMarkdown(d: DecodeCost): string[] {
  return [
    `CPU ms per photo, decode + resize + crop, one at a time (ImageNet-size photos: ${f1(d.imagenet_exact_ms)} ms):`,
    '',
    '| photo | size | exact | auto | fast | decoder at 1/8 |',
    '|---|---|---|---|---|---|',
    ...d.camera.map(
      (x) => `| ${x.photo} | ${x.size} | ${f1(x.exact)} | ${f1(x.auto)} | ${f1(x.fast)} | ${f1(x.eighth)} |`,
    ),
    '',
  ];
}

const mean = (values: number[]) => (values.length ? sum(values) / values.length : Number.NaN);
const f1 = (x: number | null | undefined) => (x == null || Number.isNaN(x) ? '–' : x.toFixed(1));

export function cameraSizeMarkdown(r: CameraSizeResult): string {
  const out: string[] = [];
  out.push(
    `## Camera-size photos (issue 18): ${r.camera_photos.length} JPEGs of 8 MP and more against the ${r.imagenet_photos} ImageNet-size ones, alternating ${r.slice_s} s slices, ${r.rounds} rounds`,
    '',
  );
  if (r.decode) out.push(...decodeMarkdown(r.decode));
  if (r.http.length) {
    out.push(
      '| model | RESIZE | ImageNet-size req/s | camera-size req/s | camera p99 ms | camera ÷ ImageNet | ceiling at 1/8 decoding | goal |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const row of r.http) {
      const goal = row.model.startsWith('mobilenet') ? 0.5 : 0.8;
      const imagenetRate = mean(row.rounds.map((x) => x.imagenet.requests_per_s));
      const ceiling = r.decode ? decodeCeiling(r.decode, imagenetRate, cores) : null;
      out.push(
        `| ${row.model} | ${row.resize} | ${f1(imagenetRate)} | ${f1(mean(row.rounds.map((x) => x.camera.requests_per_s)))} | ${f1(Math.max(...row.rounds.map((x) => x.camera.latency_ms_p99 ?? 0)))} | ${row.ratio ?? '–'} | ${ceiling ?? '–'} | ≥ ${goal}: ${row.ratio != null && row.ratio >= goal ? 'met' : 'not met'} |`,
      );
    }
    out.push(
      '',
      'Ceiling: an upload of a camera-size photo costs at least an ImageNet-size one (cores ÷ its req/s) plus the extra decoding at the deepest shrink a JPEG decoder has (1/8), so camera ÷ ImageNet cannot exceed it.',
      '',
    );
  }
  if (r.cli.length) {
    out.push(
      `CLI \`classify <folder>\`, ${r.cli_folders.camera} files per folder, wall clock with start-up:`,
      '',
      '| model | RESIZE | ImageNet-size img/s | camera-size img/s | camera ÷ ImageNet |',
      '|---|---|---|---|---|',
    );
    for (const row of r.cli)
      out.push(
        `| ${row.model} | ${row.resize} | ${f1(row.imagenet_images_per_s)} | ${f1(row.camera_images_per_s)} | ${row.ratio ?? '–'} |`,
      );
    out.push('');
  }
  if (r.resnet_variants.length) {
    out.push(
      `## ResNet-50 fp32 and int8 (issue 19): alternating ${r.slice_s} s slices, ${r.rounds} rounds, means`,
      '',
      '| variant | model alone, batch 8 (img/s) | engine, 16 callers (img/s) | service, 16 clients (req/s) | service ÷ model alone | CPU ms/request: model | rest of service | load generator | machine |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const v of RESNET_VARIANTS) {
      const rows = r.resnet_variants.filter((x) => x.variant === v.name);
      const cpu = (k: keyof CpuPerRequest) =>
        mean(rows.flatMap((x) => (x.cpu_ms_per_request ? [x.cpu_ms_per_request[k]] : [])));
      const raw = sum(rows.map((x) => x.raw_images_per_s));
      const service = sum(rows.map((x) => x.service_requests_per_s));
      out.push(
        `| ${v.name} | ${f1(mean(rows.map((x) => x.raw_images_per_s)))} | ${f1(mean(rows.map((x) => x.engine_images_per_s)))} | ${f1(mean(rows.map((x) => x.service_requests_per_s)))} | ${ratioOf(service, raw) ?? '–'} | ${f1(cpu('model'))} | ${f1(cpu('service_rest'))} | ${f1(cpu('load_generator'))} | ${f1(cpu('machine'))} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

// Run on its own: node --import tsx bench/camera-size.ts
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(repoRoot, 'bench', 'camera-size.ts')) {
  benchCameraSize().then(
    (result) => {
      mkdirSync(resultsDir, { recursive: true });
      const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
      const base = path.join(resultsDir, `camera-size-${stamp}${quick ? '-quick' : ''}`);
      writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
      const markdown = cameraSizeMarkdown(result);
      writeFileSync(`${base}.md`, `${markdown}\n`);
      process.stdout.write(`${markdown}\n`);
      killAllChildren();
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      killAllChildren();
      process.exit(1);
    },
  );
}
