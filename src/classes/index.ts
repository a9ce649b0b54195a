/**
 * Custom classes: class sets (labelled example embeddings tied to a model), their two stores and
 * the portable export file. Sits between queue and engine: it may import engine, sources,
 * settings and errors; queue, worker, http and cli may import it.
 */
export { checkLabel, checkSetName, checkThreshold, MAX_LABEL_LENGTH, sameModel } from './checks.ts';
export {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  exportLines,
  parseExport,
  parseExportText,
  readExportFile,
  writeExportFile,
} from './export-file.ts';
export { MATRIX_RECHECK_MS } from './matrix.ts';
export { modelFingerprintOf } from './model-fingerprint.ts';
export {
  customClassesOf,
  type CustomClassesOptions,
  examplesOf,
  type FittedClassSet,
  fitClassSet,
  STORED_SET_METHOD,
} from './custom-classes.ts';
export {
  checkLabels,
  type EmbedOutcome,
  type EmbeddingEngine,
  embedImages,
  type LabelledImage,
  type SkippedImage,
  type TaughtImages,
  teachImages,
} from './examples.ts';
export { lazyClassSetStore, openClassSetStore, type StoreLocation } from './open-store.ts';
export { RedisClassSetStore, type RedisStoreOptions } from './redis-store.ts';
export { CLASS_SETS_FILE, SCHEMA_VERSION, SqliteClassSetStore, type SqliteStoreOptions } from './sqlite-store.ts';
export type {
  AddResult,
  ClassMatrix,
  ClassSetExport,
  ClassSetStore,
  ClassSetSummary,
  CreateClassSet,
  DuplicateExample,
  ExampleInput,
  ImportOptions,
  LabelCount,
  LoadMatrixOptions,
  ModelFingerprint,
  StoredExample,
} from './types.ts';
export { ClassSetResolver, EVALUATION_SHOTS, EVALUATION_SPLITS, type SetEvaluation } from './resolver.ts';
export { type Evaluation, type LabelFigures, WEAK_RECALL } from './evaluate.ts';
