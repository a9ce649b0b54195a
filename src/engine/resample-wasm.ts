/**
 * Pillow's bilinear resize + crop (the same result as resample.ts, byte for byte) with the two
 * convolution passes in WebAssembly SIMD (wasm/resample.c). The weights come from resample.ts.
 *
 * Each thread has its own instance and memory. The source is copied in a strip of rows at a time,
 * so the instance's memory stays small (a few MB) even for a 100-megapixel photo.
 */
import { readFileSync } from 'node:fs';
import { coefficients, resizeAndCropLikePillow, type CropBox, type RgbImage } from './resample.ts';

interface Exports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  resample_horizontal(
    src: number,
    srcStride: number,
    rows: number,
    dst: number,
    outWidth: number,
    start: number,
    count: number,
    weights: number,
    taps: number,
  ): void;
  resample_vertical(
    mid: number,
    stride: number,
    dst: number,
    outHeight: number,
    start: number,
    count: number,
    weights: number,
    taps: number,
  ): void;
}

/** Source bytes copied into the instance per horizontal call. */
const STRIP_BYTES = 2 * 1024 * 1024;
/** Both passes read and write up to 16 bytes past a buffer's end (see resample.c). */
const PAD = 16;

function instantiate(): Exports | null {
  try {
    const bytes = readFileSync(new URL('./wasm/resample.wasm', import.meta.url));
    return new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Exports;
  } catch {
    // No WebAssembly SIMD here (very old CPUs or runtimes): the TypeScript version gives the same result.
    return null;
  }
}

let wasm: Exports | null | undefined;

/** Whether the WebAssembly version runs in this process (else the TypeScript one does). */
export function wasmResampleAvailable(): boolean {
  if (wasm === undefined) wasm = instantiate();
  return wasm !== null;
}

/** Hands out 16-byte aligned regions of the instance's memory, growing it when needed. */
function layout(exports: Exports, sizes: number[]): { offsets: number[]; heap: Uint8Array } {
  let end = Number(exports.__heap_base.value);
  const offsets = sizes.map((size) => {
    end = Math.ceil(end / 16) * 16;
    const offset = end;
    end += size + PAD;
    return offset;
  });
  const missing = end - exports.memory.buffer.byteLength;
  if (missing > 0) exports.memory.grow(Math.ceil(missing / 65536));
  return { offsets, heap: new Uint8Array(exports.memory.buffer) };
}

function putInts(heap: Uint8Array, offset: number, values: Int32Array): void {
  new Int32Array(heap.buffer, offset, values.length).set(values);
}

/**
 * Resize `src` (packed 8-bit RGB) to outWidth x outHeight the way Pillow does and return only the
 * `crop` region, packed RGB, in a buffer of its own.
 */
export function resizeAndCrop(src: RgbImage, outWidth: number, outHeight: number, crop: CropBox): Uint8Array {
  const exports = wasmResampleAvailable() ? wasm : null;
  if (!exports || outWidth === src.width || outHeight === src.height) {
    // A pass that is a plain copy is rare (the image is already the target size on one side).
    return resizeAndCropLikePillow(src, outWidth, outHeight, crop);
  }
  const h = coefficients(src.width, outWidth, crop.left, crop.width);
  const v = coefficients(src.height, outHeight, crop.top, crop.height);
  const rowFirst = v.start[0];
  const rows = v.start[crop.height - 1] + v.count[crop.height - 1] - rowFirst;
  const vStart = v.start.map((row) => row - rowFirst);
  const srcStride = src.width * 3;
  const midStride = crop.width * 3;
  const stripRows = Math.max(1, Math.min(rows, Math.floor(STRIP_BYTES / srcStride)));

  const sizes = [h.start.length, h.count.length, h.weights.length, vStart.length, v.count.length, v.weights.length].map(
    (n) => n * 4,
  );
  const { offsets, heap } = layout(exports, [
    ...sizes,
    rows * midStride,
    crop.height * midStride,
    stripRows * srcStride,
  ]);
  const [hStart, hCount, hWeights, vStartAt, vCount, vWeights, mid, out, strip] = offsets;
  putInts(heap, hStart, h.start);
  putInts(heap, hCount, h.count);
  putInts(heap, hWeights, h.weights);
  putInts(heap, vStartAt, vStart);
  putInts(heap, vCount, v.count);
  putInts(heap, vWeights, v.weights);

  for (let done = 0; done < rows; done += stripRows) {
    const n = Math.min(stripRows, rows - done);
    const from = (rowFirst + done) * srcStride;
    heap.set(src.data.subarray(from, from + n * srcStride), strip);
    exports.resample_horizontal(
      strip,
      srcStride,
      n,
      mid + done * midStride,
      crop.width,
      hStart,
      hCount,
      hWeights,
      h.taps,
    );
  }
  exports.resample_vertical(mid, midStride, out, crop.height, vStartAt, vCount, vWeights, v.taps);
  return heap.slice(out, out + crop.height * midStride);
}
