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
export { openClassSetStore, type StoreLocation } from './open-store.ts';
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
