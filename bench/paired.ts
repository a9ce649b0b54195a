/**
 * Point 5 measured in pairs: the model alone and the service at 16 clients, alternated in short
 * slices, so that the machine's drift (its speed moves 20-40 % within minutes here) hits both
 * sides of the ratio alike. Ratios from parts 1 and 3 compare figures taken minutes apart.
 */
import { loadSession } from '../src/engine/session.ts';
import { cores, cpuSnapshot, log, otherBusyCores, quick, round, syntheticInput, type ModelName } from './common.ts';
import type { LoadResult } from './load-client.ts';
import { startRawLanes } from './raw-model.ts';

export interface PairedRound {
  /** One session with every core, batch 8 (part 1's layout). */
  raw_images_per_s: number | null;
  /** Parallel single-thread sessions, batch 8 each (the engine's layout for a heavy model). */
  lanes_images_per_s: number | null;
  e2e_requests_per_s: number | null;
  other_load_cores: number | null;
}

export interface PairedResult {
  model: ModelName;
  connections: number;
  raw_slice_s: number;
  e2e_slice_s: number;
  rounds: PairedRound[];
  /** Sums over the rounds: e2e ÷ raw (the goal's ratio), and e2e ÷ the engine's layout alone. */
  ratio: number | null;
  ratio_vs_lanes: number | null;
  /** Lowest and highest single-round e2e ÷ raw. */
  ratio_min: number | null;
  ratio_max: number | null;
}

export const PAIRED_CONNECTIONS = 16;
// Five rounds: single rounds of the ResNet-50 ratio spread over 80-97 % within one run here.
const ROUNDS = quick ? 1 : 5;
const RAW_SLICE_MS = quick ? 1500 : 3000;
const E2E_SLICE_S = quick ? 3 : 5;

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * `load` runs one e2e slice at 16 clients (autocannon in its own process); `idle` waits until
 * the service has finished requests left in flight, so they never overlap a model-alone slice.
 */
export async function measurePaired(
  model: { name: ModelName; path: string },
  load: (durationS: number) => Promise<LoadResult>,
  idle: () => Promise<void>,
): Promise<PairedResult> {
  const session = await loadSession(model.path, { intraOpThreads: cores, executionProvider: 'cpu' });
  const input = syntheticInput(3 * session.signature.size * session.signature.size * 8);
  const lanes = await startRawLanes(model.path, 8);
  const rounds: PairedRound[] = [];
  try {
    for (let i = 0; i < 3; i++) await session.run(input, 8);
    for (let r = 0; r < ROUNDS; r++) {
      await idle();
      const cpuBefore = cpuSnapshot();
      const rawStarted = performance.now();
      let images = 0;
      while (performance.now() - rawStarted < RAW_SLICE_MS) {
        await session.run(input, 8);
        images += 8;
      }
      const raw = (images * 1000) / (performance.now() - rawStarted);
      const lanesRate = await lanes.rate({ ms: RAW_SLICE_MS });
      const e2e = await load(E2E_SLICE_S);
      const round_: PairedRound = {
        raw_images_per_s: round(raw),
        lanes_images_per_s: round(lanesRate),
        e2e_requests_per_s: round(e2e.requests_per_s),
        other_load_cores: otherBusyCores(cpuBefore, cpuSnapshot()),
      };
      rounds.push(round_);
      log(
        `paired ${model.name} round ${r + 1}: raw batch 8 ${round_.raw_images_per_s} img/s, parallel sessions ${round_.lanes_images_per_s} img/s, e2e ${PAIRED_CONNECTIONS} clients ${round_.e2e_requests_per_s} req/s` +
          `${e2e.errors + e2e.non_2xx ? `, ${e2e.errors + e2e.non_2xx} errors` : ''}, other load ${round_.other_load_cores}`,
      );
    }
  } finally {
    await lanes.close();
  }
  const ok = rounds.filter((x) => x.raw_images_per_s && x.lanes_images_per_s && x.e2e_requests_per_s != null);
  const perRound = ok.map((x) => x.e2e_requests_per_s! / x.raw_images_per_s!);
  const ratioOf = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(3)) : null);
  return {
    model: model.name,
    connections: PAIRED_CONNECTIONS,
    raw_slice_s: RAW_SLICE_MS / 1000,
    e2e_slice_s: E2E_SLICE_S,
    rounds,
    ratio: ok.length
      ? ratioOf(sum(ok.map((x) => x.e2e_requests_per_s!)), sum(ok.map((x) => x.raw_images_per_s!)))
      : null,
    ratio_vs_lanes: ok.length
      ? ratioOf(sum(ok.map((x) => x.e2e_requests_per_s!)), sum(ok.map((x) => x.lanes_images_per_s!)))
      : null,
    ratio_min: perRound.length ? Number(Math.min(...perRound).toFixed(3)) : null,
    ratio_max: perRound.length ? Number(Math.max(...perRound).toFixed(3)) : null,
  };
}
