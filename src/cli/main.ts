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
};

/** The named command alone; every command for help, a typo (so yargs can suggest one) or no command. */
async function commandsFor(first: string | undefined): Promise<Register[]> {
  const one = first === undefined ? undefined : COMMANDS[first];
  if (one !== undefined) return [await one()];
  return Promise.all(Object.values(COMMANDS).map((load) => load()));
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
      throw error ?? new CliUsageError(message);
    });
  for (const register of await commandsFor(argv[0])) cli = register(cli);
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

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}
