// heic-decode ships no types; this is the part of its API the engine uses.
declare module 'heic-decode' {
  interface DecodedImage {
    width: number;
    height: number;
    data: Uint8ClampedArray;
  }
  interface LazyImage {
    width: number;
    height: number;
    decode(): Promise<DecodedImage>;
  }
  /** The file's images, not yet decoded; dispose() frees libheif's memory for them. */
  type LazyImages = LazyImage[] & { dispose(): void };
  interface Decode {
    (input: { buffer: Uint8Array }): Promise<DecodedImage>;
    all(input: { buffer: Uint8Array }): Promise<LazyImages>;
  }
  const decode: Decode;
  export default decode;
}
