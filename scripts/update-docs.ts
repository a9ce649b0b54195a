/**
 * `npm run docs`: rewrites the generated blocks of the docs from the code that declares them.
 * Each entry: file, block name, the function that generates its content.
 */
import { errorTableMarkdown } from '../src/error-catalogue.ts';
import { taxaTableMarkdown } from '../src/engine/taxa-markdown.ts';
import { settingsTableMarkdown } from '../src/settings/markdown.ts';
import { updateFileBlock } from './docs-blocks.ts';

const BLOCKS: { file: string; name: string; generate: () => string }[] = [
  { file: 'README.md', name: 'settings', generate: () => settingsTableMarkdown() },
  { file: 'README.md', name: 'errors', generate: errorTableMarkdown },
  { file: 'docs/taxa.md', name: 'taxa', generate: taxaTableMarkdown },
];

for (const { file, name, generate } of BLOCKS) {
  const changed = updateFileBlock(new URL(`../${file}`, import.meta.url).pathname, name, generate());
  console.log(`${file} ${name}: ${changed ? 'updated' : 'up to date'}`);
}
