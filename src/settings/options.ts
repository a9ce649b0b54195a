/**
 * The commands' flags, made from the settings table: each flag a command reads, with help that
 * names its variable and default, and the values given read back for loadSettings.
 */
import { type Command, Option } from 'commander';
import { type CommandName, choicesOf, type SettingDeclaration, splitList } from './declaration.ts';
import { type LoadOptions, loadSettings } from './load.ts';
import { SETTINGS, type SettingKey, type Settings } from './table.ts';

/** The default as --help and the docs state it, or null when there is none to state. */
export function defaultText(declaration: SettingDeclaration): string | null {
  if (declaration.defaultText) return declaration.defaultText;
  const value = declaration.default;
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(',') || 'none' : String(value);
}

/** "help (env NAME; default X)" */
export function flagHelp(declaration: SettingDeclaration): string {
  const notes = [
    declaration.env && `env ${declaration.env}`,
    defaultText(declaration) && `default ${defaultText(declaration)}`,
  ];
  const suffix = notes.filter(Boolean).join('; ');
  return suffix ? `${declaration.help} (${suffix})` : declaration.help;
}

function keysWithFlags(command: CommandName, only?: readonly SettingKey[]): SettingKey[] {
  return (Object.keys(SETTINGS) as SettingKey[]).filter((key) => {
    const declaration: SettingDeclaration = SETTINGS[key];
    return declaration.flag && declaration.commands.includes(command) && (!only || only.includes(key));
  });
}

function optionOf(declaration: SettingDeclaration & { flag: string }): Option {
  const option = new Option(declaration.flag, flagHelp(declaration));
  const choices = choicesOf(declaration.schema);
  if (choices) option.choices(choices);
  // A list flag may be repeated and may hold several comma-separated items; no default, so "not given" stays visible.
  if (declaration.form === 'list')
    option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), ...splitList(value)]);
  return option;
}

/** Adds the flags of every setting `name` reads (or of `only` those) to a commander command. */
export function addSettingOptions(command: Command, name: CommandName, only?: readonly SettingKey[]): Command {
  for (const key of keysWithFlags(name, only))
    command.addOption(optionOf(SETTINGS[key] as SettingDeclaration & { flag: string }));
  return command;
}

/** The setting flags given on `command`'s line, keyed by setting. */
export function givenFlags(command: Command, name: CommandName): NonNullable<LoadOptions['flags']> {
  const opts = command.opts();
  const given: NonNullable<LoadOptions['flags']> = {};
  for (const key of keysWithFlags(name)) {
    const option = new Option((SETTINGS[key] as SettingDeclaration & { flag: string }).flag);
    const value = opts[option.attributeName()];
    if (value !== undefined) given[key] = { value, flag: option.long ?? option.flags };
  }
  return given;
}

/** A command's settings at its start: its flags over the environment over the defaults. */
export function loadCommandSettings(command: Command, name: CommandName, only?: readonly SettingKey[]): Settings {
  return loadSettings({ command: name, keys: only, flags: givenFlags(command, name) });
}
