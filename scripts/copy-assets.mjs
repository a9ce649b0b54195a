// tsc compiles only TypeScript; the files the engine reads at run time beside its modules
// (the class list, the WebAssembly resampler) are copied into dist/ next to them.
import { cpSync, mkdirSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const outDir = new URL(process.argv[2] ? `${process.argv[2].replace(/\/?$/, '/')}` : 'dist/', root);
for (const asset of ['engine/data/imagenet-classes.json', 'engine/wasm/resample.wasm']) {
  const target = new URL(asset, outDir);
  mkdirSync(new URL('./', target), { recursive: true });
  cpSync(new URL(`src/${asset}`, root), target);
}
