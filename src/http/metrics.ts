/**
 * Prometheus metrics, in a registry of their own so that several services in one process (tests,
 * benchmarks) do not collide. Engine-side numbers come from the classifier's onBatch callback
 * and from wrapping classify(); queue numbers from the queue's events and stats.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchReport } from '../engine/batcher.ts';
import type { Classifier } from '../engine/classifier.ts';
import { toClassifierError } from '../errors.ts';
import type { JobQueue, QueueEvent } from '../queue/types.ts';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Pass as the classifier's `onBatch` option. */
  onBatch(report: BatchReport): void;
  /** Pass as the queue's `onEvent` option. */
  onQueueEvent(event: QueueEvent): void;
  /** The classifier, counting every image's outcome and timings; give this one to routes and queue. */
  countingClassifier(classifier: Classifier): Classifier;
  /** Gauges read at scrape time: images in flight, queue depth, the loaded model. The first call wins. */
  watch(classifier: Classifier, queue: JobQueue): void;
  /** Request counts and latencies per route, and GET /metrics. */
  install(app: FastifyInstance, routeOptions: { requiresKey: boolean }): void;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createMetrics(): ServiceMetrics {
  const registry = new Registry();
  // Event-loop lag sampled every 100 ms instead of prom-client's 10 ms: a tenth of the wake-ups of an idle service.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });

  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response, by route.',
    labelNames: ['method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const images = new Counter({
    name: 'classifier_images_total',
    help: 'Images the classifier finished, by outcome and error code ("" for success).',
    labelNames: ['outcome', 'code'] as const,
    registers: [registry],
  });
  const imagePhase = new Histogram({
    name: 'classifier_image_phase_seconds',
    help: 'Per-image time in each phase: fetch, decode, queue (waiting for a batch), inference, total.',
    labelNames: ['phase'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const inference = new Histogram({
    name: 'classifier_inference_seconds',
    help: 'Model run time per batch.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'classifier_batch_size',
    help: 'Images per model run.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [registry],
  });
  const batchWait = new Histogram({
    name: 'classifier_batch_queue_seconds',
    help: 'Per image, time between being ready for the model and its batch starting.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const jobWait = new Histogram({
    name: 'job_queue_wait_seconds',
    help: 'Time a job waited in the queue before its first image started.',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  const jobsFinished = new Counter({
    name: 'jobs_finished_total',
    help: 'Jobs finished, by final status.',
    labelNames: ['status'] as const,
    registers: [registry],
  });

  let watching = false;

  function observeImage(outcome: 'succeeded' | 'failed', code: string): void {
    images.inc({ outcome, code });
  }

  return {
    registry,

    onBatch(report) {
      batchSize.observe(report.size);
      inference.observe(report.inference_ms / 1000);
      for (const ms of report.queue_ms) batchWait.observe(ms / 1000);
    },

    onQueueEvent(event) {
      if (event.type === 'started') jobWait.observe(event.wait_ms / 1000);
      else jobsFinished.inc({ status: event.job.status });
    },

    countingClassifier(classifier) {
      return {
        ...classifier,
        async classify(input, options) {
          try {
            const result = await classifier.classify(input, options);
            observeImage('succeeded', '');
            for (const [phase, ms] of Object.entries(result.timings))
              imagePhase.observe({ phase: phase.replace(/_ms$/, '') }, ms / 1000);
            return result;
          } catch (err) {
            observeImage('failed', toClassifierError(err).code);
            throw err;
          }
        },
      };
    },

    watch(classifier, queue) {
      if (watching) return;
      watching = true;
      new Gauge({
        name: 'classifier_in_flight_images',
        help: 'Images accepted by the classifier and not yet answered.',
        registers: [registry],
        collect() {
          this.set(classifier.inFlight());
        },
      });
      new Gauge({
        name: 'job_queue_jobs',
        help: 'Jobs in the queue by state (waiting, active; completed and failed while retained).',
        labelNames: ['state'] as const,
        registers: [registry],
        async collect() {
          // With the Redis queue unreachable, the rest of the scrape (process, HTTP) still matters most.
          const stats = await queue.stats().catch(() => null);
          if (!stats) return;
          this.set({ state: 'waiting' }, stats.waiting);
          this.set({ state: 'active' }, stats.active);
          this.set({ state: 'completed' }, stats.completed);
          this.set({ state: 'failed' }, stats.failed);
        },
      });
      new Gauge({
        name: 'job_queue_workers',
        help: 'In-process: images the queue runs at once. Redis mode: worker processes connected to the queue.',
        registers: [registry],
        async collect() {
          const stats = await queue.stats().catch(() => null);
          if (stats) this.set(stats.workers);
        },
      });
      new Counter({
        name: 'classifier_inference_cpu_seconds_total',
        help: 'CPU time of the model threads (Linux). Against process_cpu_seconds_total: the share of the CPU the model itself uses; the rest is decoding, HTTP and the runtime.',
        registers: [registry],
        collect() {
          const seconds = classifier.inferenceCpuSeconds();
          if (seconds === null) return;
          this.reset();
          this.inc(seconds);
        },
      });
      const modelInfo = new Gauge({
        name: 'classifier_model_info',
        help: 'The loaded model (always 1).',
        labelNames: ['id', 'path'] as const,
        registers: [registry],
      });
      modelInfo.set({ id: classifier.model.id, path: classifier.model.path }, 1);
    },

    install(app, routeOptions) {
      app.addHook('onResponse', async (request, reply) => {
        // Unmatched URLs share one label, so scanners cannot blow up the series count.
        const route = request.routeOptions.url ?? 'unmatched';
        const method = request.method;
        httpRequests.inc({ method, route, status_code: String(reply.statusCode) });
        httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
      });
      app.get(
        '/metrics',
        {
          schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['service'] },
          config: { requiresKey: routeOptions.requiresKey },
        },
        async (_request, reply) => {
          const text = await registry.metrics();
          return reply.type(registry.contentType).send(text);
        },
      );
    },
  };
}
