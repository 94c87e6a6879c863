import { describe, expect, it } from 'vitest';
import {
  ArgsError,
  type Command,
  commandHelp,
  defineCommand,
  defineGroup,
  groupHelp,
  hasFlag,
  parseCommand,
  suggest,
  unknownCommand,
} from '../../src/cli/args.js';

// The CLI's own argument parser (src/cli/args.ts): words → the args object a command's run gets, usage errors,
// help. `demo` below has one option of each kind the commands use.

const ran: Record<string, unknown>[] = [];

const demo = defineCommand({
  usage: 'demo <run-dir> [task]',
  describe: 'a command with one option of every kind',
  positionals: { 'run-dir': { describe: 'the run directory' }, task: { describe: 'a task' } },
  options: {
    jobs: { alias: ['j', 'concurrency'], type: 'string', default: '8', describe: 'tasks running at once' },
    'keep-going': { type: 'boolean', default: false, describe: 'go on after a failure' },
    yes: { alias: 'y', type: 'boolean', default: false, describe: 'do not ask' },
    force: { type: 'string', array: true, default: [], describe: 'rebuild these tasks' },
    run: { type: 'string', array: true, nargs: 1, default: [], describe: 'one run id per --run' },
    durability: { type: 'string', choices: ['process', 'full'], default: 'process', describe: 'how durable' },
    status: { type: 'string', array: true, choices: ['failed', 'complete'], default: [], describe: 'statuses' },
    prompt: { type: 'string', describe: 'the prompt' },
    wait: { type: 'number', default: 30, describe: 'seconds to wait' },
    latest: { type: 'number', describe: 'the newest N' },
  },
  run: async (args) => {
    ran.push(args);
    return 7;
  },
});

const DEFAULTS = { jobs: '8', keepGoing: false, yes: false, force: [], run: [], durability: 'process', status: [], wait: 30 };

function parse(words: string[], command: Command = demo): Record<string, unknown> {
  const parsed = parseCommand(command, words, 'plan');
  if (parsed.kind !== 'run') throw new Error(`not a run: ${parsed.kind}`);
  return parsed.args;
}

