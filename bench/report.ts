/** Turns the bench results into the summary (ratios, goals) and the Markdown report. */
import { type ClassSetBench, classSetsMarkdown } from './class-sets.ts';
import { cameraSizeMarkdown, type CameraSizeResult } from './camera-size.ts';
import type { CliResult } from './cli-folder.ts';
import { round, type ModelName } from './common.ts';
import type { GridResult, GridRow } from './engine-grid.ts';
import type { HttpResult } from './http-load.ts';
import type { PreprocessResult } from './preprocess.ts';
import type { RawModelResult } from './raw-model.ts';
import { type VideoBenchResult, videoMarkdown } from './video.ts';

/** "2", or "chosen: 1" where the engine chose. */
export function sessionsLabel(row: Pick<GridRow, 'parallelSessions' | 'sessions_used'>): string {
  return row.parallelSessions === null ? `chosen: ${row.sessions_used ?? '?'}` : String(row.parallelSessions);
}

export interface BenchResults {
  date: string;
  quick: boolean;
  started_at: string;
  duration_s: number;
  machine: Record<string, string | number | null>;
  raw_model: RawModelResult | null;
  preprocess: PreprocessResult | null;
  engine_grid: GridResult | null;
  http: HttpResult | null;
  cli: CliResult | null;
  /** Issue 15: custom classes' cost (class-sets.ts); absent in results written before it. */
  class_sets?: ClassSetBench | null;
  /** Camera-size photos against ImageNet-size ones, and ResNet-50 fp32 against int8 (camera-size.ts). */
  camera_size?: CameraSizeResult | null;
  /** Issue 16 point 8: video frames/s, ffmpeg alone and the whole path (video.ts); absent in results written before it. */
  video?: VideoBenchResult | null;
  summary: Summary;
  /** Per part: cores' worth of CPU other processes on the machine used while it ran (noise indicator). */
  other_load_cores: Record<string, number | null>;
  /** A part that threw: its name and message; the others still ran. */
  failures: Record<string, string>;
}

export interface ModelSummary {
  model: ModelName;
  raw_batch8_images_per_s: number | null;
  e2e_16_clients_upload_rps: number | null;
  e2e_16_clients_url_rps: number | null;
  /** e2e rps at 16 clients ÷ raw batch-8 images/s: the share of model throughput the service delivers. */
  ratio_upload: number | null;
  ratio_url: number | null;
  /** The same ratios against batch 8 re-measured right before this model's HTTP part. */
  raw_batch8_before_http: number | null;
  ratio_upload_vs_recheck: number | null;
  ratio_url_vs_recheck: number | null;
  best_e2e_rps: number | null;
  /**
   * What the CPU allows when every image is both preprocessed and inferred on the same cores:
   * 1 / (1/raw batch-8 rate + 1/decode-pool rate). A rough ceiling for end to end, with zero overhead.
   */
  cpu_ceiling_images_per_s: number | null;
  ceiling_ratio: number | null;
  best_grid: GridRow | null;
  /** Part 1's parallel single-thread sessions at batch 8: the engine's own layout, alone. */
  raw_lanes_images_per_s: number | null;
  /** Alternating slices (paired.ts): e2e ÷ raw batch 8, e2e ÷ the parallel sessions, and the single-round range. */
  paired_ratio: number | null;
  paired_ratio_vs_lanes: number | null;
  paired_ratio_min: number | null;
  paired_ratio_max: number | null;
}

