/**
 * Option schemas: each command-line option declared once, with its flag, description, parser
 * and default. A command's schema gives both its commander options and its settings object,
 * typed, validated, with every default already applied, so code downstream never supplies a
 * default of its own.
 */
import { Command, Option } from 'commander';

/** What commander hands over for one option: text, `true` for a bare switch, or nothing. */
export type RawValue = string | boolean | undefined;

export interface OptionSpec<T, HasDefault extends boolean = boolean> {
  readonly flags: string;
  readonly description: string;
  /** Turns what commander read into the value; throws a UsageError for a bad one. */
  readonly parse: (raw: string | true) => T;
  /** The default as typed on the command line: shown in the help and parsed like typed text. */
  readonly defaultText?: string;
  /** The value when the option is absent, for defaults the help leaves to the description. */
  readonly fallback?: T;
  /** Set by the helpers below; only to carry `HasDefault` for the settings type. */
  readonly hasDefault?: HasDefault;
  /**
   * The option only means something with this flag given, e.g. `--udp`: given without it is a
   * usage error (`--rate needs --udp`). Several: any one of them will do.
   */
  readonly needs?: string | readonly string[];
  /** The message when `needs` is missing, instead of `--x needs --y`. */
  readonly refusal?: string;
}

export type OptionSchema = Readonly<Record<string, OptionSpec<unknown>>>;

/** The settings object a schema describes: defaulted options are always set. */
export type Settings<S extends OptionSchema> = {
  -readonly [K in keyof S]: S[K] extends OptionSpec<infer T, true> ? T : S[K] extends OptionSpec<infer T, boolean> ? T | undefined : never;
};

interface ValueExtras {
  needs?: string | readonly string[];
  refusal?: string;
}

/** `--name <value>` with no default: unset stays `undefined`. */
export function value<T>(flags: string, description: string, parse: (text: string) => T, extras: ValueExtras = {}): OptionSpec<T, false> {
  return { flags, description, parse: (raw) => parse(String(raw)), ...extras };
}

/** `--name <value>` whose default the help shows as `(default: "...")`. */
export function valueWithDefault<T>(flags: string, description: string, parse: (text: string) => T, defaultText: string): OptionSpec<T, true> {
  return { flags, description, parse: (raw) => parse(String(raw)), defaultText, hasDefault: true };
}

/** `--name <value>` whose default is stated in the description rather than by commander. */
export function valueOr<T>(flags: string, description: string, parse: (text: string) => T, fallback: T, extras: ValueExtras = {}): OptionSpec<T, true> {
  return { flags, description, parse: (raw) => parse(String(raw)), fallback, hasDefault: true, ...extras };
}

/** `--name [value]`: absent, bare (`true`), or with text. */
export function optionalValue<T>(flags: string, description: string, parse: (raw: string | true) => T): OptionSpec<T, false> {
  return { flags, description, parse };
}

/** `--name`: false unless given. */
export function flag(flags: string, description: string, extras: ValueExtras = {}): OptionSpec<boolean, true> {
  return { flags, description, parse: () => true, fallback: false, hasDefault: true, ...extras };
}

/** `--no-name`: true unless `--no-name` is given. */
export function negatable(flags: string, description: string): OptionSpec<boolean, true> {
  return { flags, description, parse: () => true, fallback: true, hasDefault: true };
}

/**
 * Several schemas as one, in order. An option may be listed by several kinds (UDP and legacy
 * UDP share `--packet-size`): the same spec under the same key is kept once.
 */
export function mergeSchemas<T extends OptionSchema[]>(...schemas: T): UnionToIntersection<T[number]>;
export function mergeSchemas(...schemas: OptionSchema[]): OptionSchema {
  const merged: Record<string, OptionSpec<unknown>> = {};
  for (const schema of schemas) {
    for (const [key, spec] of Object.entries(schema)) {
      if (merged[key] !== undefined && merged[key] !== spec) throw new Error(`option ${key} is declared twice`);
      merged[key] = spec;
    }
  }
  return merged;
}

function commanderOption(spec: OptionSpec<unknown>): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.defaultText !== undefined) option.default(spec.defaultText);
  return option;
}

/** `A | B` as `A & B`: the schema of several kinds' options together. */
export type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Commander's name for the option's value (`--max-age` → `maxAge`, `--no-window` → `window`). */
export function rawKey(spec: OptionSpec<unknown>): string {
  return new Option(spec.flags).attributeName();
}

/** The long flag, as messages name it (`--no-window`, `--packet-size`). */
export function longFlag(spec: OptionSpec<unknown>): string {
  return new Option(spec.flags).long ?? spec.flags;
}

export function addOptions(command: Command, schema: OptionSchema): Command {
  for (const spec of Object.values(schema)) command.addOption(commanderOption(spec));
  return command;
}

/** Whether the user gave the option (a default from commander counts as not given). */
export function isGiven(spec: OptionSpec<unknown>, raw: Readonly<Record<string, RawValue>>): boolean {
  const value = raw[rawKey(spec)];
  if (spec.flags.startsWith('--no-')) return value === false;
  return value !== undefined && value !== false && !(spec.defaultText !== undefined && value === spec.defaultText);
}

/** Which long flags (`--udp`) the user gave, of a schema's options. */
export function givenFlags(schema: OptionSchema, raw: Readonly<Record<string, RawValue>>): (flag: string) => boolean {
  const given = new Set(Object.values(schema).filter((spec) => isGiven(spec, raw)).map(longFlag));
  return (flag) => given.has(flag);
}

/** Parses every option of the schema, defaults included, into its settings object. */
export function parseSettings<S extends OptionSchema>(schema: S, raw: Readonly<Record<string, RawValue>>): Settings<S> {
  const settings: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const given = raw[rawKey(spec)];
    if (given !== undefined && given !== false) settings[key] = spec.parse(given);
    else if (spec.flags.startsWith('--no-') && given === false) settings[key] = false;
    else if (spec.defaultText !== undefined) settings[key] = spec.parse(spec.defaultText);
    else settings[key] = spec.fallback;
  }
  return settings as Settings<S>;
}

/**
 * `--legacy and --max-age need --udp`: the options given without the flag they need. Switches
 * are named before options with values, since a switch is the bigger choice.
 */
export function missingNeeds(schema: OptionSchema, raw: Readonly<Record<string, RawValue>>, given: (flag: string) => boolean): string | undefined {
  const byNeed = new Map<string, OptionSpec<unknown>[]>();
  for (const spec of Object.values(schema)) {
    const needs = typeof spec.needs === 'string' ? [spec.needs] : spec.needs;
    if (needs === undefined || needs.some(given) || !isGiven(spec, raw)) continue;
    const need = needs.join(' or ');
    byNeed.set(need, [...(byNeed.get(need) ?? []), spec]);
  }
  for (const [need, specs] of byNeed) {
    if (specs.length === 1 && specs[0]!.refusal !== undefined) return specs[0]!.refusal;
    const ordered = [...specs.filter((s) => !s.flags.includes('<')), ...specs.filter((s) => s.flags.includes('<'))];
    return `${ordered.map(longFlag).join(' and ')} need${ordered.length > 1 ? '' : 's'} ${need}`;
  }
  return undefined;
}
