/** Marine knowledge attached to a class; `null` on a prediction means "not a marine animal". */
/** Camtrap DP 1.0.2's `taxonRank` values (the list itself is TAXON_RANKS in marine.ts). */
export type TaxonRank = 'kingdom' | 'phylum' | 'class' | 'order' | 'family' | 'genus' | 'species' | 'subspecies';

export interface MarineInfo {
  /** e.g. "shark", "ray", "bony fish", "sea turtle", "cetacean", "crustacean", ... */
  group: string;
  /**
   * The taxon the ImageNet class identifies, at the rank in `taxon_rank`: a binomial for a
   * one-species class, else the genus, family, order, class or phylum that holds what it covers.
   */
  scientific_name: string;
  taxon_rank: TaxonRank;
  /** English name of what the class shows, e.g. "hammerhead sharks". */
  vernacular_name: string;
  /** WoRMS LSID (urn:lsid:marinespecies.org:taxname:APHIAID) where verified; null when not. */
  taxon_id: string | null;
}

export interface Prediction {
  index: number;
  synset: string;
  label: string;
  probability: number;
  marine: MarineInfo | null;
}

export interface ImageInfo {
  width: number;
  height: number;
  format: string;
  /** EXIF DateTimeOriginal as an ISO-8601 string without zone (camera-local time), when present. */
  taken_at: string | null;
  latitude: number | null;
  longitude: number | null;
}

export interface Timings {
  /** Reading the source: download, file read or upload body. */
  fetch_ms: number;
  decode_ms: number;
  queue_ms: number;
  inference_ms: number;
  total_ms: number;
}

export interface ClassifyOptions {
  topK?: number;
  /** Rank only the marine classes, probabilities renormalized over them. */
  marineOnly?: boolean;
  /** Below this top-1 probability the answer is `unknown`. */
  minScore?: number;
}

export interface ClassificationResult {
  /** The top-1 prediction, or null when it scored below `minScore`. */
  top1: Prediction | null;
  /** "unknown" when top-1 fell below `minScore`, else the top-1 label. */
  answer: string;
  unknown: boolean;
  predictions: Prediction[];
  image: ImageInfo;
  model: string;
  timings: Timings;
  /** sha256 of the image bytes, used as a cache key and to identify survey images. */
  sha256: string;
}

export interface EmbedOptions {
  /** Also embed the mirror image (same decode, same batch): one more example for free when teaching classes. */
  flip?: boolean;
}

export interface EmbeddingResult {
  /** The model's pooled features, L2-normalised: the dot product of two is their cosine similarity. */
  vector: Float32Array;
  /** The mirror image's vector when asked for with `flip`, else null. */
  flipped: Float32Array | null;
  image: ImageInfo;
  model: string;
  timings: Timings;
  sha256: string;
}

// The input type belongs to the sources layer below; the engine's callers get it from here too.
export type { ImageInput } from '../sources/input.ts';
