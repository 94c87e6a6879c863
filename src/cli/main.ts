import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { errorMessage } from '../engine/errors.js';

type Register = (yargs: Argv) => Argv;

/**
 * Each command's module, loaded on demand: `plan build` does not pay for watch's file watcher or the inspect
 * commands' code. Order is the order of `plan --help`.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  build: async () => (await import('./commands/build.js')).buildCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  explain: async () => (await import('./commands/explain.js')).explainCommand,
  restore: async () => (await import('./commands/restore.js')).restoreCommand,
  list: async () => (await import('./commands/list.js')).listCommand,
  show: async () => (await import('./commands/show.js')).showCommand,
  cat: async () => (await import('./commands/cat.js')).catCommand,
  history: async () => (await import('./commands/history.js')).historyCommand,
  llm: async () => (await import('./commands/llm.js')).llmCommand,
  costs: async () => (await import('./commands/costs.js')).costsCommand,
  graph: async () => (await import('./commands/graph.js')).graphCommand,
  clean: async () => (await import('./commands/clean.js')).cleanCommand,
  db: async () => (await import('./commands/db.js')).dbCommand,
  watch: async () => (await import('./commands/watch.js')).watchCommand,
  cancel: async () => (await import('./commands/cancel.js')).cancelCommand,
  pin: async () => (await import('./commands/pin.js')).pinCommand,
  unpin: async () => (await import('./commands/pin.js')).pinCommand,
};

/** The named command alone; every command for help, a typo (so yargs can suggest one) or no command. */
async function commandsFor(first: string | undefined): Promise<Register[]> {
  const one = first === undefined ? undefined : COMMANDS[first];
  if (one !== undefined) return [await one()];
  // One module may hold two commands (pin and unpin): each registers once.
  return [...new Set(await Promise.all(Object.values(COMMANDS).map((load) => load())))];
}

/** Runs the CLI; resolves to the exit code (also set on process.exitCode). */
export async function main(argv: string[] = hideBin(process.argv)): Promise<number> {
  // `plan … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  let cli = yargs(argv)
    .scriptName('plan')
    .usage('$0 <command> [options]')
    .strict()
    .demandCommand(1, 'name a command (plan --help lists them)')
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((message, error) => {
      throw error ?? new CliUsageError(usageMessage(message, argv[0], positionals));
    });
  for (const register of await commandsFor(argv[0])) cli = register(cli);
  // Read now: while a command runs, yargs holds a fresh command table of its own.
  const positionals = positionalsOf(cli, argv[0]);
  try {
    await cli.parseAsync();
    return (process.exitCode as number | undefined) ?? ExitCode.ok;
  } catch (error) {
    const code = error instanceof CliUsageError ? ExitCode.usage : exitCodeFor(error);
    process.stderr.write(`plan: ${firstLine(errorMessage(error))}\n`);
    if (error instanceof Error && 'problems' in error && Array.isArray((error as { problems: unknown }).problems)) {
      const problems = (error as { problems: string[] }).problems;
      if (problems.length > 1) for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
    }
    process.exitCode = code;
    return code;
  }
}

class CliUsageError extends Error {}

/**
 * yargs' validation messages, made whole lines: the argument, the value given and what it accepts, or the
 * positional argument that is missing — never the bare first line ("Invalid values:").
 */
export function usageMessage(message: string, command: string | undefined, positionals: readonly string[]): string {
  const invalid = [...message.matchAll(/Argument: ([\w-]+), Given: ("(?:[^"\\]|\\.)*"|\S+), Choices: (.+)/g)];
  if (invalid.length > 0) {
    return invalid.map(([, name, given, choices]) => `--${name} must be one of ${choices!.trim()} (got ${given})`).join('; ');
  }
  const missing = /^Not enough non-option arguments: got (\d+), need at least (\d+)/.exec(message);
  if (missing !== null && command !== undefined) {
    const absent = positionals.slice(Number(missing[1]), Number(missing[2]));
    const named = absent.length > 0 ? absent.join(' ') : 'an argument';
    return `plan ${command} needs ${named} (plan ${command} ${positionals.join(' ')}; see plan ${command} --help)`;
  }
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** The positional arguments of a command as its usage names them, e.g. ['<run-dir>']; [] when unknown. */
function positionalsOf(cli: Argv, command: string | undefined): string[] {
  if (command === undefined) return [];
  try {
    // yargs keeps each command's usage string ('build <run-dir>'); it has no public getter for it.
    const internal = cli as unknown as {
      getInternalMethods(): { getCommandInstance(): { getCommandHandlers(): Record<string, { original: string }> } };
    };
    const usage = internal.getInternalMethods().getCommandInstance().getCommandHandlers()[command]?.original ?? '';
    return usage
      .split(/\s+/)
      .slice(1)
      .filter((word) => word.startsWith('<') || word.startsWith('['));
  } catch {
    return [];
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}
