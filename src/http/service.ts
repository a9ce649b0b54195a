/**
 * The whole service in one call: model, queue, app, listening socket, and an orderly shutdown.
 * Used by `marine-classifier serve`, by tests and by benchmarks.
 */
import type { FastifyInstance } from 'fastify';
import { createClassifier, type Classifier, type ClassifierOptions } from '../engine/classifier.ts';
import { createJobQueue, needsLocalModel, queueClassifierOf } from '../queue/create-queue.ts';
import type { LogFn } from '../queue/redis-connection.ts';
import type { JobQueue } from '../queue/types.ts';
import { sharedSourceOptions } from '../sources/policy.ts';
import { closeUrlFetchAgents } from '../sources/url.ts';
import { buildApp } from './app.ts';
import type { ServiceConfig } from './config.ts';
import type { ServiceState } from './dependencies.ts';
import { createMetrics, type ServiceMetrics } from './metrics.ts';

export interface RunningService {
  /** e.g. http://127.0.0.1:8000 */
  url: string;
  port: number;
  app: FastifyInstance;
  classifier: Classifier;
  queue: JobQueue;
  metrics: ServiceMetrics;
  /** Stops accepting, lets requests and running jobs finish, then frees the model (if the service loaded it). */
  close(): Promise<void>;
}

export interface StartServiceOptions {
  /** Share an already-loaded classifier (its sources settings must suit `config`); the service then leaves it open. */
  classifier?: Classifier;
  metrics?: ServiceMetrics;
  onDownloadProgress?: ClassifierOptions['onDownloadProgress'];
}

/**
 * The engine options the service runs with: the configured model and engine settings, plus
 * what the HTTP setting implies for image sources. Local paths only under IMAGE_ROOT; URLs only
 * to public addresses unless allow-listed, whatever the engine's CLI defaults are.
 */
export function serviceClassifierOptions(
  config: ServiceConfig,
  extra: Pick<ClassifierOptions, 'onBatch' | 'onDownloadProgress'> = {},
): ClassifierOptions {
  return { ...config.engine, ...extra, sources: sharedSourceOptions(config) };
}

export async function startService(config: ServiceConfig, options: StartServiceOptions = {}): Promise<RunningService> {
  const metrics = options.metrics ?? createMetrics();
  const ownsClassifier = options.classifier === undefined;
  // In Redis mode (QUEUE_URL) the workers hold the model; this process loads none.
  const engine =
    options.classifier ??
    (needsLocalModel(config)
      ? await createClassifier(
          serviceClassifierOptions(config, {
            onBatch: metrics.onBatch,
            onDownloadProgress: options.onDownloadProgress,
          }),
        )
      : null);
  const state: ServiceState = { draining: false };
  let queue: JobQueue | null = null;
  let app: FastifyInstance | null = null;
  let classifier: Classifier | null = engine;
  const queueLog: LogFn = (level, message) => (app ? app.log[level](message) : console.error(message));
  try {
    queue = createJobQueue(config, {
      classifier: engine && metrics.countingClassifier(engine),
      onEvent: metrics.onQueueEvent,
      log: queueLog,
    });
    // Redis mode: POST /classify queues the image for a worker and waits for it.
    classifier ??= await queueClassifierOf(queue);
    app = await buildApp({ config, classifier, queue, metrics, state });
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app?.close();
    await queue?.close();
    if (ownsClassifier) await classifier?.close();
    throw err;
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | null = null;
  const readyApp = app;
  const readyQueue = queue;
  const readyClassifier = classifier;

  return {
    url: `http://${host}:${port}`,
    port,
    app: readyApp,
    classifier: readyClassifier,
    queue: readyQueue,
    metrics,
    close() {
      closing ??= (async () => {
        state.draining = true;
        // fastify stops accepting, answers 503 on kept-alive connections, and waits for requests in progress.
        await readyApp.close();
        await readyQueue.close();
        if (ownsClassifier) {
          await readyClassifier.close();
        }
      })();
      return closing;
    },
  };
}
