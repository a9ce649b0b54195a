/**
 * The matrix classification searches: built from a set's rows once per change, then kept. A
 * cached matrix is trusted for MATRIX_RECHECK_MS, then its stamp is compared with the store's
 * (one small read); only a changed stamp reloads the rows.
 */
import { ClassifierError } from '../errors.ts';
import { copyInto } from './vector-bytes.ts';
import type { ClassMatrix, ModelFingerprint } from './types.ts';

/** How long a change made by another process may go unseen by a process's cached matrix. */
export const MATRIX_RECHECK_MS = 1000;

export interface MatrixHead {
  name: string;
  model: ModelFingerprint | null;
  dim: number;
  threshold: number | null;
  stamp: string;
}

/**
 * Fills a matrix row by row straight from the store's bytes: no per-row objects, so a set of
 * 100,000 examples costs its rows × dim × 4 bytes and little more.
 */
export class MatrixBuilder {
  private readonly indexOf: Map<string, number>;
  private readonly labels: string[];
  private readonly labelOfRow: Uint32Array;
  private readonly vectors: Float32Array;
  private filled = 0;

  constructor(
    private readonly head: MatrixHead,
    labels: Iterable<string>,
    private readonly rows: number,
  ) {
    this.labels = [...new Set(labels)].sort();
    this.indexOf = new Map(this.labels.map((label, i) => [label, i]));
    this.labelOfRow = new Uint32Array(rows);
    this.vectors = new Float32Array(rows * head.dim);
  }

  add(label: string, vector: Uint8Array): void {
    const index = this.indexOf.get(label);
    if (index === undefined || vector.byteLength !== this.head.dim * 4 || this.filled >= this.rows)
      throw new ClassifierError(
        'internal_error',
        `The class set "${this.head.name}" changed while it was read, or holds an embedding of the wrong size.`,
      );
    copyInto(this.vectors, this.filled, vector);
    this.labelOfRow[this.filled++] = index;
  }

  finish(): ClassMatrix {
    if (this.filled !== this.rows)
      throw new ClassifierError('internal_error', `The class set "${this.head.name}" changed while it was read.`);
    return {
      ...this.head,
      labels: this.labels,
      labelOfRow: this.labelOfRow,
      vectors: this.vectors,
      rows: this.rows,
    };
  }
}

interface Entry {
  matrix: ClassMatrix;
  checkedAt: number;
}

export class MatrixCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<ClassMatrix>>();
  /** Bumped by each local write, so a load that began before it is not cached (nor shared) after it. */
  private generation = 0;

  constructor(
    /** The set's current stamp, or null when it is gone. */
    private readonly stampOf: (name: string) => Promise<string | null>,
    private readonly load: (name: string) => Promise<ClassMatrix>,
    private readonly recheckMs = MATRIX_RECHECK_MS,
  ) {}

  async get(name: string, missing: () => Error): Promise<ClassMatrix> {
    const entry = this.entries.get(name);
    const now = Date.now();
    if (entry && now - entry.checkedAt < this.recheckMs) return entry.matrix;
    if (entry) {
      const stamp = await this.stampOf(name);
      if (stamp === null) {
        this.entries.delete(name);
        throw missing();
      }
      if (stamp === entry.matrix.stamp) {
        entry.checkedAt = now;
        return entry.matrix;
      }
    }
    // Many images arriving together for a set not loaded yet share one load.
    const generation = this.generation;
    let pending = this.loading.get(name);
    if (!pending) {
      const started = this.load(name).finally(() => {
        if (this.loading.get(name) === started) this.loading.delete(name);
      });
      pending = started;
      this.loading.set(name, pending);
    }
    const matrix = await pending;
    if (generation === this.generation) this.entries.set(name, { matrix, checkedAt: Date.now() });
    return matrix;
  }

  /** After a write through this store: the next get reloads. */
  invalidate(name: string): void {
    this.generation++;
    this.entries.delete(name);
    this.loading.delete(name);
  }

  clear(): void {
    this.entries.clear();
  }
}
