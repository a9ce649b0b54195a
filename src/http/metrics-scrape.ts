/**
 * Gauges read at scrape time (prom-client calls collect() on each scrape): images in flight,
 * queue depth and workers, the model threads' CPU, and the model, so each is right when asked,
 * whichever of API and workers started first.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClassifyService } from '../queue/classify-service.ts';
import type { JobQueue } from '../queue/types.ts';
import { shownModel } from './model-view.ts';

function watchQueue(registry: Registry, queue: JobQueue): void {
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
}

function watchInFlight(registry: Registry, service: ClassifyService): void {
  new Gauge({
    name: 'classifier_in_flight_images',
    help: 'Images accepted by the classifier and not yet answered.',
    registers: [registry],
    collect() {
      this.set(service.inFlight());
    },
  });
  new Gauge({
    name: 'classifier_decoding_pixels',
    help: 'Pixels of the images being decoded now (in this process), against DECODE_PIXEL_BUDGET: what bounds decoding memory (~3 bytes each).',
    registers: [registry],
    collect() {
      const decoding = service.decoding();
      if (decoding) this.set(decoding.pixels);
    },
  });
  new Gauge({
    name: 'classifier_decoding_waiting_images',
    help: 'Images waiting for DECODE_PIXEL_BUDGET before they are decoded.',
    registers: [registry],
    collect() {
      const decoding = service.decoding();
      if (decoding) this.set(decoding.waiting);
    },
  });
}

function watchModel(registry: Registry, service: ClassifyService): void {
  new Counter({
    name: 'classifier_inference_cpu_seconds_total',
    help: 'CPU time of the model threads (Linux). Against process_cpu_seconds_total: the share of the CPU the model itself uses; the rest is decoding, HTTP and the runtime.',
    registers: [registry],
    collect() {
      const seconds = service.inferenceCpuSeconds();
      if (seconds === null) return;
      this.reset();
      this.inc(seconds);
    },
  });
  new Gauge({
    name: 'classifier_model_info',
    help: 'The loaded model (always 1).',
    labelNames: ['id', 'path'] as const,
    registers: [registry],
    async collect() {
      // Redis unreachable: the model last reported stays.
      const model = await service.model().catch(() => undefined);
      if (model === undefined) return;
      const { id, path } = shownModel(model);
      this.reset();
      this.set({ id, path }, 1);
    },
  });
}

export function watchAtScrape(registry: Registry, service: ClassifyService, queue: JobQueue): void {
  // In the order of the scrape's output before this was split up.
  watchInFlight(registry, service);
  watchQueue(registry, queue);
  watchModel(registry, service);
}