export interface Summary {
  models: ModelSummary[];
  goals: { goal: string; target: string; measured: string; met: boolean | null }[];
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a != null && b ? Number((a / b).toFixed(3)) : null;

export function summarize(r: Omit<BenchResults, 'summary'>): Summary {
  const models = (['mobilenetv2-int8', 'resnet50'] as const).map((model): ModelSummary => {
    const raw8 = r.raw_model?.rows.find((row) => row.model === model && row.batch === 8)?.images_per_s ?? null;
    const recheck = r.http?.services.find((s) => s.model === model)?.raw_batch8_images_per_s ?? null;
    const at16 = (mode: string) =>
      r.http?.rows.find((row) => row.model === model && row.mode === mode && row.connections === 16)?.requests_per_s ??
      null;
    const e2e = r.http?.rows.filter((row) => row.model === model).map((row) => row.requests_per_s) ?? [];
    const grid = r.engine_grid?.rows.filter((row) => row.model === model && row.images_per_s != null) ?? [];
    const decodeRates =
      r.preprocess?.rows
        .filter((row) => row.image === 'imagenet' && row.mode.startsWith('pool-'))
        .map((row) => row.images_per_s ?? 0) ?? [];
    const decode = decodeRates.length ? Math.max(...decodeRates) : null;
    const ceiling = raw8 && decode ? Number((1 / (1 / raw8 + 1 / decode)).toFixed(1)) : null;
    const paired = r.http?.paired?.find((p) => p.model === model);
    return {
      model,
      raw_batch8_images_per_s: raw8,
      e2e_16_clients_upload_rps: at16('upload'),
      e2e_16_clients_url_rps: at16('url'),
      ratio_upload: ratio(at16('upload'), raw8),
      ratio_url: ratio(at16('url'), raw8),
      raw_batch8_before_http: recheck,
      ratio_upload_vs_recheck: ratio(at16('upload'), recheck),
      ratio_url_vs_recheck: ratio(at16('url'), recheck),
      best_e2e_rps: e2e.length ? Math.max(...e2e) : null,
      cpu_ceiling_images_per_s: ceiling,
      ceiling_ratio: ratio(ceiling, raw8),
      best_grid: grid.length ? grid.reduce((a, b) => (b.images_per_s! > a.images_per_s! ? b : a)) : null,
      raw_lanes_images_per_s: r.raw_model?.lanes?.find((row) => row.model === model)?.images_per_s ?? null,
      paired_ratio: paired?.ratio ?? null,
      paired_ratio_vs_lanes: paired?.ratio_vs_lanes ?? null,
      paired_ratio_min: paired?.ratio_min ?? null,
      paired_ratio_max: paired?.ratio_max ?? null,
    };
  });
  const resnet = models.find((m) => m.model === 'resnet50')!;
  const mobilenet = models.find((m) => m.model === 'mobilenetv2-int8')!;
  const worstRatio = [resnet.ratio_upload, resnet.ratio_url].filter((x): x is number => x != null);
  const mobilenetAt16 = [mobilenet.e2e_16_clients_upload_rps, mobilenet.e2e_16_clients_url_rps].filter(
    (x): x is number => x != null,
  );
  return {
    models,
    goals: [
      {
        goal: 'ResNet-50 end to end at 16 clients vs raw batch-8 model throughput',
        target: '>= 85%',
        measured:
          resnet.paired_ratio != null || worstRatio.length
            ? [
                resnet.paired_ratio != null
                  ? `alternating slices ${pct(resnet.paired_ratio)} (rounds ${pct(resnet.paired_ratio_min)}-${pct(resnet.paired_ratio_max)})`
                  : null,
                worstRatio.length
                  ? `part 3 ÷ part 1: upload ${pct(resnet.ratio_upload)}, by URL ${pct(resnet.ratio_url)}; ÷ batch 8 re-measured just before: ${pct(resnet.ratio_upload_vs_recheck)}, ${pct(resnet.ratio_url_vs_recheck)}`
                  : null,
              ]
                .filter(Boolean)
                .join('; ')
            : 'not measured',
        // The alternating slices are the figure that drift cannot move; without them, the worst of the others.
        met:
          resnet.paired_ratio != null
            ? resnet.paired_ratio >= 0.85
            : worstRatio.length
              ? Math.min(...worstRatio) >= 0.85
              : null,
      },
      {
        goal: 'MobileNetV2 service with ImageNet-size JPEGs (16 clients)',
        target: '>= 150 req/s',
        measured: mobilenetAt16.length
          ? `upload ${mobilenet.e2e_16_clients_upload_rps} req/s, by URL ${mobilenet.e2e_16_clients_url_rps} req/s (best at any level ${mobilenet.best_e2e_rps})`
          : 'not measured',
        met: mobilenetAt16.length ? Math.min(...mobilenetAt16) >= 150 : null,
      },
      ...classSetGoals(r.class_sets ?? null),
    ],
  };
}

/** Issue 15 point 9's three goals; the CPU-time ratio decides (wall time mostly measures other work on a shared machine). */
function classSetGoals(c: ClassSetBench | null): Summary['goals'] {
  const extra = (x: { wall_extra_pct: number | null; cpu_extra_pct: number | null }) =>
    `${x.cpu_extra_pct} % CPU, ${x.wall_extra_pct} % wall`;
  const search = c?.large_set.set_match_cpu_ms_per_photo ?? null;
  return [
    {
      goal: 'Adding N examples vs classifying N photos',
      target: '<= +10%',
      measured: c ? extra(c.add_vs_classify) : 'not measured',
      met: c?.add_vs_classify.cpu_extra_pct == null ? null : c.add_vs_classify.cpu_extra_pct <= 10,
    },
    {
      goal: 'Classifying with a class set vs without',
      target: '<= +5%',
      measured: c ? extra(c.with_vs_without_set) : 'not measured',
      met: c?.with_vs_without_set.cpu_extra_pct == null ? null : c.with_vs_without_set.cpu_extra_pct <= 5,
    },
    {
      goal: `Search per photo in a set of ${c?.large_set.examples.toLocaleString('en') ?? '100,000'} examples`,
      target: '<= 5 ms',
      measured: c
        ? `${search} ms CPU (${c.large_set.set_match_ms_per_photo} ms wall) as classification matches it (${c.large_set.labels} labels); brute force over every example ${c.large_set.brute_force_cpu_ms_per_photo} ms CPU (${c.large_set.matrix_mb} MB)`
        : 'not measured',
      met: search == null ? null : search <= 5,
    },
  ];
}

function pct(x: number | null): string {
  return x == null ? 'n/a' : `${(x * 100).toFixed(0)}%`;
}

function cell(value: unknown): string {
  if (value == null) return '–';
  return String(value);
}

function table(headers: string[], rows: unknown[][]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function toMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`# Benchmark ${r.date}${r.quick ? ' (BENCH_QUICK smoke run: small samples, not for tuning)' : ''}`);
  out.push('');
  out.push(
    `${m.cpu} x ${m.cores} cores, ${m.memory_gb} GB RAM, Node ${m.node}, onnxruntime-node ${m.onnxruntime}, sharp ${m.sharp}, commit ${m.commit}. ` +
      `Whole run ${r.duration_s} s.`,
  );
  out.push(
    '',
    `Other processes on the machine (cores busy, not counting the bench): before ${cell(m.background_busy_cores_before)}, ` +
      Object.entries(r.other_load_cores)
        .map(([part, cores]) => `${part} ${cell(cores)}`)
        .join(', ') +
      `, after ${cell(m.background_busy_cores_after)}. Figures with other load above ~0.2 cores are low; "other load" columns give it per row.`,
  );
  for (const [part, message] of Object.entries(r.failures)) out.push('', `**${part} failed:** ${message}`);

