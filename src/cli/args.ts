/**
 * The CLI's argument parser. Each command declares itself (usage line, positionals, options) as a spec; the
 * parser turns the words after the command's name into the args object its `run` takes, typed from the spec,
 * and writes its help. Only what the commands use is supported, and it imports nothing: every command pays for
 * loading it at start-up (yargs took ~70 ms of it).
 *
 * Words: `--name value`, `--name=value`, `--nameInCamelCase`, short aliases `-j 4`, `-j4`, `-j=4` and
 * clusters of boolean ones (`-yh`); booleans `--flag`, `--flag true|false`, `--flag=true|false`, `--no-flag`;
 * `--` ends the options. An array option takes every plain word that follows it (`--force A B`) and may be
 * repeated; with `nargs: 1` it takes one word per occurrence. Any other option given twice keeps the last value.
 * A word that starts with `-` and a digit (`-5`) is a value, not an option. Strict: an unknown option or a
 * word no positional takes is a usage error (`ArgsError`).
 */

/** A usage error: the caller prints it as one `plan: …` line and exits 2. */
export class ArgsError extends Error {
  override name = 'ArgsError';
}

interface OptionBase {
  /** Other names: one letter for `-x`, more for `--other-name`. */
  readonly alias?: string | readonly string[];
  readonly describe?: string;
}

export interface BooleanOptionSpec extends OptionBase {
  readonly type: 'boolean';
  readonly default?: boolean;
}

export interface StringOptionSpec extends OptionBase {
  readonly type: 'string';
  readonly array?: false;
  readonly choices?: readonly string[];
  readonly default?: string;
}

export interface StringArrayOptionSpec extends OptionBase {
  readonly type: 'string';
  readonly array: true;
  /** 1: one word per occurrence (`--run A --run B`), so the option cannot swallow the positionals after it. */
  readonly nargs?: 1;
  readonly choices?: readonly string[];
  readonly default?: readonly string[];
}

export interface NumberOptionSpec extends OptionBase {
  readonly type: 'number';
  readonly default?: number;
}

export type OptionSpec = BooleanOptionSpec | StringOptionSpec | StringArrayOptionSpec | NumberOptionSpec;

export interface PositionalSpec {
  readonly describe?: string;
}

/** `keep-going` → `keepGoing`. */
type Camel<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;
type Words<S extends string> = S extends `${infer Word} ${infer Rest}` ? Word | Words<Rest> : S;
type RequiredName<W> = W extends `<${infer Name}>` ? Name : never;
type OptionalName<W> = W extends `[${infer Name}]` ? Name : never;
/** The positionals a usage line names: `<x>` required, `[x]` optional. */
export type PositionalName<U extends string> = RequiredName<Words<U>> | OptionalName<Words<U>>;

type OptionValue<O> = O extends { type: 'boolean' }
  ? boolean
  : O extends { type: 'number' }
    ? number
    : O extends { choices: readonly (infer C)[] }
      ? O extends { array: true }
        ? C[]
        : C
      : O extends { array: true }
        ? string[]
        : string;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** What `run` gets: positionals and options by their camelCase names; an option with a default is always set. */
export type ArgsOf<U extends string, O> = Simplify<
  { [N in RequiredName<Words<U>> as Camel<N>]: string } & { [N in OptionalName<Words<U>> as Camel<N>]?: string } & {
    -readonly [K in keyof O as O[K] extends { default: unknown } ? Camel<K & string> : never]: OptionValue<O[K]>;
  } & { -readonly [K in keyof O as O[K] extends { default: unknown } ? never : Camel<K & string>]?: OptionValue<O[K]> }
>;

/**
 * A command: `usage` is its name and positionals (`'cat <run-dir> <task-or-file>'`); `run` resolves to the
 * exit code. `run` is checked against the spec: a handler whose args interface wants a field the spec does not
 * make (or makes with another type) does not compile.
 */
