import type { ImageInput } from '../engine/types.ts';
import type { ImageSpec } from './types.ts';

/**
 * What the engine is handed for a stored image. A URL goes in as a URL object so that the engine
 * can never mistake it for a local path, whatever the string looks like.
 */
export function engineInputOf(image: ImageSpec): ImageInput {
  switch (image.kind) {
    case 'url':
      return new URL(image.url);
    case 'base64':
      return Buffer.from(image.data, 'base64');
    case 'path':
      return image.path;
  }
}

/** How a result names its image: the URL, the path, or the upload's name. */
export function sourceLabelOf(image: ImageSpec): string {
  switch (image.kind) {
    case 'url':
      return image.url;
    case 'base64':
      return image.label;
    case 'path':
      return image.path;
  }
}

/** Bytes a waiting job holds in memory for its inline images; what the queue's memory budget counts. */
export function inlineBytesOf(images: readonly ImageSpec[]): number {
  let total = 0;
  for (const image of images) if (image.kind === 'base64') total += image.data.length;
  return total;
}
