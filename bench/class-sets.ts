/**
 * Issue 15, point 9: what custom classes cost.
 *  1. Adding N examples (embed each photo as `classes create` does, then one transaction into a
 *     SQLite store) against classifying the same N photos: goal at most +10 %.
 *  2. Classifying with a class set against without, the same engine and photos: goal at most +5 %.
 *  Both in alternating slices within one run, so a machine busy with other work slows both sides
 *  alike; ratios are of the sums over the rounds, in wall time and in the process's CPU time.
 *  3. A set of 100,000 examples (synthetic unit vectors of the model's width, 1,000 labels):
 *     brute-force dot products over one Float32Array per photo, alone and 8 photos per pass, and
 *     the set as classification uses it (customClassesOf); goal at most 5 ms of search per photo.
 *
 *   node --import tsx bench/class-sets.ts      # alone; `npm run bench` runs it as one part
 *   CLASS_BENCH_ROUNDS=3 CLASS_BENCH_PHOTOS=100 CLASS_BENCH_EXAMPLES=100000
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { customClassesOf, modelFingerprintOf, SqliteClassSetStore } from '../src/classes/index.ts';
import type { ClassMatrix, ExampleInput } from '../src/classes/types.ts';
import { type Classifier, createClassifier } from '../src/engine/classifier.ts';
import type { CustomClasses } from '../src/engine/types.ts';
import { imagenetImages, log, quick, round, sharedDir } from './common.ts';

const MODEL = process.env.MODEL_PATH ?? path.join(sharedDir, 'models', 'mobilenetv2-12-int8.onnx');
const FISH = path.join(sharedDir, 'fewshot', 'fish4knowledge');
const ROUNDS = Number(process.env.CLASS_BENCH_ROUNDS ?? (quick ? 2 : 3));
const PHOTOS = Number(process.env.CLASS_BENCH_PHOTOS ?? (quick ? 60 : 120));
const EXAMPLES = Number(process.env.CLASS_BENCH_EXAMPLES ?? 100_000);
const LABELS = 1000;
const QUERIES = 24;

export interface PairedCost {
  rounds: number;
  photos_per_slice: number;
  /** Sums over the rounds, seconds. */
  base_wall_s: number;
  measured_wall_s: number;
  base_cpu_s: number;
  measured_cpu_s: number;
  /** measured ÷ base − 1, in percent. */
  wall_extra_pct: number | null;
  cpu_extra_pct: number | null;
}

export interface LargeSetSearch {
  examples: number;
  labels: number;
  dim: number;
  /** The one Float32Array of rows × dim. */
  matrix_mb: number;
  /** Brute force: every example's dot product with the photo's embedding, the best 5 kept (wall ms, CPU ms). */
  brute_force_ms_per_photo: number | null;
  brute_force_cpu_ms_per_photo: number | null;
  /** The same, 8 photos per pass over the matrix (it is read once for all 8). */
  brute_force_batched_ms_per_photo: number | null;
  brute_force_batched_cpu_ms_per_photo: number | null;
  /** customClassesOf on the set: what `classify --classes` does once per run. */
  set_load_s: number | null;
  set_load_cpu_s: number | null;
  /** Its match() per photo, as classification calls it (wall ms; CPU ms, what a machine shared with other work cannot inflate). */
  set_match_ms_per_photo: number | null;
  set_match_cpu_ms_per_photo: number | null;
  set_method: string;
}

export interface ClassSetBench {
  model: string;
  add_vs_classify: PairedCost;
  with_vs_without_set: PairedCost & { set_examples: number; set_labels: number; set_load_s: number };
  large_set: LargeSetSearch;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Wall and CPU seconds (the whole process: ONNX Runtime and decode threads included) of `work`. */
async function timed(work: () => Promise<void>): Promise<[number, number]> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return [(performance.now() - started) / 1000, (used.user + used.system) / 1e6];
}

/** Alternates `base` and `measured` for ROUNDS rounds after one warm-up of each. */
async function paired(photos: number, base: () => Promise<void>, measured: () => Promise<void>): Promise<PairedCost> {
  await base();
  await measured();
  const wall: [number[], number[]] = [[], []];
  const cpu: [number[], number[]] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    // Which side goes first alternates too, so a slow spell does not always land on the same one.
    const order = r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const);
    for (const side of order) {
      const [w, c] = await timed(side === 0 ? base : measured);
      wall[side].push(w);
      cpu[side].push(c);
    }
  }
  const extra = (a: number, b: number) => round((b / a - 1) * 100);
  return {
    rounds: ROUNDS,
    photos_per_slice: photos,
    base_wall_s: Number(sum(wall[0]).toFixed(2)),
    measured_wall_s: Number(sum(wall[1]).toFixed(2)),
    base_cpu_s: Number(sum(cpu[0]).toFixed(2)),
    measured_cpu_s: Number(sum(cpu[1]).toFixed(2)),
    wall_extra_pct: extra(sum(wall[0]), sum(wall[1])),
    cpu_extra_pct: extra(sum(cpu[0]), sum(cpu[1])),
  };
}

