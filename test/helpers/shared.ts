import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root and the shared data folder beside it (models and images are never copied into the repo). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = path.resolve(REPO_ROOT, '..', 'shared');
export const TEST_MODEL = path.join(SHARED, 'models', 'mobilenetv2-12-int8.onnx');
export const SHARK_PHOTO = path.join(SHARED, 'images', 'photos', 'test_image_shark.jpg');

if (!existsSync(TEST_MODEL)) throw new Error(`The tests need ${TEST_MODEL} (the shared folder beside the repository).`);

export function sharedPath(...parts: string[]): string {
  return path.join(SHARED, ...parts);
}

export interface ReferenceTop5 {
  model: string;
  top5: Record<string, { index: number; probability: number }[]>;
}

/** Reference top-5 per image, keyed by path relative to shared/ (e.g. "images/photos/test_image_shark.jpg"). */
export function referenceTop5(): ReferenceTop5 {
  return JSON.parse(readFileSync(sharedPath('reference', 'mobilenetv2-12-int8.top5.json'), 'utf8')) as ReferenceTop5;
}
