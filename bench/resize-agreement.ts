/**
 * RESIZE=auto (and fast) against exact on camera-size photos (issue 18 point 2): top-1 agreement
 * and |Δp| of exact's top-1 class, for the shared MobileNetV2 and the untrained ResNet-50 (whose
 * rankings mean nothing, but whose numbers show how far the tensors moved). Photos: every file of
 * ../shared/images/camera (recursively) of 8 megapixels and more that decodes, the shark photo and
 * 1080p frames of the shared clips (extracted with ffmpeg into a temporary folder). A re-encode of
 * each photo at JPEG quality 95, prepared exactly, gives the model's noise floor for comparison.
 *
 *   node --import tsx bench/resize-agreement.ts [--margins 2,3,4] [--out bench/results/resize-agreement]
 *
 * Runs the models in this process (onnxruntime-node, one thread each), no service.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { DEFAULT_PREPROCESS_OPTIONS, preparePixels, type PreprocessOptions } from '../src/engine/preprocess.ts';
import { SHRINK_MARGIN, shrinkOptionsOf } from '../src/engine/shrink-on-load.ts';
import { tensorOf } from '../src/engine/tensor.ts';
import { cameraSizePhotos } from './camera-size.ts';
import { CAMERA_IMAGE, log, repoRoot, sharedDir } from './common.ts';

const CAMERA_DIR = path.join(sharedDir, 'images', 'camera');
const VIDEOS_DIR = path.join(sharedDir, 'videos');
const AGREEMENT_MODELS = [
  { name: 'MobileNetV2 int8', path: path.join(sharedDir, 'models', 'mobilenetv2-12-int8.onnx') },
  { name: 'ResNet-50 untrained', path: path.join(sharedDir, 'models', 'bench', 'resnet50-untrained.onnx') },
];

interface Photo {
  name: string;
  bytes: Buffer;
  width: number;
  height: number;
}

interface Cell {
  top1_same: boolean;
  /** |p(mode) - p(exact)| of exact's top-1 class. */
  dp: number;
}

interface PhotoRow {
  photo: string;
  size: string;
  /** Pixels the decoder produced per mode. */
  decoded: Record<string, string>;
  models: Record<string, { exact_top1: number; exact_p: number; modes: Record<string, Cell> }>;
}

async function photoOf(file: string, name: string): Promise<Photo | null> {
  const bytes = readFileSync(file);
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) return null;
    // Only what decodes: jpg/corrupted.jpg is really corrupt.
    await preparePixels(bytes, DEFAULT_PREPROCESS_OPTIONS);
    return { name, bytes, width: meta.width, height: meta.height };
  } catch {
    return null;
  }
}

