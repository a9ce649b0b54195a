/** Per-image and per-batch numbers: what the engine did, from its onBatch reports and each classify(). */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { BatchReport } from '../engine/batcher.ts';
import type { ClassificationResult } from '../engine/types.ts';

export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class EngineMetrics {
  readonly #images: Counter<'outcome' | 'code'>;
  readonly #imagePhase: Histogram<'phase'>;
  readonly #inference: Histogram;
  readonly #batchSize: Histogram;
  readonly #batchWait: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#images = new Counter({
      name: 'classifier_images_total',
      help: 'Images the classifier finished, by outcome and error code ("" for success).',
      labelNames: ['outcome', 'code'] as const,
      registers,
    });
    this.#imagePhase = new Histogram({
      name: 'classifier_image_phase_seconds',
      help: 'Per-image time in each phase: fetch, decode, queue (waiting for a batch), inference, total.',
      labelNames: ['phase'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#inference = new Histogram({
      name: 'classifier_inference_seconds',
      help: 'Model run time per batch.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#batchSize = new Histogram({
      name: 'classifier_batch_size',
      help: 'Images per model run.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.#batchWait = new Histogram({
      name: 'classifier_batch_queue_seconds',
      help: 'Per image, time between being ready for the model and its batch starting.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }

  batch(report: BatchReport): void {
    this.#batchSize.observe(report.size);
    this.#inference.observe(report.inference_ms / 1000);
    for (const ms of report.queue_ms) this.#batchWait.observe(ms / 1000);
  }

  succeeded(result: ClassificationResult): void {
    this.#images.inc({ outcome: 'succeeded', code: '' });
    for (const [phase, ms] of Object.entries(result.timings))
      this.#imagePhase.observe({ phase: phase.replace(/_ms$/, '') }, ms / 1000);
  }

  failed(code: string): void {
    this.#images.inc({ outcome: 'failed', code });
  }
}
