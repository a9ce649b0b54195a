import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ClassSetResolver, ClassSetStore, LabelledImage } from '../classes/index.ts';
import type { ClassifyService } from '../queue/classify-service.ts';
import type { ExamplesResult, JobQueue } from '../queue/types.ts';
import type { ServiceConfig } from './config.ts';
import type { ClassifyFn } from './metrics.ts';

/** A fastify instance whose handlers take their request and reply types from the route's TypeBox schemas. */
export type TypedInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What the route modules share. */
export interface RouteDependencies {
  config: ServiceConfig;
  /** Classifies and describes the model: the engine here, or the workers in Redis mode. */
  service: ClassifyService;
  /** The service's classify, counted in the metrics; what POST /classify calls. */
  classify: ClassifyFn;
  queue: JobQueue;
  state: ServiceState;
  /** The class sets (SQLite in DATA_DIR, or Redis); null: the /class-sets routes are not served. */
  classSets?: ClassSetAccess | null;
}

export interface ClassSetAccess {
  store: ClassSetStore;
  /** Fits and evaluates sets (cached per change of a set). */
  resolver: ClassSetResolver;
  /** Adds photos here and now (in-process mode); null where the API has no model (Redis: an examples job). */
  teach: ((name: string, images: LabelledImage[]) => Promise<ExamplesResult>) | null;
}

/** Route modules: registered inside the API plugin (protected) or beside it (open), as app.ts decides. */
export type Routes = (app: TypedInstance, deps: RouteDependencies) => void;

export interface ServiceState {
  /** Set when shutdown begins, so /readyz tells load balancers to stop sending work. */
  draining: boolean;
}
