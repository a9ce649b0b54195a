import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { centerCropBox, resizeAndCropLikePillow, resizedSize, type RgbImage } from '../src/engine/resample.ts';
import { resizeAndCrop, wasmResampleAvailable } from '../src/engine/resample-wasm.ts';
import { sharedPath } from './helpers/shared.ts';

/** A small deterministic generator (mulberry32), so a failure names sizes that can be re-run. */
function randomSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
  );
}

test('the WebAssembly resampler loads on this machine (else the comparisons below would be TypeScript against itself)', () => {
  assert.equal(wasmResampleAvailable(), true);
});

test('WebAssembly and TypeScript resampling agree byte for byte on every shared image', async () => {
  const files = ['imagenet-marine', 'imagenet-other', 'photos'].flatMap((dir) =>
    readdirSync(sharedPath('images', dir)).map((f) => sharedPath('images', dir, f)),
  );
  let compared = 0;
  for (const file of files) {
    const decoded = await sharp(readFileSync(file), { ignoreIcc: true })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
      .catch(() => null);
    if (decoded?.info.channels !== 3) continue; // the shared set has a few deliberately broken files
    const src: RgbImage = { data: decoded.data, width: decoded.info.width, height: decoded.info.height };
    const size = resizedSize(src.width, src.height, 256);
    const crop = centerCropBox(size.width, size.height, 224);
    assert.ok(
      sameBytes(
        resizeAndCrop(src, size.width, size.height, crop),
        resizeAndCropLikePillow(src, size.width, size.height, crop),
      ),
      file,
    );
    compared++;
  }
  assert.ok(compared >= 50, `compared only ${compared} images`);
});

test('WebAssembly and TypeScript resampling agree on random sizes, up- and downscaling, odd crops', () => {
  const random = randomSource(20261126);
  for (let i = 0; i < 300; i++) {
    const width = 1 + Math.floor(random() * 900);
    const height = 1 + Math.floor(random() * 900);
    const data = new Uint8Array(width * height * 3);
    for (let j = 0; j < data.length; j++) data[j] = Math.floor(random() * 256);
    const shortSide = 1 + Math.floor(random() * 320);
    const size = resizedSize(width, height, shortSide);
    const cropSide = 1 + Math.floor(random() * Math.min(size.width, size.height));
    const crop = centerCropBox(size.width, size.height, cropSide);
    const src = { data, width, height };
    assert.ok(
      sameBytes(
        resizeAndCrop(src, size.width, size.height, crop),
        resizeAndCropLikePillow(src, size.width, size.height, crop),
      ),
      `${width}x${height} -> ${size.width}x${size.height}, crop ${cropSide}`,
    );
  }
});

test('a photo taller than one copy strip (thousands of rows) resamples the same way', () => {
  const width = 1200;
  const height = 5000; // 3.6 kB rows: several 2 MB strips
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width * 3; x++) data[y * width * 3 + x] = (x * 7 + y * 13) & 255;
  const size = resizedSize(width, height, 256);
  const crop = centerCropBox(size.width, size.height, 224);
  const src = { data, width, height };
  assert.ok(
    sameBytes(
      resizeAndCrop(src, size.width, size.height, crop),
      resizeAndCropLikePillow(src, size.width, size.height, crop),
    ),
  );
});
