/**
 * What the HTTP layer needs from "the thing that classifies": one image at a time, and which
 * model answers. Two implementations: the engine in this process (below), and the Redis queue's
 * workers (queue-classify-service.ts), so HTTP never holds a stand-in engine.
 */
import type { Classifier, ModelDescription } from '../engine/classifier.ts';
import type { PixelBudgetStats } from '../engine/pixel-budget.ts';
import type { ClassificationResult, ClassifyOptions, ImageInput } from '../engine/types.ts';

export interface ClassifyService {
  /** `cancel`: the caller went away; the in-process engine stops fetching the image (a worker's fetch runs on). */
  classify(input: ImageInput, options?: ClassifyOptions, cancel?: AbortSignal): Promise<ClassificationResult>;
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

  constructor(engine: Classifier) {
    this.#engine = engine;
  }

  classify(input: ImageInput, options?: ClassifyOptions, cancel?: AbortSignal): Promise<ClassificationResult> {
    return this.#engine.classify(input, options, cancel);
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
