import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { mayHaveExif } from '../src/engine/preprocess.ts';
import { sharedPath } from './helpers/shared.ts';

const plain = () => sharp({ create: { width: 40, height: 30, channels: 3, background: '#2266aa' } });

test('a JPEG without EXIF is known to have none, so exifr is not asked', async () => {
  assert.equal(mayHaveExif(await plain().jpeg().toBuffer(), 'jpeg'), false);
  // An ICC profile (APP2) and the quantization and Huffman tables before the image data are not EXIF either.
  const withIcc = await plain().withIccProfile('srgb').jpeg().toBuffer();
  assert.equal(mayHaveExif(withIcc, 'jpeg'), false);
  assert.equal(mayHaveExif(readFileSync(sharedPath('images', 'photos', 'test_image_shark.jpg')), 'jpeg'), false);
});

test('a JPEG with EXIF, one that cannot be walked, and other formats all go to exifr', async () => {
  const exif = await plain()
    .withExif({ IFD0: { Copyright: 'survey 7' } })
    .withIccProfile('srgb')
    .jpeg()
    .toBuffer();
  assert.equal(mayHaveExif(exif, 'jpeg'), true);
  const truncated = exif.subarray(0, 3);
  assert.equal(mayHaveExif(truncated, 'jpeg'), true);
  const garbled = Buffer.concat([exif.subarray(0, 2), Buffer.from([0x12, 0x34]), exif.subarray(4)]);
  assert.equal(mayHaveExif(garbled, 'jpeg'), true);
  assert.equal(mayHaveExif(await plain().png().toBuffer(), 'png'), true);
});
