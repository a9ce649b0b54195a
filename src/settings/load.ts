/**
 * Loading settings: flags over the environment over the table's defaults. This is the one module
 * that reads `process.env`; everything else gets its settings from here, once, at start.
 */
import { homedir } from 'node:os';
import path from 'node:path';
import { type CommandName, readSettingValue, type SettingDeclaration } from './declaration.ts';
import { SETTINGS, type SettingKey, type Settings } from './table.ts';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The process's environment. Only for a process's start; tests pass their own. */
export function environment(): Environment {
  return process.env;
}

/** A flag value as commander gives it, and the flag as the user typed it (for errors). */
export interface GivenFlag {
  value: unknown;
  flag: string;
}

export interface LoadOptions {
  /** Read the settings this command reads; the others keep their defaults. Default: every setting. */
  command?: CommandName;
  /** Read only these (e.g. the Redis queue's settings for a test's queue client). */
  keys?: readonly SettingKey[];
  env?: Environment;
  flags?: Partial<Record<SettingKey, GivenFlag>>;
}

/** Where downloaded models go when MODEL_CACHE_DIR is unset: an absolute XDG_CACHE_HOME, else ~/.cache. */
function xdgModelCacheDir(env: Environment): string {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG base-directory spec says a relative value is invalid and must be ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache');
  return path.join(base, 'marine-classifier', 'models');
}

/** Where class sets go when DATA_DIR is unset: an absolute XDG_DATA_HOME, else ~/.local/share. */
function xdgDataDir(env: Environment): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.local', 'share');
  return path.join(base, 'marine-classifier');
}

function declarationOf(key: SettingKey): SettingDeclaration {
  return SETTINGS[key] as SettingDeclaration;
}

function readOne(key: SettingKey, env: Environment, flag: GivenFlag | undefined): unknown {
  const declaration = declarationOf(key);
  if (flag !== undefined && flag.value !== undefined) return readSettingValue(declaration, flag.value, flag.flag);
  const text = declaration.env ? env[declaration.env] : undefined;
  if (text !== undefined && (text !== '' || declaration.emptyIsValue))
    return readSettingValue(declaration, text, declaration.env as string);
  return structuredClone(declaration.default);
}

function isRead(key: SettingKey, options: LoadOptions): boolean {
  if (options.keys && !options.keys.includes(key)) return false;
  return options.command === undefined || declarationOf(key).commands.includes(options.command);
}

/** Every setting's value; a bad one throws invalid_setting naming the variable or flag, the value and what is allowed. */
export function loadSettings(options: LoadOptions = {}): Settings {
  const env = options.env ?? environment();
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    values[key] = isRead(key, options)
      ? readOne(key, env, options.flags?.[key])
      : structuredClone(declarationOf(key).default);
  }
  const settings = values as Settings;
  // `--model` names the model to use now, so it also sets aside a MODEL_PATH from the environment.
  if (options.flags?.modelId?.value !== undefined && options.flags.modelPath?.value === undefined)
    settings.modelPath = undefined;
  settings.cacheDir ??= xdgModelCacheDir(env);
  settings.dataDir ??= xdgDataDir(env);
  return settings;
}

/** Checks a value set in code rather than read from text (a queue prefix a caller passes) against its setting. */
export function checkSetting<K extends SettingKey>(key: K, value: Settings[K]): Settings[K] {
  const declaration = declarationOf(key);
  return readSettingValue(declaration, value, declaration.env ?? key) as Settings[K];
}

/** The class sets' folder: DATA_DIR, else the XDG data folder. For callers that were given none. */
export function defaultDataDir(env: Environment = environment()): string {
  return loadSettings({ keys: ['dataDir'], env }).dataDir as string;
}

/** The model cache folder: MODEL_CACHE_DIR, else the XDG cache folder. For callers that were given none. */
export function defaultModelCacheDir(env: Environment = environment()): string {
  return loadSettings({ keys: ['cacheDir'], env }).cacheDir as string;
}
