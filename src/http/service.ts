/**
 * The whole service in one call: model, queue, app, listening socket, and an orderly shutdown.
 * Used by `marine-classifier serve`, by tests and by benchmarks.
 */
import type { FastifyInstance } from 'fastify';
import { ClassSetResolver, type ClassSetStore, lazyClassSetStore, modelFingerprintOf } from '../classes/index.ts';
import { createClassifier, type Classifier, type ClassifierOptions } from '../engine/classifier.ts';
import { examplesRunnerOf, resolvingClassify, teach } from '../queue/class-sets.ts';
import type { ClassifyService } from '../queue/classify-service.ts';
import { classifyServiceOf, createJobQueue, isRedisQueue, needsLocalModel } from '../queue/create-queue.ts';
import type { LogFn } from '../queue/redis-connection.ts';
import type { JobQueue } from '../queue/types.ts';
import { sharedSourceOptions } from '../sources/policy.ts';
import { buildApp } from './app.ts';
import type { ServiceConfig } from './config.ts';
import type { ClassSetAccess, ServiceState } from './dependencies.ts';
import { createMetrics, type ServiceMetrics } from './metrics.ts';

export interface RunningService {
  /** e.g. http://127.0.0.1:8000 */
  url: string;
  port: number;
  app: FastifyInstance;
  /** The model loaded in this process; null in Redis mode, where the workers hold it. */
  engine: Classifier | null;
  /** What the routes classify with: the engine, or (Redis mode) the workers through the queue. */
  classifier: ClassifyService;
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

/** The engine this process needs: the one given, a fresh one, or none in Redis mode (the workers hold the model). */
async function engineFor(
  config: ServiceConfig,
  options: StartServiceOptions,
  metrics: ServiceMetrics,
): Promise<Classifier | null> {
  if (options.classifier) return options.classifier;
  if (!needsLocalModel(config)) return null;
  return createClassifier(
    serviceClassifierOptions(config, { onBatch: metrics.onBatch, onDownloadProgress: options.onDownloadProgress }),
  );
}

interface Parts {
  queue: JobQueue;
  classifier: ClassifyService;
  app: FastifyInstance;
  store: ClassSetStore | null;
}

/**
 * Redis mode: the sets in Redis. The API has no model: it lists, shows and evaluates them, and
 * photos are embedded by the workers (examples jobs), which also resolve `class_set`.
 */
function redisClassSets(queue: JobQueue): ClassSetAccess | null {
  if (!isRedisQueue(queue)) return null;
  const store = queue.classSetStore();
  return { store, resolver: new ClassSetResolver(store, async () => null), teach: null };
}

/** In-process mode: the class sets in DATA_DIR, used with the model loaded here. */
function localClassSets(config: ServiceConfig, engine: Classifier | null): ClassSetAccess | null {
  if (!engine || !config.dataDir) return null;
  const store = lazyClassSetStore({ dataDir: config.dataDir });
  const resolver = new ClassSetResolver(store, () => modelFingerprintOf(engine.model));
  return { store, resolver, teach: (name, images) => teach(store, engine, name, images) };
}

/** Queue, classify service and listening app around `engine`; on failure closes what it opened (and the engine if owned). */
async function assemble(
  config: ServiceConfig,
  engine: Classifier | null,
  metrics: ServiceMetrics,
  state: ServiceState,
  ownsEngine: boolean,
): Promise<Parts> {
  let queue: JobQueue | null = null;
  let app: FastifyInstance | null = null;
  let classSets: ClassSetAccess | null = null;
  const queueLog: LogFn = (level, message) => (app ? app.log[level](message) : console.error(message));
  try {
    classSets = localClassSets(config, engine);
    const resolver = classSets?.resolver ?? null;
    const counted = engine && {
      classify: metrics.countImages(resolvingClassify(engine.classify.bind(engine), resolver)),
      classifyFrame: engine.classifyFrame.bind(engine),
      settings: engine.settings,
    };
    const examples = classSets && engine ? examplesRunnerOf(classSets.store, engine) : null;
    queue = createJobQueue(config, { classifier: counted, examples, onEvent: metrics.onQueueEvent, log: queueLog });
    const classifier = classifyServiceOf(queue, engine, resolver);
    classSets ??= redisClassSets(queue);
    app = await buildApp({ config, classifier, queue, metrics, state, classSets });
    await app.listen({ host: config.host, port: config.port });
    return { queue, classifier, app, store: classSets?.store ?? null };
  } catch (err) {
    await app?.close();
    await queue?.close();
    await classSets?.store.close();
    if (ownsEngine) await engine?.close();
    throw err;
  }
}

/** The grace period is over: whatever is still connected is closed, and the log says how much. */
function cutShort(app: FastifyInstance, graceMs: number): void {
  app.server.getConnections((_err, open) => {
    app.log.warn(
      { connections: open, grace_ms: graceMs },
      `Shutdown grace period of ${graceMs} ms is over: closing ${open} connection(s) still open`,
    );
    app.server.closeAllConnections();
  });
}

export async function startService(config: ServiceConfig, options: StartServiceOptions = {}): Promise<RunningService> {
  const metrics = options.metrics ?? createMetrics();
  const owns = options.classifier === undefined;
  const engine = await engineFor(config, options, metrics);
  const state: ServiceState = { draining: false };
  const { app, queue, classifier, store } = await assemble(config, engine, metrics, state, owns);

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | null = null;

  return {
    url: `http://${host}:${port}`,
    port,
    app,
    engine,
    classifier,
    queue,
    metrics,
    close() {
      closing ??= (async () => {
        state.draining = true;
        // fastify stops accepting, answers 503 on kept-alive connections, and waits for requests in
        // progress; a client trickling its body would hold that wait forever, so it has a deadline.
        const deadline = setTimeout(() => cutShort(app, config.shutdownGraceMs), config.shutdownGraceMs);
        await app.close();
        clearTimeout(deadline);
        await queue.close();
        await store?.close();
        // Closes the engine in-process (its URL connections with it); in Redis mode only refuses further images.
        if (owns) await classifier.close();
      })();
      return closing;
    },
  };
}
