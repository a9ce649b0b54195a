import type { FastifyContextConfig } from 'fastify';
import type { Classifier } from '../engine/classifier.ts';
import type { JobQueue } from '../queue/types.ts';
import type { ServiceConfig } from './config.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Counts against the client's rate limit (RATE_LIMIT_MAX), shared across all such routes. */
    rateLimited?: boolean;
  }
}

/** What the route modules share. */
export interface RouteDependencies {
  config: ServiceConfig;
  classifier: Classifier;
  queue: JobQueue;
  /** Route config for API endpoints: API key and rate limit when configured. */
  apiRouteConfig: FastifyContextConfig;
  state: ServiceState;
}

export interface ServiceState {
  /** Set when shutdown begins, so /readyz tells load balancers to stop sending work. */
  draining: boolean;
}
