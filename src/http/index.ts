/** The HTTP service, for the `serve` command, tests and benchmarks. */
export { buildApp, type AppOptions } from './app.ts';
export {
  defaultServiceConfig,
  serviceConfig,
  serviceConfigFromEnv,
  type ServiceConfig,
  type ServiceConfigOverrides,
} from './config.ts';
export { createMetrics, type ServiceMetrics } from './metrics.ts';
export { serviceClassifierOptions, startService, type RunningService, type StartServiceOptions } from './service.ts';