/** The first photos of each fish species, `total` in all, with their species as label. */
function fishPhotos(total: number): { label: string; file: string }[] {
  const species = readdirSync(FISH, { withFileTypes: true }).filter((d) => d.isDirectory());
  const each = Math.max(1, Math.ceil(total / species.length));
  return species
    .flatMap((d) =>
      readdirSync(path.join(FISH, d.name))
        .sort()
        .slice(0, each)
        .map((file) => ({ label: d.name, file: path.join(FISH, d.name, file) })),
    )
    .slice(0, total);
}

async function classifyAll(classifier: Classifier, files: string[], classes: CustomClasses | null = null) {
  for await (const outcome of classifier.classifyMany(files, { classes })) if (outcome.error) throw outcome.error;
}

/** What `classes create` does: every photo embedded (as many in flight as the CLI keeps), then one write. */
async function addExamples(
  classifier: Classifier,
  store: SqliteClassSetStore,
  name: string,
  items: { label: string; file: string }[],
): Promise<void> {
  const examples: ExampleInput[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      const { vector, sha256 } = await classifier.embed(item.file);
      examples.push({ label: item.label, vector, sha256, source: item.file });
    }
  };
  await Promise.all(Array.from({ length: Math.max(4, classifier.settings.maxBatch * 2) }, worker));
  const model = await modelFingerprintOf(classifier.model);
  await store.create({ name, model, dim: examples[0].vector.length, threshold: null, examples });
}

/** Seeded unit vectors, one Float32Array: rows × dim. */
function syntheticMatrix(rows: number, dim: number, labels: number): ClassMatrix {
  const vectors = new Float32Array(rows * dim);
  let seed = 1;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31 - 0.5;
  };
  const labelOfRow = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    labelOfRow[r] = r % labels;
    const row = vectors.subarray(r * dim, (r + 1) * dim);
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      row[d] = random() + (d % labels === r % labels ? 1 : 0);
      norm += row[d] * row[d];
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) row[d] /= norm;
  }
  return {
    name: 'synthetic',
    model: { id: 'synthetic', sha256: '0'.repeat(64) },
    dim,
    threshold: null,
    labels: Array.from({ length: labels }, (_, i) => `label-${String(i).padStart(4, '0')}`),
    labelOfRow,
    vectors,
    rows,
    stamp: 'bench',
  };
}

/** Every row's dot product with each query in one pass over the matrix; the best 5 rows per query. */
function bruteForce(matrix: ClassMatrix, queries: Float32Array[]): number[][] {
  const { vectors, dim, rows } = matrix;
  const best = queries.map(() => ({ rows: [-1, -1, -1, -1, -1], scores: [-2, -2, -2, -2, -2] }));
  for (let r = 0; r < rows; r++) {
    const offset = r * dim;
    for (let q = 0; q < queries.length; q++) {
      const query = queries[q];
      // Four sums side by side: V8 then keeps more multiplications in flight than with one chain.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let d = 0; d < dim; d += 4) {
        s0 += vectors[offset + d] * query[d];
        s1 += vectors[offset + d + 1] * query[d + 1];
        s2 += vectors[offset + d + 2] * query[d + 2];
        s3 += vectors[offset + d + 3] * query[d + 3];
      }
      const s = s0 + s1 + s2 + s3;
      const top = best[q];
      if (s > top.scores[4]) {
        let i = 4;
        while (i > 0 && top.scores[i - 1] < s) {
          top.scores[i] = top.scores[i - 1];
          top.rows[i] = top.rows[i - 1];
          i--;
        }
        top.scores[i] = s;
        top.rows[i] = r;
      }
    }
  }
  return best.map((b) => b.rows);
}

async function largeSet(queries: Float32Array[]): Promise<LargeSetSearch> {
  const dim = queries[0].length;
  const matrix = syntheticMatrix(EXAMPLES, dim, LABELS);
  /** [wall ms, CPU ms] per photo of `work` over `photos` photos. */
  const perPhoto = (photos: number, work: () => void) => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    work();
    const used = process.cpuUsage(cpu);
    return [round((performance.now() - started) / photos, 2), round((used.user + used.system) / 1000 / photos, 2)];
  };
  const few = queries.slice(0, 8);
  bruteForce(matrix, few.slice(0, 1)); // warm-up: compiled before it is timed
  const [single, singleCpu] = perPhoto(few.length, () => {
    for (const query of few) bruteForce(matrix, [query]);
  });
  const [batched, batchedCpu] = perPhoto(few.length, () => bruteForce(matrix, few));
  const loadCpu = process.cpuUsage();
  const started = performance.now();
  const classes = customClassesOf(matrix);
  const loadS = round((performance.now() - started) / 1000, 2);
  const loadUsed = process.cpuUsage(loadCpu);
  for (const query of queries) classes.match(query);
  const [match, matchCpu] = perPhoto(queries.length, () => {
    for (const query of queries) classes.match(query);
  });
  return {
    examples: EXAMPLES,
    labels: LABELS,
    dim,
    matrix_mb: round(matrix.vectors.byteLength / 2 ** 20, 0) as number,
    brute_force_ms_per_photo: single,
    brute_force_cpu_ms_per_photo: singleCpu,
    brute_force_batched_ms_per_photo: batched,
    brute_force_batched_cpu_ms_per_photo: batchedCpu,
    set_load_s: loadS,
    set_load_cpu_s: round((loadUsed.user + loadUsed.system) / 1e6, 2),
    set_match_ms_per_photo: match,
    set_match_cpu_ms_per_photo: matchCpu,
    set_method: 'nearest prototype (a set this large is past the linear fit’s limit, LINEAR_MAX_COST)',
  };
}

