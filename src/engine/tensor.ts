/** Model input from the cropped RGB pixels: ToTensor + Normalize with the ImageNet mean and std. */

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
/** byte value -> normalized float32, per channel: the same float32 arithmetic as ToTensor + Normalize. */
const NORMALIZE_LUT = MEAN.map((mean, c) => {
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - mean) / STD[c]);
  return lut;
});

export type Layout = 'NCHW' | 'NHWC';

/** Writes one image (packed RGB, size x size) into `target` at `offset`, normalized, in the model's layout. */
export function writeTensor(pixels: Uint8Array, size: number, layout: Layout, target: Float32Array, offset = 0): void {
  const plane = size * size;
  if (pixels.length !== plane * 3)
    throw new Error(`expected ${plane * 3} RGB bytes for a ${size}x${size} image, got ${pixels.length}`);
  const [r, g, b] = NORMALIZE_LUT;
  if (layout === 'NCHW') {
    const gOffset = offset + plane;
    const bOffset = offset + 2 * plane;
    for (let i = 0, p = 0; i < plane; i++, p += 3) {
      target[offset + i] = r[pixels[p]];
      target[gOffset + i] = g[pixels[p + 1]];
      target[bOffset + i] = b[pixels[p + 2]];
    }
  } else {
    for (let p = 0; p < plane * 3; p += 3) {
      target[offset + p] = r[pixels[p]];
      target[offset + p + 1] = g[pixels[p + 1]];
      target[offset + p + 2] = b[pixels[p + 2]];
    }
  }
}

/** One image's model input as a new tensor. */
export function tensorOf(pixels: Uint8Array, size: number, layout: Layout): Float32Array {
  const tensor = new Float32Array(size * size * 3);
  writeTensor(pixels, size, layout, tensor);
  return tensor;
}