  if (r.raw_model) {
    out.push(
      '',
      `## 1. Model alone (preprocessed tensors, no HTTP, no batcher; ${r.raw_model.intra_op_threads} intra-op threads)`,
      '',
    );
    out.push(
      'images/s = batch ÷ median run time; "mean" = all images ÷ all time (lower when some runs were slowed).',
      '',
    );
    out.push(
      table(
        [
          'model',
          'batch',
          'runs',
          'images/s',
          'images/s mean',
          'ms/batch p50',
          'ms/batch p95',
          'ms/image p50',
          'other load',
        ],
        r.raw_model.rows.map((x) => [
          x.model,
          x.batch,
          x.runs,
          x.images_per_s,
          x.images_per_s_mean,
          x.ms_per_batch_p50,
          x.ms_per_batch_p95,
          x.ms_per_image_p50,
          x.other_load_cores,
        ]),
      ),
    );
    if (r.raw_model.lanes?.length) {
      out.push(
        '',
        'Parallel single-thread sessions (the layout the engine chooses for a heavy model such as ResNet-50; for a light one it keeps one session), on their own threads, each fed batch after batch of 8-bit crops (normalized on its thread, as in the service); images/s = all images ÷ wall time.',
        '',
      );
      out.push(
        table(
          ['model', 'sessions', 'threads each', 'batch', 'runs each', 'images/s', 'other load'],
          r.raw_model.lanes.map((x) => [
            x.model,
            x.sessions,
            x.threads_per_session,
            x.batch,
            x.runs_per_session,
            x.images_per_s,
            x.other_load_cores,
          ]),
        ),
      );
    }
  }
  if (r.preprocess) {
    out.push('', `## 2. Preprocessing alone (decode, resize 256, crop 224, normalize)`, '');
    out.push(
      `ImageNet-size = the ${r.preprocess.imagenet_images} ImageNet JPEGs (~500x375) in turn; camera = one ${r.preprocess.camera_size} JPEG. ` +
        '"single" = preprocessImage one at a time on one thread; "pool-N" = the engine\'s decode worker pool with N threads and the engine\'s default options (decode, resize, crop; the engine normalizes on the inference thread).',
      '',
    );
    out.push(
      table(
        ['image', 'mode', 'shrinkOnLoad', 'images', 'images/s', 'ms/image p50', 'other load'],
        r.preprocess.rows.map((x) => [
          x.image,
          x.mode,
          x.shrink_on_load,
          x.images,
          x.images_per_s,
          x.ms_per_image_p50,
          x.other_load_cores,
        ]),
      ),
    );
  }
  if (r.engine_grid) {
    const g = r.engine_grid;
    out.push(
      '',
      `## Engine (createClassifier, no HTTP): ${g.concurrency} concurrent callers on the ImageNet-size JPEGs, ${g.grid} grid, resize ${g.shrink_on_load}`,
      '',
    );
    out.push(
      table(
        [
          'model',
          'intra-op',
          'sessions',
          'decode',
          'maxBatch',
          'maxWaitMs',
          'images',
          'images/s',
          'latency p50 ms',
          'p95 ms',
          'mean batch',
          'start-up ms',
          'other load',
        ],
        g.rows.map((x) => [
          x.model,
          x.intraOpThreads,
          sessionsLabel(x),
          x.decodeThreads,
          x.maxBatch,
          x.maxWaitMs,
          x.images,
          x.error ? `failed: ${x.error}` : x.images_per_s,
          x.latency_ms_p50,
          x.latency_ms_p95,
          x.mean_batch,
          x.startup_ms,
          x.other_load_cores,
        ]),
      ),
    );
  }
  if (r.http) {
    const h = r.http;
    out.push(
      '',
      `## 3. POST /classify end to end (service in a child process, autocannon in another, ${h.duration_s} s per level, body ${h.upload_body} or JSON image_url)`,
      '',
    );
    const env = Object.entries(h.service_env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    out.push(
      `Service settings: ${env || 'engine and service defaults'} (plus MODEL_PATH, HOST=127.0.0.1, URL_ALLOW_HOSTS=127.0.0.1). Every request carries unique bytes so no result cache can answer it.`,
      '',
    );
    if (h.skipped) out.push(`**Skipped${h.rows.length ? ' in part' : ''}:** ${h.skipped}`, '');
    if (h.rows.length) {
      out.push(
        table(
          [
            'model',
            'mode',
            'clients',
            'req/s',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'errors',
            'service peak RSS MB',
            'other load',
          ],
          h.rows.map((x) => [
            x.model,
            x.mode,
            x.connections,
            x.requests_per_s,
            x.latency_ms_p50,
            x.latency_ms_p95,
            x.latency_ms_p99,
            x.errors + x.non_2xx
              ? `${x.errors + x.non_2xx} (${
                  Object.entries(x.status_codes)
                    .filter(([c]) => !c.startsWith('2'))
                    .map(([c, n]) => `${n}x${c}`)
                    .join(', ') || 'connection'
                })`
              : 0,
            x.service_peak_rss_mb,
            x.other_load_cores,
          ]),
        ),
      );
      out.push(
        '',
        h.services
          .map(
            (s) =>
              `${s.model}: ready in ${s.startup_ms} ms at ${s.ready_rss_mb} MB RSS, peak ${s.peak_rss_mb} MB${s.engine ? `; engine: ${s.engine}` : ''}.`,
          )
          .join(' '),
      );
    }
  }
  if (r.cli) {
    out.push('', `## 4. CLI on a folder: \`${r.cli.command}\` (wall clock including start-up and model load)`, '');
    if (r.cli.skipped) out.push(`**Skipped:** ${r.cli.skipped}`, '');
    if (r.cli.rows.length) {
      out.push(
        table(
          ['model', 'results', 'errors', 'exit', 'wall s', 'images/s', 'peak RSS MB'],
          r.cli.rows.map((x) => [x.model, x.results, x.errors, x.exit_code, x.wall_s, x.images_per_s, x.peak_rss_mb]),
        ),
      );
    }
  }
  if (r.class_sets) out.push('', ...classSetsMarkdown(r.class_sets));
  if (r.camera_size) out.push('', cameraSizeMarkdown(r.camera_size));
  if (r.video) out.push('', videoMarkdown(r.video));
  out.push('', '## 5. Service cost: end to end ÷ model alone', '');
  out.push(
    '"CPU ceiling" = 1 / (1/raw batch-8 rate + 1/fastest decode-pool rate): what 2 cores allow if each image is decoded and inferred with zero other overhead.',
    '',
  );
  out.push(
    'Ratios use raw batch 8 from part 1; the "re-measured" column is batch 8 measured again just before that model\'s HTTP part, with the same two ratios against it: the gap between the two shows how much the machine drifted.',
    '',
  );
  out.push(
    table(
      [
        'model',
        'raw batch-8 images/s',
        'CPU ceiling images/s (ratio)',
        'e2e 16 clients upload req/s',
        'ratio',
        'e2e 16 clients URL req/s',
        'ratio',
        're-measured batch-8 images/s (upload, URL ratios)',
        'best engine grid setting',
      ],
      r.summary.models.map((x) => [
        x.model,
        x.raw_batch8_images_per_s,
        x.cpu_ceiling_images_per_s == null ? null : `${x.cpu_ceiling_images_per_s} (${pct(x.ceiling_ratio)})`,
        x.e2e_16_clients_upload_rps,
        pct(x.ratio_upload),
        x.e2e_16_clients_url_rps,
        pct(x.ratio_url),
        x.raw_batch8_before_http == null
          ? null
          : `${x.raw_batch8_before_http} (${pct(x.ratio_upload_vs_recheck)}, ${pct(x.ratio_url_vs_recheck)})`,
        x.best_grid
          ? `intra ${x.best_grid.intraOpThreads}, sessions ${sessionsLabel(x.best_grid)}, decode ${x.best_grid.decodeThreads}, batch ${x.best_grid.maxBatch}, wait ${x.best_grid.maxWaitMs} ms: ${x.best_grid.images_per_s} img/s`
          : null,
      ]),
    ),
  );
  const paired = r.http?.paired ?? [];
  if (paired.length) {
    out.push(
      '',
      `Alternating slices: per round, the model alone at batch 8 for ${paired[0].raw_slice_s} s (one session with every core, then two single-thread sessions side by side), then POST /classify uploads at ${paired[0].connections} clients for ${paired[0].e2e_slice_s} s; ratios are sums over the rounds. The machine's speed drifts by tens of percent within minutes, so this is the ratio to trust; the ones above compare figures taken minutes apart.`,
      '',
    );
    out.push(
      table(
        [
          'model',
          'rounds: raw batch-8 / parallel sessions / e2e',
          'e2e ÷ raw batch 8',
          'single rounds',
          'e2e ÷ parallel sessions',
        ],
        paired.map((p) => [
          p.model,
          p.rounds
            .map((x) => `${cell(x.raw_images_per_s)} / ${cell(x.lanes_images_per_s)} / ${cell(x.e2e_requests_per_s)}`)
            .join('; '),
          pct(p.ratio),
          `${pct(p.ratio_min)}-${pct(p.ratio_max)}`,
          pct(p.ratio_vs_lanes),
        ]),
      ),
    );
  }
  const cpuRows = (r.http?.rows ?? []).filter((row) => row.connections === 16 && row.cpu_ms_per_request);
  if (cpuRows.length) {
    const cores = Number(r.machine.cores);
    out.push(
      '',
      `Where the CPU goes at 16 clients, in ms of CPU per request: the service's model threads and the rest of it (decoding, HTTP, the runtime) from its /metrics, the load generator's own count, and the whole machine (/proc/stat). ` +
        `"Model alone" = ${cores} cores ÷ raw batch-8 rate: what a request's inference costs without the service around it. "Budget at 85 %" = the machine CPU per request that would let ${cores} cores reach 85 % of raw batch 8.`,
      '',
    );
    out.push(
      table(
        [
          'model',
          'mode',
          'req/s',
          'model threads',
          'rest of service',
          'load generator',
          'machine',
          'model alone',
          'budget at 85 %',
        ],
        cpuRows.map((row) => {
          const c = row.cpu_ms_per_request!;
          const raw = r.summary.models.find((x) => x.model === row.model)?.raw_batch8_images_per_s ?? null;
          return [
            row.model,
            row.mode,
            row.requests_per_s,
            c.model,
            c.service_rest,
            c.load_generator,
            c.machine,
            raw ? round((cores * 1000) / raw, 1) : null,
            raw ? round((cores * 1000) / (0.85 * raw), 1) : null,
          ];
        }),
      ),
    );
  }
  out.push('', '## Goals (measured, not asserted)', '');
  out.push(
    table(
      ['goal', 'target', 'measured', 'met'],
      r.summary.goals.map((g) => [g.goal, g.target, g.measured, g.met == null ? 'not measured' : g.met ? 'yes' : 'no']),
    ),
  );
  return `${out.join('\n')}\n`;
}