export interface CommandSpec<U extends string, O extends Record<string, OptionSpec>> {
  readonly usage: U;
  readonly describe: string;
  readonly positionals?: { readonly [N in PositionalName<U>]?: PositionalSpec };
  readonly options?: O;
  readonly run: (args: ArgsOf<U, O>) => Promise<number>;
}

/** A command of commands (`plan db vacuum`, `plan db copy`). */
export interface GroupSpec {
  readonly usage: string;
  readonly describe: string;
  readonly commands: readonly Command[];
  /** Said when no subcommand is named. */
  readonly missing: string;
}

interface Positional {
  readonly name: string;
  readonly required: boolean;
  readonly describe?: string;
}

/** A command as the parser keeps it, its args type erased. */
export interface Command {
  readonly name: string;
  readonly usage: string;
  readonly describe: string;
  readonly positionals: readonly Positional[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly run?: (args: Record<string, unknown>) => Promise<number>;
  readonly commands?: readonly Command[];
  readonly missing?: string;
}

const HELP_OPTION: BooleanOptionSpec = { type: 'boolean', alias: 'h', describe: 'Show help' };
const VERSION_OPTION: BooleanOptionSpec = { type: 'boolean', describe: 'Show version number' };

export function defineCommand<const U extends string, const O extends Record<string, OptionSpec> = Record<never, OptionSpec>>(
  spec: CommandSpec<U, O>,
): Command {
  const [name, ...words] = spec.usage.split(/\s+/);
  const described: Readonly<Record<string, PositionalSpec | undefined>> = spec.positionals ?? {};
  const positionals = words.map((word): Positional => {
    const match = /^(<|\[)([\w-]+)(>|\])$/.exec(word);
    if (match === null || (match[1] === '<') !== (match[3] === '>')) throw new Error(`${spec.usage}: '${word}' is no <positional> or [positional]`);
    return { name: match[2]!, required: match[1] === '<', describe: described[match[2]!]?.describe };
  });
  for (const key of Object.keys(described)) {
    if (!positionals.some((p) => p.name === key)) throw new Error(`${spec.usage}: no positional '${key}'`);
  }
  if (positionals.some((p, i) => !p.required && positionals[i + 1]?.required)) {
    throw new Error(`${spec.usage}: a required positional after an optional one`);
  }
  const options: Record<string, OptionSpec> = spec.options ?? {};
  for (const [key, option] of Object.entries(options)) {
    if ('choices' in option && option.choices !== undefined && option.default !== undefined) {
      const defaults: readonly string[] = typeof option.default === 'string' ? [option.default] : option.default;
      for (const value of defaults) if (!option.choices.includes(value)) throw new Error(`${spec.usage}: default of --${key} is no choice`);
    }
  }
  return {
    name: name!,
    usage: spec.usage,
    describe: spec.describe,
    positionals,
    options,
    run: spec.run as (args: Record<string, unknown>) => Promise<number>,
  };
}

export function defineGroup(spec: GroupSpec): Command {
  return {
    name: spec.usage,
    usage: spec.usage,
    describe: spec.describe,
    positionals: [],
    options: {},
    commands: spec.commands,
    missing: spec.missing,
  };
}

/** What the words ask for. `parent` is what names the command's parent (`plan`, `plan db`). */
export type Parsed =
  | { readonly kind: 'run'; readonly command: Command; readonly args: Record<string, unknown>; readonly run: () => Promise<number> }
  | { readonly kind: 'help'; readonly command: Command; readonly parent: string }
  | { readonly kind: 'version' };

/** Parses the words after the command's name (`plan db` goes on to its subcommand). Throws ArgsError. */
export function parseCommand(command: Command, words: readonly string[], parent: string): Parsed {
  if (command.commands !== undefined) return parseGroup(command, words, parent);
  return parseLeaf(command, words, parent);
}

function parseGroup(group: Command, words: readonly string[], parent: string): Parsed {
  const named = `${parent} ${group.name}`;
  const first = words[0];
  const sub = group.commands!.find((c) => c.name === first);
  if (sub !== undefined) return parseCommand(sub, words.slice(1), named);
  if (hasFlag(words, 'help')) return { kind: 'help', command: group, parent };
  if (hasFlag(words, 'version')) return { kind: 'version' };
  if (first === undefined || isOptionWord(first)) throw new ArgsError(group.missing ?? `name a command (${named} --help lists them)`);
  throw unknownCommand(
    first,
    group.commands!.map((c) => c.name),
    named,
  );
}

/** `-h`/`--help` (or `--version`) among the words before `--`. */
export function hasFlag(words: readonly string[], flag: 'help' | 'version'): boolean {
  const end = words.indexOf('--');
  const options = end < 0 ? words : words.slice(0, end);
  return options.some((w) => w === `--${flag}` || w === `--${flag}=true` || (flag === 'help' && w === '-h'));
}

/** An error for a command name that is none: the nearest one is suggested, as for a typo (`bulid`). */
export function unknownCommand(word: string, names: readonly string[], parent: string): ArgsError {
  const prefix = parent.split(' ').slice(1).join(' ');
  const shown = (name: string) => (prefix === '' ? name : `${prefix} ${name}`);
  const nearest = suggest(word, names);
  return new ArgsError(
    nearest === undefined
      ? `unknown command '${shown(word)}' (${parent} --help lists them)`
      : `unknown command '${shown(word)}'; did you mean ${shown(nearest)}?`,
  );
}

/** The name nearest to `word` (typos, swapped letters), if any is near enough to be what was meant. */
export function suggest(word: string, names: readonly string[]): string | undefined {
  const limit = Math.min(3, Math.ceil(word.length / 2));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of names) {
    const d = editDistance(word.toLowerCase(), name);
    if (d <= limit && d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Edits (insert, delete, replace, swap of neighbours) that make `a` into `b`. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** A word that names options: `-x`, `--x`; not `-`, `--` (handled apart) or a negative number. */
function isOptionWord(word: string): boolean {
  return word.length > 1 && word.startsWith('-') && word !== '--' && !/^-\d/.test(word);
}

function namesOf(option: OptionSpec): readonly string[] {
  return option.alias === undefined ? [] : typeof option.alias === 'string' ? [option.alias] : option.alias;
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The options a command's words may name: its own, then help and version unless it has options of those names. */
function optionsOf(command: Command): Map<string, OptionSpec> {
  const options = new Map<string, OptionSpec>();
  if (!('help' in command.options)) options.set('help', HELP_OPTION);
  if (!('version' in command.options)) options.set('version', VERSION_OPTION);
  for (const [key, option] of Object.entries(command.options)) options.set(key, option);
  return options;
}

function parseLeaf(command: Command, words: readonly string[], parent: string): Parsed {
  const options = optionsOf(command);
  const byLong = new Map<string, string>();
  const byShort = new Map<string, string>();
  for (const [key, option] of options) {
    byLong.set(key, key);
    for (const alias of namesOf(option)) (alias.length === 1 ? byShort : byLong).set(alias, key);
  }
  const values = new Map<string, unknown>();
  const plain: string[] = [];
  const unknown: string[] = [];
  const invalid: string[] = [];

  let i = 0;
  /** The next word when it can be a value (no option, not `--`); consumed. */
  const nextValue = (): string | undefined => {
    const next = words[i + 1];
    if (next === undefined || next === '--' || isOptionWord(next)) return undefined;
    i++;
    return next;
  };
  /** Sets option `key` from `inline` (after `=` or in `-j4`), else from the words that follow. */
  const take = (key: string, inline: string | undefined): void => {
    const option = options.get(key)!;
    const flag = `--${key}`;
    switch (option.type) {
      case 'boolean': {
        const text = inline ?? (words[i + 1] === 'true' || words[i + 1] === 'false' ? words[++i] : 'true');
        if (text === 'true' || text === 'false') values.set(key, text === 'true');
        else invalid.push(`${flag} takes true or false (got "${text}")`);
        return;
      }
      case 'number': {
        const text = inline ?? nextValue();
        const value = Number(text);
        if (text === undefined) invalid.push(`${flag} needs a number`);
        else if (text.trim() === '' || Number.isNaN(value)) invalid.push(`${flag} must be a number (got "${text}")`);
        else values.set(key, value);
        return;
      }
      case 'string': {
        if (option.array !== true) {
          // As yargs did: `--prompt` with nothing after it is the empty string.
          values.set(key, inline ?? nextValue() ?? '');
          return;
        }
        const list = (values.get(key) as string[] | undefined) ?? [];
        values.set(key, list);
        if (option.nargs === 1) {
          const text = inline ?? nextValue();
          if (text === undefined) invalid.push(`${flag} needs a value`);
          else list.push(text);
          return;
        }
        if (inline !== undefined) list.push(inline);
        for (let next = nextValue(); next !== undefined; next = nextValue()) list.push(next);
        return;
      }
    }
  };

  for (; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      plain.push(...words.slice(i + 1));
      break;
    }
    if (!isOptionWord(word)) {
      plain.push(word);
    } else if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const inline = eq < 0 ? undefined : word.slice(eq + 1);
      const key = byLong.get(name) ?? byLong.get(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
      const negated = key === undefined && name.startsWith('no-') ? byLong.get(name.slice(3)) : undefined;
      if (key !== undefined) take(key, inline);
      else if (negated !== undefined && options.get(negated)!.type === 'boolean') {
        if (inline === undefined) values.set(negated, false);
        else invalid.push(`--${name} takes no value (got "${inline}")`);
      } else {
        unknown.push(name);
        // `--bogus value`: the value goes with it, so the error names the option alone.
        if (inline === undefined) nextValue();
      }
    } else {
      // -j4, -j 4, -yh: letters, until one that takes a value takes the rest of the word or the next one.
      for (let at = 1; at < word.length; at++) {
        const key = byShort.get(word[at]!);
        if (key === undefined) {
          unknown.push(word[at]!);
          continue;
        }
        if (options.get(key)!.type === 'boolean') {
          values.set(key, true);
          continue;
        }
        const rest = word.slice(at + 1).replace(/^=/, '');
        take(key, rest === '' ? undefined : rest);
        break;
      }
    }
  }

  if (values.get('help') === true && options.get('help') === HELP_OPTION) return { kind: 'help', command, parent };
  if (values.get('version') === true && options.get('version') === VERSION_OPTION) return { kind: 'version' };

  const named = `${parent} ${command.name}`;
  const usage = command.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`));
  const required = command.positionals.filter((p) => p.required).length;
  if (plain.length < required) {
    throw new ArgsError(`${named} needs ${usage.slice(plain.length, required).join(' ')} (${named} ${usage.join(' ')}; see ${named} --help)`);
  }
  unknown.push(...plain.slice(command.positionals.length));
  if (unknown.length > 0) throw new ArgsError(`Unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  if (invalid.length > 0) throw new ArgsError(invalid[0]!);
  const outside: string[] = [];
  for (const [key, option] of options) {
    if (!('choices' in option) || option.choices === undefined || !values.has(key)) continue;
    const given = values.get(key) as string | string[];
    const wrong = (typeof given === 'string' ? [given] : given).find((value) => !option.choices!.includes(value));
    if (wrong !== undefined)
      outside.push(`--${key} must be one of ${option.choices.map((c) => JSON.stringify(c)).join(', ')} (got ${JSON.stringify(wrong)})`);
  }
  if (outside.length > 0) throw new ArgsError(outside.join('; '));

  const args: Record<string, unknown> = {};
  command.positionals.forEach((p, at) => {
    if (at < plain.length) args[camel(p.name)] = plain[at];
  });
  for (const [key, option] of Object.entries(command.options)) {
    const value = values.has(key) ? values.get(key) : Array.isArray(option.default) ? [...option.default] : option.default;
    if (value !== undefined) args[camel(key)] = value;
  }
  return { kind: 'run', command, args, run: () => command.run!(args) };
}

// ---------------------------------------------------------------------------------------------------------
// Help

/** `plan build --help`: usage, description, positionals and options (names, type, choices, default). */
export function commandHelp(command: Command, parent: string, width: number): string {
  const out = [`${parent} ${command.usage}`, '', ...wrap(command.describe, width), ''];
  if (command.commands !== undefined) {
    out.push('Commands:', ...table(commandRows(command.commands, `${parent} ${command.name}`), width), '');
  }
  if (command.positionals.length > 0) {
    const rows = command.positionals.map((p) => ({ left: p.name, text: p.describe ?? '', tags: p.required ? '[string] [required]' : '[string]' }));
    out.push('Positionals:', ...table(rows, width), '');
  }
  out.push('Options:', ...table(optionRows(optionsOf(command)), width));
  return `${out.join('\n')}\n`;
}

/** `plan --help`: the commands, each with its usage and description. */
export function groupHelp(usage: string, commands: readonly Command[], parent: string, width: number): string {
  const options = optionsOf({ name: '', usage: '', describe: '', positionals: [], options: {} });
  return `${[usage, '', 'Commands:', ...table(commandRows(commands, parent), width), '', 'Options:', ...table(optionRows(options), width)].join('\n')}\n`;
}

interface Row {
  left: string;
  text: string;
  tags?: string;
}

function commandRows(commands: readonly Command[], parent: string): Row[] {
  return commands.map((c) => ({ left: `${parent} ${c.usage}`, text: c.describe }));
}

function optionRows(options: ReadonlyMap<string, OptionSpec>): Row[] {
  const rows = [...options].map(([key, option]) => {
    const aliases = namesOf(option);
    const short = aliases.filter((a) => a.length === 1).map((a) => `-${a}`);
    const long = [key, ...aliases.filter((a) => a.length > 1)].map((a) => `--${a}`);
    const tags = [`[${'array' in option && option.array ? 'array' : option.type}]`];
    if ('choices' in option && option.choices !== undefined) tags.push(`[choices: ${option.choices.map((c) => JSON.stringify(c)).join(', ')}]`);
    if (option.default !== undefined) tags.push(`[default: ${JSON.stringify(option.default)}]`);
    return { short, long, text: option.describe ?? '', tags: tags.join(' ') };
  });
  const anyShort = rows.some((r) => r.short.length > 0);
  return rows.map((r) => ({
    left: `${r.short.length === 0 && anyShort ? '    ' : ''}${[...r.short, ...r.long].join(', ')}`,
    text: r.text,
    tags: r.tags,
  }));
}

/** Two columns: names, then the text wrapped beside them, tags right-aligned after it. */
function table(rows: readonly Row[], width: number): string[] {
  const leftWidth = Math.max(...rows.map((r) => r.left.length)) + 4;
  const textWidth = Math.max(20, width - leftWidth);
  const out: string[] = [];
  for (const row of rows) {
    const lines = wrap(row.text, textWidth);
    if (row.tags !== undefined) {
      const last = lines.at(-1) ?? '';
      if (last.length + (last === '' ? 0 : 1) + row.tags.length <= textWidth) {
        lines[Math.max(0, lines.length - 1)] = last.padEnd(textWidth - row.tags.length) + row.tags;
      } else {
        for (const tags of wrap(row.tags, textWidth)) lines.push(tags.padStart(textWidth));
      }
    }
    lines.forEach((line, at) => {
      out.push(`${(at === 0 ? `  ${row.left}` : '').padEnd(leftWidth)}${line}`.trimEnd());
    });
  }
  return out;
}

/** Words of `text` in lines of at most `width` characters (a longer word has a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
