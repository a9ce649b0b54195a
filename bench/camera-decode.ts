/**
 * Where a camera-size photo's extra time goes, and the most any decoder shrink can give back
 * (issue 18 point 3): CPU ms per photo of decode + resize + crop (`preparePixels`, one photo at a
 * time) for RESIZE=exact, auto and fast, and for the deepest shrink a JPEG decoder has (1/8, DCT
 * scaling), against ImageNet-size photos. CPU time, not wall time: it holds on a shared machine.
 *
 * The ceiling: a camera-size upload costs at least what an ImageNet-size one costs (C, the
 * machine's CPU per request at 16 clients: cores ÷ req/s) plus the extra decoding even at 1/8
 * (d8 − dI), so camera ÷ ImageNet ≤ C / (C + d8 − dI), whatever the rest of the service does.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions, preparePixels } from '../src/engine/preprocess.ts';
import { shrinkOptionsOf } from '../src/engine/shrink-on-load.ts';
import { log, quick, round } from './common.ts';

export interface DecodeCostRow {
  photo: string;
  size: string;
  /** CPU ms per photo. */
  exact: number;
  auto: number;
  fast: number;
  /** The decoder at 1/8 (a shrink margin of 1: short side to 256 while decoding). */
  eighth: number;
}

export interface DecodeCost {
  camera: DecodeCostRow[];
  /** Mean CPU ms per ImageNet-size photo, exact path. */
  imagenet_exact_ms: number;
}

const VARIANTS: Record<'exact' | 'auto' | 'fast' | 'eighth', PreprocessOptions> = {
  exact: { ...DEFAULT_PREPROCESS_OPTIONS, ...shrinkOptionsOf('exact') },
  auto: { ...DEFAULT_PREPROCESS_OPTIONS, ...shrinkOptionsOf('auto') },
  fast: { ...DEFAULT_PREPROCESS_OPTIONS, ...shrinkOptionsOf('fast') },
  eighth: { ...DEFAULT_PREPROCESS_OPTIONS, shrinkOnLoad: true, shrinkMargin: 1 },
};

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms per preparePixels of these photos (mean over photos and repetitions, after one warm-up each). */
async function cpuPerPhoto(files: Buffer[], options: PreprocessOptions, reps: number): Promise<number> {
  for (const bytes of files) await preparePixels(bytes, options);
  const start = cpuMs();
  for (let r = 0; r < reps; r++) for (const bytes of files) await preparePixels(bytes, options);
  return (cpuMs() - start) / (reps * files.length);
}

export async function benchCameraDecode(camera: string[], imagenet: string[]): Promise<DecodeCost> {
  const reps = quick ? 1 : 5;
  const rows: DecodeCostRow[] = [];
  for (const file of camera) {
    const bytes = [readFileSync(file)];
    const cost = async (v: keyof typeof VARIANTS) => round(await cpuPerPhoto(bytes, VARIANTS[v], reps)) ?? 0;
    const prepared = await preparePixels(bytes[0], VARIANTS.exact);
    rows.push({
      photo: path.basename(file),
      size: `${prepared.image.width}x${prepared.image.height}`,
      exact: await cost('exact'),
      auto: await cost('auto'),
      fast: await cost('fast'),
      eighth: await cost('eighth'),
    });
    log(`camera-decode ${rows.at(-1)?.photo}: ${JSON.stringify(rows.at(-1))}`);
  }
  const small = imagenet.map((f) => readFileSync(f));
  const imagenetMs = round(await cpuPerPhoto(small, VARIANTS.exact, quick ? 1 : 3)) ?? 0;
  log(`camera-decode: ImageNet-size ${imagenetMs} ms CPU per photo`);
  return { camera: rows, imagenet_exact_ms: imagenetMs };
}

/** camera ÷ ImageNet can be at most this, from the ImageNet-size rate (req/s on `cores`) and the decode costs. */
export function decodeCeiling(cost: DecodeCost, imagenetRequestsPerS: number, cores: number): number | null {
  if (!cost.camera.length || !(imagenetRequestsPerS > 0)) return null;
  const perRequest = (cores * 1000) / imagenetRequestsPerS;
  const eighth = cost.camera.reduce((a, r) => a + r.eighth, 0) / cost.camera.length;
  return round(perRequest / (perRequest + Math.max(0, eighth - cost.imagenet_exact_ms)), 3);
}
