/**
 * Prometheus metrics, in a registry of their own so that several services in one process (tests,
 * benchmarks) do not collide. Engine-side numbers come from the classifier's onBatch callback
 * and from counting classify(); queue numbers from the queue's events and stats; the rest is
 * read at scrape time (metrics-scrape.ts).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchReport } from '../engine/batcher.ts';
import { toClassifierError } from '../errors.ts';
import type { ClassifyService } from '../queue/classify-service.ts';
import type { JobQueue, QueueEvent } from '../queue/types.ts';
import { EngineMetrics } from './metrics-engine.ts';
import { RequestMetrics } from './metrics-requests.ts';
import { watchAtScrape } from './metrics-scrape.ts';

/** One image through the classify service: what countImages wraps. */
export type ClassifyFn = ClassifyService['classify'];

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #engine: EngineMetrics;
  readonly #requests: RequestMetrics;
  readonly #jobWait: Histogram;
  readonly #jobsFinished: Counter<'status'>;
  #watching = false;

  constructor() {
    // Event-loop lag sampled every 100 ms instead of prom-client's 10 ms: a tenth of the wake-ups of an idle service.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    this.#requests = new RequestMetrics(this.registry);
    this.#engine = new EngineMetrics(this.registry);
    this.#jobWait = new Histogram({
      name: 'job_queue_wait_seconds',
      help: 'Time a job waited in the queue before its first image started.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
      registers: [this.registry],
    });
    this.#jobsFinished = new Counter({
      name: 'jobs_finished_total',
      help: 'Jobs finished, by final status.',
      labelNames: ['status'] as const,
      registers: [this.registry],
    });
  }

  /** Pass as the classifier's `onBatch` option. */
  readonly onBatch = (report: BatchReport): void => this.#engine.batch(report);

  /** Pass as the queue's `onEvent` option. */
  readonly onQueueEvent = (event: QueueEvent): void => {
    if (event.type === 'started') this.#jobWait.observe(event.wait_ms / 1000);
    else this.#jobsFinished.inc({ status: event.job.status });
  };

  /** `classify`, counting every image's outcome and timings. */
  countImages(classify: ClassifyFn): ClassifyFn {
    return async (input, options, cancel) => {
      try {
        const result = await classify(input, options, cancel);
        this.#engine.succeeded(result);
        return result;
      } catch (err) {
        this.#engine.failed(toClassifierError(err).code);
        throw err;
      }
    };
  }

  /** Gauges read at scrape time: images in flight, queue depth, the model. The first call wins. */
  watch(service: ClassifyService, queue: JobQueue): void {
    if (this.#watching) return;
    this.#watching = true;
    watchAtScrape(this.registry, service, queue);
  }

  /** Request counts and latencies per route; give it the app's root. */
  observeRequests(app: FastifyInstance): void {
    this.#requests.observe(app);
  }
}

export function createMetrics(): ServiceMetrics {
  return new ServiceMetrics();
}
