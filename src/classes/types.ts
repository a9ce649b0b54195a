/**
 * Class sets: named sets of labelled example embeddings, tied to the model that made them, and
 * the one store interface (SQLite in DATA_DIR, or Redis) every command and route uses.
 */

/** The model an embedding came from. Two models are the same when their file's sha256 is. */
export interface ModelFingerprint {
  /** Catalogue id or file name; for messages (the sha256 decides). */
  id: string;
  /** sha256 of the ONNX file, 64 lower-case hex digits. */
  sha256: string;
}

/** One labelled photo as it is added: its embedding and where it came from. */
export interface ExampleInput {
  /** The class name exactly as given (checked and NFC-normalised by the store). */
  label: string;
  /** L2-normalised embedding, the set's dimension. */
  vector: Float32Array;
  /** sha256 of the image bytes: a photo is kept once per set. */
  sha256: string;
  /** File path, URL or upload name, for people (at most 4096 characters). */
  source: string;
}

export interface StoredExample extends ExampleInput {
  /** ISO 8601 time it was added. */
  addedAt: string;
}

export interface LabelCount {
  label: string;
  count: number;
}

export interface ClassSetSummary {
  name: string;
  /** null for a set made empty where no model is loaded (the API in Redis mode): the first examples added fix it. */
  model: ModelFingerprint | null;
  /** Length of every embedding in the set; null while `model` is. */
  dim: number | null;
  /** The set's own threshold (cosine similarity), overriding the calibrated one; null: none. */
  threshold: number | null;
  /** Labels sorted by name, with their example counts. */
  labels: LabelCount[];
  examples: number;
  createdAt: string;
  updatedAt: string;
  /** Changes whenever the set does (and differs between a set and one re-created under its name). */
  stamp: string;
}

export interface CreateClassSet {
  name: string;
  /** Omitted (or null, with `dim`): an empty set whose model the first examples added fix. */
  model?: ModelFingerprint | null;
  dim?: number | null;
  threshold?: number | null;
  /** Examples stored with the set in the same write: the set appears whole or not at all. */
  examples?: readonly ExampleInput[];
}

/** An example that was not stored because its photo is in the set already. */
export interface DuplicateExample {
  sha256: string;
  source: string;
  label: string;
  /** The label the photo is stored under (the same label, or the one it was first added with). */
  existingLabel: string;
}

export interface AddResult {
  added: number;
  duplicates: DuplicateExample[];
  summary: ClassSetSummary;
}

/** A whole set as exported: what a file holds and what an import writes. */
export interface ClassSetExport {
  name: string;
  model: ModelFingerprint;
  dim: number;
  threshold: number | null;
  createdAt: string;
  examples: StoredExample[];
}

export interface ImportOptions {
  /** Store under this name instead of the file's. */
  as?: string;
  /** Replace a set of that name (atomically) instead of refusing with class_set_exists. */
  replace?: boolean;
}

/**
 * A set's embeddings as classification reads them: one row-major Float32Array (rows × dim), the
 * row's label as an index into `labels`. Built once per change of the set, not per image.
 */
export interface ClassMatrix {
  name: string;
  /** null: an empty set no model has embedded into yet (it matches nothing, so any model may use it). */
  model: ModelFingerprint | null;
  dim: number;
  threshold: number | null;
  /** Distinct labels, sorted. */
  labels: string[];
  /** Index into `labels` of each row. */
  labelOfRow: Uint32Array;
  /** rows × dim floats, row i at [i*dim, (i+1)*dim). */
  vectors: Float32Array;
  rows: number;
  stamp: string;
}

export interface LoadMatrixOptions {
  /**
   * Refuse (class_set_model_mismatch, with how to rebuild) unless the set was made by this model.
   * Classification always passes it.
   */
  model?: ModelFingerprint;
}

/** Where class sets live. Every write is atomic: a set is seen as before or after it, never half. */
export interface ClassSetStore {
  /** Which store this is, for messages: 'sqlite /path/class-sets.sqlite' or 'redis prefix:'. */
  readonly where: string;
  create(request: CreateClassSet): Promise<ClassSetSummary>;
  list(): Promise<ClassSetSummary[]>;
  /** class_set_not_found when there is none. */
  get(name: string): Promise<ClassSetSummary>;
  /**
   * Adds examples made by `model` (refused with class_set_model_mismatch if the set's model
   * differs; a set without a model takes this one and the examples' dimension, in the same write). A photo already in the set (same sha256) is not stored again: it is reported in
   * `duplicates`. All or nothing.
   */
  addExamples(name: string, model: ModelFingerprint, examples: readonly ExampleInput[]): Promise<AddResult>;
  /** Removes one label's examples; label_not_found when it has none. Returns how many were removed. */
  removeLabel(name: string, label: string): Promise<number>;
  /** Removes the set; class_set_not_found when there is none. */
  remove(name: string): Promise<void>;
  setThreshold(name: string, threshold: number | null): Promise<ClassSetSummary>;
  /** Every example with its embedding, oldest first (export, evaluation). */
  exportSet(name: string): Promise<ClassSetExport>;
  /** Writes a whole exported set in one step. */
  importSet(data: ClassSetExport, options?: ImportOptions): Promise<ClassSetSummary>;
  /**
   * The set for classification, cached: a change through this store object is seen at once, one
   * made by another process within `MATRIX_RECHECK_MS` (a cheap stamp read, not a reload).
   */
  loadMatrix(name: string, options?: LoadMatrixOptions): Promise<ClassMatrix>;
  close(): Promise<void>;
}