export async function benchClassSets(): Promise<ClassSetBench> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mc-bench-classes-'));
  const classifier = await createClassifier({ modelPath: MODEL });
  const store = new SqliteClassSetStore({ dataDir });
  try {
    const items = fishPhotos(PHOTOS);
    const files = items.map((i) => i.file);
    let set = 0;
    log(`class sets: adding ${items.length} examples vs classifying them, ${ROUNDS} rounds`);
    const addVsClassify = await paired(
      items.length,
      () => classifyAll(classifier, files),
      () => addExamples(classifier, store, `bench-${set++}`, items),
    );

    const loadStarted = performance.now();
    const matrix = await store.loadMatrix('bench-0');
    const classes = customClassesOf(matrix);
    const setLoad = round((performance.now() - loadStarted) / 1000, 2) as number;
    const photos = imagenetImages();
    const copies = Math.max(1, Math.round(PHOTOS / photos.length));
    const inputs = Array.from({ length: copies }, () => photos).flat();
    log(`class sets: ${inputs.length} photos with and without a set of ${matrix.rows} examples, ${ROUNDS} rounds`);
    const withSet = await paired(
      inputs.length,
      () => classifyAll(classifier, inputs),
      () => classifyAll(classifier, inputs, classes),
    );

    const queries = await Promise.all(photos.slice(0, QUERIES).map(async (p) => (await classifier.embed(p)).vector));
    log(`class sets: a synthetic set of ${EXAMPLES} examples`);
    return {
      model: path.basename(MODEL),
      add_vs_classify: addVsClassify,
      with_vs_without_set: {
        ...withSet,
        set_examples: matrix.rows,
        set_labels: matrix.labels.length,
        set_load_s: setLoad,
      },
      large_set: await largeSet(queries),
    };
  } finally {
    await store.close();
    await classifier.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The part's lines for bench/results/<date>.md. */
export function classSetsMarkdown(r: ClassSetBench): string[] {
  const a = r.add_vs_classify;
  const w = r.with_vs_without_set;
  const l = r.large_set;
  return [
    `## Custom classes (issue 15): model ${r.model}`,
    '',
    '| measurement | base | measured | extra wall | extra CPU | goal |',
    '|---|---|---|---|---|---|',
    `| adding ${a.photos_per_slice} examples (embed + one SQLite write) vs classifying them, ${a.rounds} alternating rounds | ${a.base_wall_s} s, ${a.base_cpu_s} s CPU | ${a.measured_wall_s} s, ${a.measured_cpu_s} s CPU | ${a.wall_extra_pct} % | ${a.cpu_extra_pct} % | ≤ 10 % |`,
    `| classifying ${w.photos_per_slice} photos with a set (${w.set_examples} examples, ${w.set_labels} labels) vs without, ${w.rounds} alternating rounds | ${w.base_wall_s} s, ${w.base_cpu_s} s CPU | ${w.measured_wall_s} s, ${w.measured_cpu_s} s CPU | ${w.wall_extra_pct} % | ${w.cpu_extra_pct} % | ≤ 5 % |`,
    '',
    `Loading that set for a run (fit + calibration): ${w.set_load_s} s.`,
    '',
    `A set of ${l.examples.toLocaleString('en')} examples (${l.labels} labels, ${l.dim} floats each: one Float32Array of ${l.matrix_mb} MB): brute-force search over every example ${l.brute_force_ms_per_photo} ms per photo (${l.brute_force_cpu_ms_per_photo} ms CPU; ${l.brute_force_batched_ms_per_photo} ms, ${l.brute_force_batched_cpu_ms_per_photo} ms CPU when 8 photos share a pass); as classification uses it, ${l.set_method}: loaded in ${l.set_load_s} s (${l.set_load_cpu_s} s CPU), ${l.set_match_ms_per_photo} ms per photo (${l.set_match_cpu_ms_per_photo} ms CPU; goal ≤ 5 ms).`,
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchClassSets();
  console.log(JSON.stringify(result, null, 2));
  console.log(classSetsMarkdown(result).join('\n'));
  process.exit(0);
}
