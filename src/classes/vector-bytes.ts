/**
 * Embeddings as bytes: float32, little-endian, 4 bytes a number, in SQLite blobs, Redis strings
 * and export files alike (a JSON number would take 3 to 5 times the room and lose nothing less).
 */
import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';

/** The vector's bytes (a copy, so the caller may reuse its array). */
export function vectorBytes(vector: Float32Array): Buffer {
  const bytes = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  const copy = Buffer.from(bytes);
  return LITTLE_ENDIAN ? copy : copy.swap32();
}

/** A vector from stored bytes, or null when the byte count is not dim float32s. */
export function vectorFromBytes(bytes: Uint8Array, dim: number): Float32Array | null {
  if (bytes.byteLength !== dim * 4) return null;
  const vector = new Float32Array(dim);
  copyInto(vector, 0, bytes);
  return vector;
}

/** Copies one stored vector into row `row` of a matrix (no per-number work on little-endian hosts). */
export function copyInto(matrix: Float32Array, row: number, bytes: Uint8Array): void {
  const target = new Uint8Array(matrix.buffer, matrix.byteOffset + row * bytes.byteLength, bytes.byteLength);
  target.set(bytes);
  if (!LITTLE_ENDIAN) Buffer.from(target.buffer, target.byteOffset, target.byteLength).swap32();
}
