/**
 * What the HTTP layer needs from "the thing that classifies": one image at a time, and which
 * model answers. Two implementations: the engine in this process (below), and the Redis queue's
 * workers (queue-classify-service.ts), so HTTP never holds a stand-in engine.
 */
import type { Classifier, ModelDescription } from '../engine/classifier.ts';
import type { PixelBudgetStats } from '../engine/pixel-budget.ts';
import type { ClassSetResolver } from '../classes/index.ts';
import type { ClassificationResult, ImageInput } from '../engine/types.ts';
import { engineOptionsOf } from './class-sets.ts';
import type { JobOptions } from './types.ts';

export interface ClassifyService {
  /** `cancel`: the caller went away; the in-process engine stops fetching the image (a worker's fetch runs on). */
  /** `options.classSet` names a class set; it is resolved where the model runs. */
  classify(input: ImageInput, options?: JobOptions, cancel?: AbortSignal): Promise<ClassificationResult>;
  /** The model that answers, read when asked; null while none is known (Redis mode before any worker). */
  model(): Promise<ModelDescription | null>;
  /** Images accepted and not yet answered. */
  inFlight(): number;
  /** CPU seconds of the model threads in this process; null when the model runs elsewhere or it is unknown. */
  inferenceCpuSeconds(): number | null;
  /** Decoded pixels in flight against DECODE_PIXEL_BUDGET; null when images are decoded elsewhere (the workers). */
  decoding(): PixelBudgetStats | null;
  /** Refuses new images and frees what the service holds (the in-process one closes its engine). */
  close(): Promise<void>;
}

/** The engine loaded in this process. */
export class EngineClassifyService implements ClassifyService {
  readonly #engine: Classifier;
  readonly #resolver: ClassSetResolver | null;

  /** `resolver`: the class sets (DATA_DIR) that `class_set` names; null: none. */
  constructor(engine: Classifier, resolver: ClassSetResolver | null = null) {
    this.#engine = engine;
    this.#resolver = resolver;
  }

  async classify(input: ImageInput, options: JobOptions = {}, cancel?: AbortSignal): Promise<ClassificationResult> {
    return this.#engine.classify(input, await engineOptionsOf(options, this.#resolver), cancel);
  }

  async model(): Promise<ModelDescription> {
    return this.#engine.model;
  }

  inFlight(): number {
    return this.#engine.inFlight();
  }

  inferenceCpuSeconds(): number | null {
    return this.#engine.inferenceCpuSeconds();
  }

  decoding(): PixelBudgetStats {
    return this.#engine.decoding();
  }

  close(): Promise<void> {
    return this.#engine.close();
  }
}
