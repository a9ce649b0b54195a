/** Settings: one table, and what is derived from it (loading, flags, docs). A bottom layer: imports only src/errors.ts. */
export {
  COMMANDS,
  type CommandName,
  durationMs,
  expectedText,
  invalidSetting,
  readSettingValue,
  type SettingDeclaration,
} from './declaration.ts';
export {
  checkSetting,
  defaultDataDir,
  defaultModelCacheDir,
  type Environment,
  environment,
  type LoadOptions,
  loadSettings,
} from './load.ts';
export { settingsTableMarkdown } from './markdown.ts';
export { addSettingOptions, flagHelp, givenFlags, loadCommandSettings } from './options.ts';
export {
  DEFAULT_MAX_IMAGE_BYTES,
  DEFAULT_URL_TIMEOUT_MS,
  LOG_LEVELS,
  type LogLevel,
  SETTINGS,
  type SettingKey,
  type Settings,
} from './table.ts';