/** The usage error the words make (it must be an ArgsError: main prints it as one line, exit 2). */
function refused(words: string[], command: Command = demo): string {
  try {
    parseCommand(command, words, 'plan');
  } catch (error) {
    expect(error).toBeInstanceOf(ArgsError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${words.join(' ')}`);
}

describe('positionals', () => {
  it('required and optional positionals, by their camelCase names; defaults fill the options not given', () => {
    expect(parse(['runs/a'])).toEqual({ runDir: 'runs/a', ...DEFAULTS });
    expect(parse(['runs/a', 'Upper'])).toEqual({ runDir: 'runs/a', task: 'Upper', ...DEFAULTS });
  });

  it('a missing required positional names it and the usage, as main printed it from yargs', () => {
    expect(refused([])).toBe('plan demo needs <run-dir> (plan demo <run-dir> [task]; see plan demo --help)');
    const two = defineCommand({ usage: 'cat <run-dir> <task-or-file>', describe: '', run: async () => 0 });
    expect(refused(['runs/a'], two)).toBe('plan cat needs <task-or-file> (plan cat <run-dir> <task-or-file>; see plan cat --help)');
    expect(refused([], two)).toBe('plan cat needs <run-dir> <task-or-file> (plan cat <run-dir> <task-or-file>; see plan cat --help)');
  });

  it('extra positionals are unknown arguments (one, or a list)', () => {
    expect(refused(['a', 'b', 'c'])).toBe('Unknown argument: c');
    expect(refused(['a', 'b', 'c', 'd'])).toBe('Unknown arguments: c, d');
  });

  it('`--` ends the options: what follows is positional, even when it starts with a dash', () => {
    expect(parse(['--', '--weird-dir'])).toMatchObject({ runDir: '--weird-dir' });
    expect(parse(['a', '--', '-j'])).toMatchObject({ runDir: 'a', task: '-j', jobs: '8' });
    expect(refused(['a', 'b', '--', '--force'])).toBe('Unknown argument: --force');
  });

  it('`-` and negative numbers are words, not options', () => {
    expect(parse(['-', '-5'])).toMatchObject({ runDir: '-', task: '-5' });
  });
});

describe('options', () => {
  it('--name value and --name=value; the value may start with a digit and a dash', () => {
    expect(parse(['a', '--prompt', 'hello world'])).toMatchObject({ prompt: 'hello world' });
    expect(parse(['a', '--prompt=x=y'])).toMatchObject({ prompt: 'x=y' });
    expect(parse(['a', '--prompt', '-5'])).toMatchObject({ prompt: '-5' });
  });

  it('a string option with no value is the empty string (as yargs gave), whatever follows', () => {
    expect(parse(['a', '--prompt'])).toMatchObject({ prompt: '' });
    expect(parse(['a', '--prompt', '--yes'])).toMatchObject({ prompt: '', yes: true });
    expect(parse(['a', '--prompt='])).toMatchObject({ prompt: '' });
    expect(parse(['a', '--jobs'])).toMatchObject({ jobs: '' });
  });

  it('short aliases: -j 4, -j4, -j=4; multi-letter aliases: --concurrency', () => {
    expect(parse(['a', '-j', '4'])).toMatchObject({ jobs: '4' });
    expect(parse(['a', '-j4'])).toMatchObject({ jobs: '4' });
    expect(parse(['a', '-j=4'])).toMatchObject({ jobs: '4' });
    expect(parse(['a', '--concurrency', '3'])).toMatchObject({ jobs: '3' });
    expect(parse(['a', '--concurrency=2'])).toMatchObject({ jobs: '2' });
  });

  it('a cluster of short letters: booleans, and one that takes the rest of the word as its value', () => {
    expect(parse(['a', '-yj3'])).toMatchObject({ yes: true, jobs: '3' });
    expect(parse(['a', '-yj', '3'])).toMatchObject({ yes: true, jobs: '3' });
    expect(refused(['a', '-yx'])).toBe('Unknown argument: x');
  });

  it('an option given twice keeps the last value', () => {
    expect(parse(['a', '-j', '4', '--concurrency=3'])).toMatchObject({ jobs: '3' });
    expect(parse(['a', '--prompt', 'one', '--prompt', 'two'])).toMatchObject({ prompt: 'two' });
  });

  it('camelCase keys in the result; the camelCase spelling is accepted on the command line too', () => {
    expect(parse(['a', '--keep-going'])).toMatchObject({ keepGoing: true });
    expect(parse(['a', '--keepGoing'])).toMatchObject({ keepGoing: true });
    expect(Object.keys(parse(['a', '--keep-going']))).not.toContain('keep-going');
    expect(refused(['a', '--keep_going'])).toBe('Unknown argument: keep_going');
  });

  it('booleans: --flag, --no-flag, --flag=true|false, --flag true|false; another value is refused', () => {
    expect(parse(['a', '--keep-going'])).toMatchObject({ keepGoing: true });
    expect(parse(['a', '--keep-going', '--no-keep-going'])).toMatchObject({ keepGoing: false });
    expect(parse(['a', '--keep-going=false'])).toMatchObject({ keepGoing: false });
    expect(parse(['a', '--keep-going=true'])).toMatchObject({ keepGoing: true });
    expect(parse(['a', '--keep-going', 'false', 'T'])).toMatchObject({ keepGoing: false, task: 'T' });
    expect(parse(['a', '--keep-going', 'T'])).toMatchObject({ keepGoing: true, task: 'T' });
    expect(refused(['a', '--keep-going=yes'])).toBe('--keep-going takes true or false (got "yes")');
    expect(refused(['a', '--no-keep-going=true'])).toBe('--no-keep-going takes no value (got "true")');
  });

  it('--no- is for booleans only', () => {
    expect(refused(['a', '--no-prompt'])).toBe('Unknown argument: no-prompt');
  });

  it('numbers: parsed; no number, or none given, is refused with the text given', () => {
    expect(parse(['a', '--wait', '0'])).toMatchObject({ wait: 0 });
    expect(parse(['a', '--wait=-5'])).toMatchObject({ wait: -5 });
    expect(parse(['a', '--wait', '-5'])).toMatchObject({ wait: -5 });
    expect(parse(['a', '--latest', '1.5'])).toMatchObject({ latest: 1.5 });
    expect(parse(['a'])).not.toHaveProperty('latest');
    expect(refused(['a', '--latest', 'abc'])).toBe('--latest must be a number (got "abc")');
    expect(refused(['a', '--latest='])).toBe('--latest must be a number (got "")');
    expect(refused(['a', '--wait'])).toBe('--wait needs a number');
  });

  it('arrays: repeatable, and each occurrence takes the plain words after it', () => {
    expect(parse(['a', '--force', 'A', '--force', 'B'])).toMatchObject({ force: ['A', 'B'] });
    expect(parse(['a', '--force', 'A', 'B', 'C'])).toMatchObject({ force: ['A', 'B', 'C'] });
    expect(parse(['a', '--force=A', 'B'])).toMatchObject({ force: ['A', 'B'] });
    // The words stop at the next option or at `--`.
    expect(parse(['a', '--force', 'A', '--yes'])).toMatchObject({ force: ['A'], yes: true });
    expect(parse(['a', '--force', 'A', '--', 'T'])).toMatchObject({ force: ['A'], task: 'T' });
    // Taken before the positionals: as with yargs, `--force A runs/a` leaves no run dir.
    expect(refused(['--force', 'A', 'runs/a'])).toMatch(/^plan demo needs <run-dir>/);
    // Given with no word after it: an empty list.
    expect(parse(['a', '--force'])).toMatchObject({ force: [] });
  });

  it('arrays with nargs 1: one word per occurrence, so the positionals after it stay positionals', () => {
    expect(parse(['--run', 'R1', 'a', '--run=R2', 'T'])).toMatchObject({ run: ['R1', 'R2'], runDir: 'a', task: 'T' });
    expect(refused(['a', '--run'])).toBe('--run needs a value');
  });

  it('defaults are copies: a run that changes its args does not change the next one', () => {
    const first = parse(['a']);
    (first.force as string[]).push('X');
    expect(parse(['a'])).toMatchObject({ force: [] });
  });

  it('choices: a value outside them names the option, the choices and the value given', () => {
    expect(parse(['a', '--durability', 'full'])).toMatchObject({ durability: 'full' });
    expect(refused(['a', '--durability', 'nope'])).toBe('--durability must be one of "process", "full" (got "nope")');
    expect(refused(['a', '--durability'])).toBe('--durability must be one of "process", "full" (got "")');
    expect(parse(['a', '--status', 'failed', 'complete'])).toMatchObject({ status: ['failed', 'complete'] });
    expect(refused(['a', '--status', 'failed', 'nope'])).toBe('--status must be one of "failed", "complete" (got "nope")');
    expect(refused(['a', '--status', 'x', '--durability', 'y'])).toBe(
      '--durability must be one of "process", "full" (got "y"); --status must be one of "failed", "complete" (got "x")',
    );
  });

  it('unknown options are usage errors; the value after one goes with it', () => {
    expect(refused(['a', '--bogus'])).toBe('Unknown argument: bogus');
    expect(refused(['a', '--bogus', 'value'])).toBe('Unknown argument: bogus');
    expect(refused(['a', '--bogus=1', '-x'])).toBe('Unknown arguments: bogus, x');
  });

  it('which error first: a missing positional, then unknown arguments, then bad values', () => {
    expect(refused(['--bogus'])).toMatch(/^plan demo needs <run-dir>/);
    expect(refused(['a', '--bogus', '--durability', 'nope'])).toBe('Unknown argument: bogus');
    expect(refused(['a', '--latest', 'x', '--durability', 'nope'])).toBe('--latest must be a number (got "x")');
  });

  it('run gets the args and resolves to its exit code', async () => {
    const parsed = parseCommand(demo, ['runs/a', '-j', '2'], 'plan');
    expect(parsed.kind).toBe('run');
    if (parsed.kind !== 'run') return;
    expect(await parsed.run()).toBe(7);
    expect(ran.at(-1)).toEqual({ runDir: 'runs/a', ...DEFAULTS, jobs: '2' });
  });
});

describe('help and version', () => {
  it('-h or --help anywhere before `--` asks for help, and wins over any error', () => {
    for (const words of [['--help'], ['-h'], ['a', '--bogus', '-h'], ['--latest', 'x', '--help'], ['-yh']]) {
      expect(parseCommand(demo, words, 'plan')).toEqual({ kind: 'help', command: demo, parent: 'plan' });
    }
    expect(parse(['a', '--help=false'])).toMatchObject({ runDir: 'a' });
    expect(parse(['a', '--', '--help'])).toMatchObject({ task: '--help' });
  });

  it('--version asks for the version, unless the command has a --version of its own (plan cat)', () => {
    expect(parseCommand(demo, ['--version'], 'plan')).toEqual({ kind: 'version' });
    const cat = defineCommand({
      usage: 'cat <run-dir>',
      describe: '',
      options: { version: { type: 'number', describe: 'which version' } },
      run: async () => 0,
    });
    expect(parse(['a', '--version', '2'], cat)).toEqual({ runDir: 'a', version: 2 });
    expect(commandHelp(cat, 'plan', 100)).not.toContain('Show version number');
  });

  it("a command's help: usage, description, positionals, options with aliases, type, choices and default", () => {
    const help = commandHelp(demo, 'plan', 100);
    const lines = help.split('\n');
    expect(lines.slice(0, 3)).toEqual(['plan demo <run-dir> [task]', '', 'a command with one option of every kind']);
    expect(help).toMatch(/^Positionals:\n {2}run-dir {2}the run directory +\[string\] \[required\]\n {2}task {5}a task +\[string\]$/m);
    expect(help).toMatch(/^ {2}-h, --help +Show help +\[boolean\]$/m);
    expect(help).toMatch(/^ {6}--version +Show version number +\[boolean\]$/m);
    expect(help).toMatch(/^ {2}-j, --jobs, --concurrency {2}tasks running at once +\[string\] \[default: "8"\]$/m);
    expect(help).toMatch(/^ {2}-y, --yes +do not ask +\[boolean\] \[default: false\]$/m);
    expect(help).toMatch(/--force +rebuild these tasks +\[array\] \[default: \[\]\]$/m);
    expect(help).toMatch(/--durability +how durable +\[string\] \[choices: "process", "full"\] \[default: "process"\]$/m);
    expect(help).toMatch(/--wait +seconds to wait +\[number\] \[default: 30\]$/m);
    expect(help.endsWith('\n')).toBe(true);
    // Tags end at the right margin.
    for (const line of lines.slice(1).filter((l) => l.endsWith(']'))) expect(line).toHaveLength(100);
  });

  it('help is wrapped to the width it is given', () => {
    const long = defineCommand({
      usage: 'long',
      describe: 'word '.repeat(40).trim(),
      options: { thing: { type: 'string', describe: 'many words '.repeat(12).trim() } },
      run: async () => 0,
    });
    for (const width of [60, 80, 110]) {
      const lines = commandHelp(long, 'plan', width).trimEnd().split('\n');
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(width);
      // The description's continuation lines start under its first line.
      const at = lines.findIndex((l) => l.includes('--thing'));
      expect(lines[at + 1]!.search(/\S/)).toBe(lines[at]!.indexOf('many'));
      expect(lines.at(-1)).toMatch(/\[string\]$/);
    }
  });

  it('hasFlag finds -h/--help and --version before `--` only', () => {
    expect(hasFlag(['-h'], 'help')).toBe(true);
    expect(hasFlag(['x', '--help'], 'help')).toBe(true);
    expect(hasFlag(['--', '--help'], 'help')).toBe(false);
    expect(hasFlag(['--version'], 'version')).toBe(true);
    expect(hasFlag(['--version'], 'help')).toBe(false);
  });
});

describe('commands of commands (plan db)', () => {
  const copy = defineCommand({
    usage: 'copy <from> <to>',
    describe: 'copy runs',
    positionals: { from: { describe: 'source' }, to: { describe: 'target' } },
    options: { run: { type: 'string', array: true, nargs: 1, default: [] } },
    run: async () => 0,
  });
  const vacuum = defineCommand({ usage: 'vacuum', describe: 'compact', run: async () => 0 });
  const db = defineGroup({
    usage: 'db',
    describe: 'database housekeeping',
    commands: [vacuum, copy],
    missing: 'name a database command: vacuum, copy',
  });

  it('the subcommand named parses the rest', () => {
    const parsed = parseCommand(db, ['copy', '--run', 'R', 'a.db', 'b.db'], 'plan');
    expect(parsed).toMatchObject({ kind: 'run', command: copy, args: { from: 'a.db', to: 'b.db', run: ['R'] } });
    expect(parseCommand(db, ['vacuum'], 'plan')).toMatchObject({ kind: 'run', command: vacuum, args: {} });
  });

  it("its errors name the whole command: 'plan db copy'", () => {
    expect(refused(['copy', 'a.db'], db)).toBe('plan db copy needs <to> (plan db copy <from> <to>; see plan db copy --help)');
    expect(refused(['vacuum', 'x'], db)).toBe('Unknown argument: x');
  });

  it('no subcommand, or one that does not exist (the nearest is suggested)', () => {
    expect(refused([], db)).toBe('name a database command: vacuum, copy');
    expect(refused(['--json'], db)).toBe('name a database command: vacuum, copy');
    expect(refused(['vacum'], db)).toBe("unknown command 'db vacum'; did you mean db vacuum?");
    expect(refused(['frobnicate'], db)).toBe("unknown command 'db frobnicate' (plan db --help lists them)");
  });

  it('help of the group lists its commands; help of a subcommand is its own', () => {
    expect(parseCommand(db, ['--help'], 'plan')).toEqual({ kind: 'help', command: db, parent: 'plan' });
    const help = commandHelp(db, 'plan', 100);
    expect(help).toMatch(/^plan db\n\ndatabase housekeeping\n\nCommands:\n {2}plan db vacuum +compact\n {2}plan db copy <from> <to> {2}copy runs\n/);
    expect(help).not.toContain('Positionals:');
    const sub = parseCommand(db, ['copy', '-h'], 'plan');
    expect(sub).toEqual({ kind: 'help', command: copy, parent: 'plan db' });
    expect(commandHelp(copy, 'plan db', 100)).toMatch(/^plan db copy <from> <to>\n\ncopy runs\n\nPositionals:\n {2}from {2}source/);
  });
});

describe('the top level: plan --help, unknown commands', () => {
  it('groupHelp lists every command with its usage and description', () => {
    const help = groupHelp('plan <command> [options]', [demo, defineCommand({ usage: 'list', describe: 'runs', run: async () => 0 })], 'plan', 100);
    expect(help).toMatch(
      /^plan <command> \[options\]\n\nCommands:\n {2}plan demo <run-dir> \[task\] {2}a command with one option of every kind\n {2}plan list {19}runs\n/,
    );
    expect(help).toMatch(/Options:\n {2}-h, --help +Show help +\[boolean\]\n {6}--version +Show version number +\[boolean\]\n$/);
  });

  it('a misspelled command gets the nearest one suggested (a typo, swapped letters, a letter missing)', () => {
    const names = ['build', 'status', 'explain', 'list', 'cat', 'db', 'llm', 'pin', 'unpin'];
    expect(unknownCommand('bulid', names, 'plan').message).toBe("unknown command 'bulid'; did you mean build?");
    expect(suggest('stauts', names)).toBe('status');
    expect(suggest('lst', names)).toBe('list');
    expect(suggest('Build', names)).toBe('build');
    expect(suggest('unpn', names)).toBe('unpin');
    // Nothing near enough: no guess (a one-letter word is near every short name).
    expect(suggest('frobnicate', names)).toBeUndefined();
    expect(suggest('x', names)).toBeUndefined();
    expect(unknownCommand('frobnicate', names, 'plan').message).toBe("unknown command 'frobnicate' (plan --help lists them)");
  });
});

describe('specs are checked when defined', () => {
  it('a usage word that is no <positional> or [positional], or a required one after an optional one', () => {
    expect(() => defineCommand({ usage: 'x <a', describe: '', run: async () => 0 })).toThrow(/no <positional>/);
    expect(() => defineCommand({ usage: 'x [a] <b>', describe: '', run: async () => 0 })).toThrow(/required positional after an optional/);
  });

  it('a default outside the choices', () => {
    expect(() =>
      defineCommand({ usage: 'x', describe: '', options: { by: { type: 'string', choices: ['run', 'task'], default: 'day' } }, run: async () => 0 }),
    ).toThrow(/default of --by/);
  });
});

describe("the CLI's commands", () => {
  it('every command module defines a spec whose help fits the width; build and db copy parse as before', async () => {
    const modules = await Promise.all([
      import('../../src/cli/commands/build.js'),
      import('../../src/cli/commands/cat.js'),
      import('../../src/cli/commands/db.js'),
      import('../../src/cli/commands/pin.js'),
      import('../../src/cli/commands/list.js'),
    ]);
    const [build, cat, db, pin, list] = modules;
    for (const command of [build.buildCommand, cat.catCommand, db.dbCommand, pin.pinCommand, pin.unpinCommand, list.listCommand]) {
      for (const width of [80, 100, 110]) {
        const longest = Math.max(
          ...commandHelp(command, 'plan', width)
            .split('\n')
            .map((l) => l.length),
        );
        expect(longest).toBeLessThanOrEqual(width);
      }
    }
    expect(parse(['runs/demo', '-j4', '--force', 'A', 'B', '--keep-going', '--param', 'seed=one'], build.buildCommand)).toMatchObject({
      runDir: 'runs/demo',
      jobs: '4',
      force: ['A', 'B'],
      keepGoing: true,
      param: ['seed=one'],
      dryRun: false,
      durability: 'process',
      from: [],
      until: [],
    });
    expect(parse(['runs/demo', 'seed.txt', '--version', '1'], cat.catCommand)).toEqual({
      runDir: 'runs/demo',
      taskOrFile: 'seed.txt',
      version: 1,
      json: false,
    });
    expect(parseCommand(db.dbCommand, ['copy', '--run', 'R', 'a.db', 'b.db'], 'plan')).toMatchObject({
      args: { from: 'a.db', to: 'b.db', run: ['R'] },
    });
    expect(refused(['--status', 'nope'], list.listCommand)).toMatch(/^--status must be one of "created", .*"interrupted" \(got "nope"\)$/);
  });
});
