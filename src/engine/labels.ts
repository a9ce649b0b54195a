import { createRequire } from 'node:module';

/** ImageNet-1k classes in model output order: [WordNet synset id, short name with underscores]. */
const require = createRequire(import.meta.url);
const CLASSES = require('./data/imagenet-classes.json') as [string, string][];

export const CLASS_COUNT = CLASSES.length;

export function synsetOf(index: number): string {
  return CLASSES[index][0];
}

/** "great_white_shark" -> "great white shark": the label a person reads. */
export function labelOf(index: number): string {
  return CLASSES[index][1].replace(/_/g, ' ');
}
