/** The library entry point: the engine every other part of the project calls. */
export { createClassifier, validateClassifyOptions } from './engine/classifier.ts';
export type {
  Classifier,
  ClassifierOptions,
  ClassifierSettings,
  ManyOutcome,
  ModelDescription,
} from './engine/classifier.ts';
export type {
  ClassificationResult,
  ClassifyOptions,
  EmbedOptions,
  EmbeddingResult,
  ImageInfo,
  ImageInput,
  MarineInfo,
  Prediction,
  TaxonRank,
  Timings,
} from './engine/types.ts';
export type { EmbeddingSupport } from './engine/session.ts';
export { CATALOGUE, DEFAULT_MODEL_ID, findCatalogueEntry } from './engine/catalogue.ts';
export type { CatalogueEntry } from './engine/catalogue.ts';
export {
  MARINE_CLASS_INDICES,
  OCEAN_SCENE_INDICES,
  TAXON_RANKS,
  marineInfoOf,
  marineTaxonOf,
} from './engine/marine.ts';
export { ClassifierError, isClassifierError } from './errors.ts';