/** Three 1080p frames of each clip (evenly spaced), as JPEG like a frame grabber writes; smaller clips scaled up to 1080p. */
function extractFrames(dir: string): string[] {
  const files: string[] = [];
  for (const clip of readdirSync(VIDEOS_DIR).filter((f) => f.endsWith('.mp4'))) {
    const input = path.join(VIDEOS_DIR, clip);
    const probe = ['-v', 'error', '-show_entries', 'format=duration:stream=height', '-select_streams', 'v:0'];
    const [height, duration] = execFileSync('ffprobe', [...probe, '-of', 'csv=p=0', input], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .map(Number);
    for (let k = 0; k < 3; k++) {
      const file = path.join(dir, `${clip.replace(/\.mp4$/, '')}${height < 1080 ? `-up${height}p` : ''}-${k + 1}.jpg`);
      const at = ((duration * k) / 3).toFixed(3);
      execFileSync('ffmpeg', [
        '-v',
        'error',
        '-ss',
        at,
        '-i',
        input,
        '-vf',
        'scale=-2:1080',
        '-frames:v',
        '1',
        '-q:v',
        '2',
        file,
      ]);
      if (existsSync(file)) files.push(file); // a clip of a few frames may end before the last timestamp
    }
  }
  return files;
}

async function photos(framesDir: string): Promise<Photo[]> {
  const found: Photo[] = [];
  for (const file of await cameraSizePhotos()) {
    const name = file === CAMERA_IMAGE ? 'photos/test_image_shark.jpg' : path.relative(CAMERA_DIR, file);
    const photo = await photoOf(file, name);
    if (photo) found.push(photo);
  }
  for (const file of extractFrames(framesDir)) {
    const frame = await photoOf(file, `frames/${path.basename(file)}`);
    if (frame) found.push(frame);
  }
  return found;
}

function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

function argmax(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

async function probabilities(session: ort.InferenceSession, tensor: Float32Array): Promise<Float64Array> {
  const input = new ort.Tensor('float32', tensor, [1, 3, 224, 224]);
  const out = await session.run({ [session.inputNames[0]]: input });
  return softmax(out[session.outputNames[0]].data as Float32Array);
}

function argList(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const margins = (argList('--margins') ?? '')
    .split(',')
    .filter(Boolean)
    .map(Number)
    .filter((m) => !SHRINK_MARGIN.auto || m !== SHRINK_MARGIN.auto);
  const out = argList('--out') ?? path.join(repoRoot, 'bench', 'results', 'resize-agreement');
  const modes: Record<string, PreprocessOptions> = {
    exact: { ...DEFAULT_PREPROCESS_OPTIONS, ...shrinkOptionsOf('exact') },
    auto: { ...DEFAULT_PREPROCESS_OPTIONS, ...shrinkOptionsOf('auto') },
    fast: { ...DEFAULT_PREPROCESS_OPTIONS, ...shrinkOptionsOf('fast') },
  };
  for (const m of margins) modes[`${m}x`] = { ...DEFAULT_PREPROCESS_OPTIONS, shrinkOnLoad: true, shrinkMargin: m };
  const framesDir = mkdtempSync(path.join(tmpdir(), 'resize-agreement-'));
  try {
    const set = await photos(framesDir);
    log(`${set.length} photos`);
    const tensors = new Map<string, Map<string, Float32Array>>();
    const rows: PhotoRow[] = [];
    for (const photo of set) {
      const perMode = new Map<string, Float32Array>();
      const decoded: Record<string, string> = {};
      for (const [mode, options] of Object.entries(modes)) {
        const r = await preparePixels(photo.bytes, options);
        perMode.set(mode, tensorOf(r.pixels, options.size, options.layout));
        decoded[mode] = `${r.decoded.width}x${r.decoded.height}`;
      }
      // The noise floor: the same photo re-encoded at JPEG quality 95, prepared exactly.
      // (Not for HEIC: sharp cannot read it to re-encode; that row shows a dash.)
      const reencoded = await sharp(photo.bytes)
        .rotate()
        .jpeg({ quality: 95 })
        .toBuffer()
        .catch(() => null);
      if (reencoded) perMode.set('q95', tensorOf((await preparePixels(reencoded, modes.exact)).pixels, 224, 'NCHW'));
      tensors.set(photo.name, perMode);
      rows.push({ photo: photo.name, size: `${photo.width}x${photo.height}`, decoded, models: {} });
    }
    for (const model of AGREEMENT_MODELS) {
      const session = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      for (const row of rows) {
        const perMode = tensors.get(row.photo) as Map<string, Float32Array>;
        const exact = await probabilities(session, perMode.get('exact') as Float32Array);
        const top = argmax(exact);
        const cells: Record<string, Cell> = {};
        for (const [mode, tensor] of perMode) {
          if (mode === 'exact') continue;
          const p = await probabilities(session, tensor);
          cells[mode] = { top1_same: argmax(p) === top, dp: Math.abs(p[top] - exact[top]) };
        }
        row.models[model.name] = { exact_top1: top, exact_p: exact[top], modes: cells };
      }
      await session.release();
      log(`${model.name} done`);
    }
    const markdown = toMarkdown(rows, [...Object.keys(modes).filter((m) => m !== 'exact'), 'q95']);
    writeFileSync(`${out}.json`, `${JSON.stringify(rows, null, 2)}\n`);
    writeFileSync(`${out}.md`, markdown);
    process.stdout.write(markdown);
  } finally {
    rmSync(framesDir, { recursive: true, force: true });
  }
}

const f3 = (x: number) => x.toFixed(3);

function toMarkdown(rows: PhotoRow[], modes: string[]): string {
  const lines: string[] = ['## Summary', ''];
  lines.push('| model | mode | photos shrunk | top-1 same | mean abs Δp | max abs Δp |', '|---|---|---|---|---|---|');
  for (const model of AGREEMENT_MODELS) {
    for (const mode of modes) {
      const cells = rows.flatMap((r) => r.models[model.name].modes[mode] ?? []);
      const shrunk =
        mode === 'q95' ? '(all re-encoded)' : String(rows.filter((r) => r.decoded[mode] !== r.decoded.exact).length);
      const same = cells.filter((c) => c.top1_same).length;
      const dps = cells.map((c) => c.dp);
      lines.push(
        `| ${model.name} | ${mode} | ${shrunk} | ${same}/${cells.length} | ${f3(dps.reduce((a, b) => a + b, 0) / dps.length)} | ${f3(Math.max(...dps))} |`,
      );
    }
  }
  lines.push('', '## Per photo', '');
  lines.push(
    `| photo | size | ${modes
      .map((m) => `decoded (${m})`)
      .filter((_, i) => modes[i] !== 'q95')
      .join(' | ')} | model | exact top-1 (p) | ${modes.map((m) => `${m}: same, abs Δp`).join(' | ')} |`,
  );
  lines.push(`|${'---|'.repeat(3 + modes.length - 1 + 2 + modes.length)}`);
  for (const row of rows) {
    for (const model of AGREEMENT_MODELS) {
      const m = row.models[model.name];
      const decoded = modes.filter((x) => x !== 'q95').map((x) => row.decoded[x]);
      const cells = modes.map((x) => {
        const c = m.modes[x];
        return c ? `${c.top1_same ? 'yes' : '**no**'}, ${f3(c.dp)}` : '–';
      });
      lines.push(
        `| ${row.photo} | ${row.size} | ${decoded.join(' | ')} | ${model.name} | ${m.exact_top1} (${f3(m.exact_p)}) | ${cells.join(' | ')} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
