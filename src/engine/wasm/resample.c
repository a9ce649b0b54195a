/*
 * The two passes of Pillow's 8-bit bilinear resampling (see ../resample.ts, the reference
 * implementation these must match byte for byte), in WebAssembly SIMD: about 4x faster than the
 * TypeScript port, and this resampling is the largest part of preparing an image.
 *
 * Build: scripts/build-wasm.sh (clang + wasm-ld). The weights are computed in TypeScript and
 * passed in; these functions only multiply and add. Fixed point: 22 fraction bits, sums start at
 * 2^21, shift right by 22, clip to 0..255 — the same integer arithmetic as Pillow.
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1))

/*
 * Horizontal pass over `rows` rows of packed RGB (`src_stride` bytes apart) into `out_width`
 * pixels per row. Pixel x of output o is sum(src[start[o] + t] * weights[o * taps + t]) for
 * t < count[o]. Each tap loads 4 bytes (RGB and the next pixel's first byte, whose lane is
 * dropped), so `src` must be readable 1 byte past its last pixel; each pixel stores 4 bytes, so
 * `dst` must be writable 1 byte past its end.
 */
__attribute__((export_name("resample_horizontal")))
void resample_horizontal(const uint8_t *src, int src_stride, int rows, uint8_t *dst, int out_width,
                         const int32_t *start, const int32_t *count, const int32_t *weights, int taps) {
  const v128_t half = wasm_i32x4_splat(HALF);
  for (int y = 0; y < rows; y++) {
    const uint8_t *row = src + (long)y * src_stride;
    uint8_t *out = dst + (long)y * out_width * 3;
    for (int o = 0; o < out_width; o++) {
      const uint8_t *p = row + start[o] * 3;
      const int32_t *k = weights + o * taps;
      const int n = count[o];
      v128_t acc = half;
      for (int t = 0; t < n; t++, p += 3) {
        v128_t px = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(p)));
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(px, wasm_i32x4_splat(k[t])));
      }
      acc = wasm_i32x4_shr(acc, PRECISION_BITS);
      v128_t narrow16 = wasm_i16x8_narrow_i32x4(acc, acc);
      v128_t bytes = wasm_u8x16_narrow_i16x8(narrow16, narrow16);
      wasm_v128_store32_lane(out + o * 3, bytes, 0);
    }
  }
}

/*
 * Vertical pass: `out_height` rows of `stride` bytes from `mid`, whose row start[o] + t
 * contributes with weights[o * taps + t]. Works 16 bytes at a time, so `mid` must be readable and
 * `dst` writable up to 15 bytes past their ends.
 */
__attribute__((export_name("resample_vertical")))
void resample_vertical(const uint8_t *mid, int stride, uint8_t *dst, int out_height,
                       const int32_t *start, const int32_t *count, const int32_t *weights, int taps) {
  const v128_t half = wasm_i32x4_splat(HALF);
  for (int o = 0; o < out_height; o++) {
    const int32_t *k = weights + o * taps;
    const int n = count[o];
    const uint8_t *base = mid + (long)start[o] * stride;
    uint8_t *out = dst + (long)o * stride;
    for (int c = 0; c < stride; c += 16) {
      v128_t a0 = half, a1 = half, a2 = half, a3 = half;
      const uint8_t *p = base + c;
      for (int t = 0; t < n; t++, p += stride) {
        const v128_t v = wasm_v128_load(p);
        const v128_t w = wasm_i32x4_splat(k[t]);
        const v128_t lo = wasm_u16x8_extend_low_u8x16(v);
        const v128_t hi = wasm_u16x8_extend_high_u8x16(v);
        a0 = wasm_i32x4_add(a0, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(lo), w));
        a1 = wasm_i32x4_add(a1, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(lo), w));
        a2 = wasm_i32x4_add(a2, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(hi), w));
        a3 = wasm_i32x4_add(a3, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(hi), w));
      }
      a0 = wasm_i32x4_shr(a0, PRECISION_BITS);
      a1 = wasm_i32x4_shr(a1, PRECISION_BITS);
      a2 = wasm_i32x4_shr(a2, PRECISION_BITS);
      a3 = wasm_i32x4_shr(a3, PRECISION_BITS);
      /* Saturating narrows clip to 0..255 exactly as Pillow's clip8. */
      wasm_v128_store(out + c, wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(a0, a1), wasm_i16x8_narrow_i32x4(a2, a3)));
    }
  }
}
