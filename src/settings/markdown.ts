/** The configuration tables of the docs (README), generated from the settings table (`npm run docs`). */
import { TypeGuard } from '@sinclair/typebox';
import { choicesOf, type SettingDeclaration } from './declaration.ts';
import { defaultText } from './options.ts';
import { SETTINGS } from './table.ts';

/** What a value may be, in a few characters. */
function allowedShort(declaration: SettingDeclaration): string {
  const { schema } = declaration;
  const choices = choicesOf(schema);
  if (declaration.expected) return declaration.expected;
  if (choices) return choices.map((c) => `\`${c}\``).join(', ');
  if (declaration.form === 'duration') return 'duration, e.g. `30s`, `1m`';
  if (declaration.form === 'seconds') return 'duration, e.g. `0.5s`, `2s`, `1500ms` (bare: seconds)';
  if (TypeGuard.IsInteger(schema) || TypeGuard.IsNumber(schema)) {
    const whole = TypeGuard.IsInteger(schema) ? 'whole number' : 'number';
    return `${whole}, ${schema.minimum}–${schema.maximum}`;
  }
  if (TypeGuard.IsBoolean(schema)) return '`true`, `false`';
  if (declaration.form === 'list') return 'comma-separated list';
  if (declaration.form === 'path') return 'folder';
  return 'text';
}

function code(text: string | undefined): string {
  return text ? `\`${text}\`` : '';
}

function row(declaration: SettingDeclaration): string[] {
  const flag = declaration.flag?.replace(/ <.*>$/, '');
  return [
    code(declaration.env),
    code(flag),
    declaration.commands.join(', '),
    defaultText(declaration) ?? '—',
    allowedShort(declaration),
    declaration.help,
  ];
}

/** A Markdown table padded the way the formatter (biome) writes it, so generated blocks stay as generated. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** One table per group (engine, image sources, HTTP service, job queue, worker, classify run), or only of `only`. */
export function settingsTableMarkdown(only?: readonly string[]): string {
  const groups = new Map<string, SettingDeclaration[]>();
  for (const declaration of Object.values(SETTINGS) as SettingDeclaration[]) {
    if (only && !only.includes(declaration.group)) continue;
    const list = groups.get(declaration.group) ?? [];
    list.push(declaration);
    groups.set(declaration.group, list);
  }
  const header = ['variable', 'flag', 'read by', 'default', 'allowed', 'meaning'];
  const sections = [...groups].map(
    ([group, declarations]) =>
      `**${group === 'classify' ? 'Options of one `classify` run' : group}**\n\n${markdownTable(header, declarations.map(row))}`,
  );
  return sections.join('\n\n');
}
