import fs from 'node:fs';
import { ArgsError, type Command, commandHelp, groupHelp, hasFlag, parseCommand, unknownCommand } from './args.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { errorMessage } from '../engine/errors.js';

/**
 * Each command's module, loaded on demand: `plan build` does not pay for watch's file watcher or the inspect
 * commands' code. Order is the order of `plan --help`.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
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
  unpin: async () => (await import('./commands/pin.js')).unpinCommand,
  ui: async () => (await import('./commands/ui.js')).uiCommand,
  submit: async () => (await import('./commands/submit.js')).submitCommand,
  worker: async () => (await import('./commands/worker.js')).workerCommand,
  workers: async () => (await import('./commands/workers.js')).workersCommand,
};

/** Runs the CLI; resolves to the exit code (also set on process.exitCode). */
export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  // `plan … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  try {
    const code = await dispatch(argv);
    process.exitCode = code;
    return code;
  } catch (error) {
    const code = error instanceof ArgsError ? ExitCode.usage : exitCodeFor(error);
    process.stderr.write(`plan: ${firstLine(errorMessage(error))}\n`);
    if (error instanceof Error && 'problems' in error && Array.isArray((error as { problems: unknown }).problems)) {
      const problems = (error as { problems: string[] }).problems;
      if (problems.length > 1) for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
    }
    process.exitCode = code;
    return code;
  }
}

/** Finds the command the words name, parses its arguments and runs it (or prints help or the version). */
async function dispatch(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  // `plan help [command]` and `plan --help command` are `plan [command] --help`.
  if (first === 'help' || ((first === '--help' || first === '-h') && rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0]))) {
    return rest[0] === undefined ? printHelp() : dispatch([...rest, '--help']);
  }
  if (first === undefined || first.startsWith('-')) {
    if (hasFlag(argv, 'help')) return printHelp();
    if (hasFlag(argv, 'version')) return print(`${version()}\n`);
    throw new ArgsError('name a command (plan --help lists them)');
  }
  const load = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (load === undefined) throw unknownCommand(first, Object.keys(COMMANDS), 'plan');
  const parsed = parseCommand(await load(), rest, 'plan');
  if (parsed.kind === 'help') return print(commandHelp(parsed.command, parsed.parent, helpWidth()));
  if (parsed.kind === 'version') return print(`${version()}\n`);
  return parsed.run();
}

/** `plan --help`: every command's module is loaded for its description. */
async function printHelp(): Promise<number> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  return print(groupHelp('plan <command> [options]', commands, 'plan', helpWidth()));
}

function print(text: string): number {
  process.stdout.write(text);
  return ExitCode.ok;
}

/** The terminal's width, at most 110; 100 when stdout is no terminal (or one that says it has no width). */
function helpWidth(): number {
  const columns = process.stdout.columns ?? 0;
  return columns > 0 ? Math.min(110, Math.max(40, columns)) : 100;
}

/** package.json's version, read as text: importing it, or anything that knows it, costs start-up time. */
function version(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}
