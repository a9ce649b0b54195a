/**
 * Generated blocks inside hand-written Markdown: `<!-- generated:NAME -->` ... `<!-- /generated:NAME -->`.
 * Tables that come from code (settings, error codes) live between such markers; `npm run docs`
 * rewrites them and a test fails when a file's block differs from what the code generates.
 */
import { readFileSync, writeFileSync } from 'node:fs';

function markers(name: string): [string, string] {
  return [`<!-- generated:${name} -->`, `<!-- /generated:${name} -->`];
}

/** The text between the block's markers (without the marker lines' newlines), or null if the file has no such block. */
export function readBlock(text: string, name: string): string | null {
  const [open, close] = markers(name);
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) return null;
  return text
    .slice(start + open.length, end)
    .replace(/^\n/, '')
    .replace(/\n$/, '');
}

/** `text` with the block's contents replaced; throws if the markers are missing. */
export function replaceBlock(text: string, name: string, content: string): string {
  const [open, close] = markers(name);
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) throw new Error(`no ${open} ... ${close} block`);
  return `${text.slice(0, start + open.length)}\n${content}\n${text.slice(end)}`;
}

/** Rewrites one block of a file in place; true if it changed. */
export function updateFileBlock(file: string, name: string, content: string): boolean {
  const before = readFileSync(file, 'utf8');
  const after = replaceBlock(before, name, content);
  if (after !== before) writeFileSync(file, after);
  return after !== before;
}
