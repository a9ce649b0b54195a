/** The HTTP service, for the `serve` command, tests and benchmarks. */
export { apiPlugin, type ApiPluginOptions } from './api.ts';
export { buildApp, type AppOptions } from './app.ts';
export {
  defaultServiceConfig,
  serviceConfig,
  serviceConfigFromEnv,
  type ServiceConfig,
  type ServiceConfigOverrides,
} from './config.ts';
export type { RouteDependencies, Routes, TypedInstance } from './dependencies.ts';
export { ServiceMetrics, createMetrics } from './metrics.ts';
export { serviceClassifierOptions, startService, type RunningService, type StartServiceOptions } from './service.ts';
