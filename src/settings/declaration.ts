/**
 * What one setting is (environment name, flag, TypeBox schema, default, help) and how one given
 * value of it is read: a small text step (numbers, yes/no, durations, comma lists) then TypeBox.
 */
import path from 'node:path';
import { type Static, type TSchema, TypeGuard } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type ClassifierError, invalidSettingError } from '../errors.ts';

export const COMMANDS = ['classify', 'serve', 'worker', 'models', 'classes'] as const;
export type CommandName = (typeof COMMANDS)[number];

export interface SettingDeclaration<S extends TSchema = TSchema> {
  /** Environment variable; absent for an option of one run (`classify --top-k`). */
  env?: string;
  /** The commander flag as --help shows it: '--port <n>', '-k, --top-k <n>', '--trust-proxy'. */
  flag?: string;
  schema: S;
  /**
   * Text that is not a plain number, boolean or word: '30s', 'a,b,c', a folder (made absolute).
   * 'duration' reads a bare number as milliseconds, 'seconds' as seconds (both give milliseconds).
   */
  form?: 'duration' | 'seconds' | 'list' | 'path';
  default?: Static<S>;
  /** The default as docs and --help state it, when it is computed elsewhere or absent. */
  defaultText?: string;
  /** What is allowed, where the schema would say it badly (patterns). */
  expected?: string;
  help: string;
  /** Heading it is documented under. */
  group: string;
  commands: readonly CommandName[];
  /** An empty variable is a value (`WEB_ROOT=` serves no page) rather than "unset". */
  emptyIsValue?: boolean;
}

/** A declaration that remembers the type of its value (V), for the Settings record. */
export interface Setting<S extends TSchema = TSchema, V = unknown> extends SettingDeclaration<S> {
  readonly valueType?: V;
}

export function setting<S extends TSchema>(
  declaration: SettingDeclaration<S> & { default: Static<S> },
): Setting<S, Static<S>> & { default: Static<S> } {
  return declaration;
}

/** A setting without a default: undefined leaves the choice to the code that uses it. */
export function optional<S extends TSchema>(
  declaration: Omit<SettingDeclaration<S>, 'default'>,
): Setting<S, Static<S> | undefined> {
  return declaration;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "60000", "30s", "1m", "1 minute", "2 hours" -> milliseconds; NaN when it is none of these. A bare number is in `bareUnit`. */
export function durationMs(text: string, bareUnit: 'ms' | 's' = 'ms'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?\s*$/i.exec(text);
  if (!match) return Number.NaN;
  const unit = (match[2] ?? bareUnit).toLowerCase();
  const key = unit.startsWith('ms') || unit.startsWith('milli') ? 'ms' : unit[0];
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[key]);
}

export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** The choices of a union of string literals, else null. */
export function choicesOf(schema: TSchema): string[] | null {
  if (!TypeGuard.IsUnion(schema)) return null;
  const values = schema.anyOf.map((member) => (TypeGuard.IsLiteral(member) ? member.const : null));
  return values.every((value) => typeof value === 'string') ? (values as string[]) : null;
}

function joinChoices(choices: readonly string[]): string {
  return choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices.join('');
}

const DAY_MS = 24 * 3_600_000;

function durationText(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS} days` : `${ms} ms`;
}

/** What the setting accepts, for error messages and the docs. */
export function expectedText(declaration: SettingDeclaration): string {
  const { schema } = declaration;
  if (declaration.expected) return declaration.expected;
  const choices = choicesOf(schema);
  if (choices) return joinChoices(choices);
  if (declaration.form === 'duration')
    return `a duration from ${durationText(schema.minimum)} to ${durationText(schema.maximum)}, such as 60000, 30s, 1m or 1 hour`;
  if (declaration.form === 'seconds')
    return `a duration from ${durationText(schema.minimum)} to ${durationText(schema.maximum)}, such as 0.5s, 2s or 1500ms (a bare number is seconds)`;
  if (TypeGuard.IsInteger(schema)) return `a whole number from ${schema.minimum} to ${schema.maximum}`;
  if (TypeGuard.IsNumber(schema)) return `a number from ${schema.minimum} to ${schema.maximum}`;
  if (TypeGuard.IsBoolean(schema)) return 'true or false';
  if (TypeGuard.IsArray(schema)) return 'a comma-separated list';
  return declaration.form === 'path' ? 'a folder' : 'text';
}

function fromText(declaration: SettingDeclaration, text: string): unknown {
  const { schema, form } = declaration;
  if (form === 'duration') return durationMs(text);
  if (form === 'seconds') return durationMs(text, 's');
  if (form === 'list') return splitList(text);
  if (TypeGuard.IsInteger(schema) || TypeGuard.IsNumber(schema)) return text.trim() === '' ? Number.NaN : Number(text);
  if (TypeGuard.IsBoolean(schema)) {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
    return text;
  }
  if (choicesOf(schema)) return text.toLowerCase();
  return text;
}

export function invalidSetting(given: string, value: unknown, expected: string): ClassifierError {
  const shown = Array.isArray(value) ? value.join(',') : String(value);
  return invalidSettingError(given, shown, expected);
}

/**
 * One given value of a setting, checked against its schema. `given` is how the user named it
 * (PORT or --port), so the error points at what they typed.
 */
export function readSettingValue<S extends TSchema>(
  declaration: SettingDeclaration<S>,
  value: unknown,
  given: string,
): Static<S> {
  const converted = typeof value === 'string' ? fromText(declaration, value) : value;
  if (!Value.Check(declaration.schema, converted)) throw invalidSetting(given, value, expectedText(declaration));
  if (declaration.form === 'path' && typeof converted === 'string' && converted !== '')
    return path.resolve(converted) as Static<S>;
  return converted as Static<S>;
}
