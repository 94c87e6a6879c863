import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { buildCommand } from './commands/build.js';
import { statusCommand } from './commands/status.js';
import { explainCommand } from './commands/explain.js';
import { restoreCommand } from './commands/restore.js';
import { listCommand } from './commands/list.js';
import { showCommand } from './commands/show.js';
import { catCommand } from './commands/cat.js';
import { historyCommand } from './commands/history.js';
import { llmCommand } from './commands/llm.js';
import { costsCommand } from './commands/costs.js';
import { graphCommand } from './commands/graph.js';
import { cleanCommand } from './commands/clean.js';
import { dbCommand } from './commands/db.js';
import { watchCommand } from './commands/watch.js';
import { cancelCommand } from './commands/cancel.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { errorMessage } from '../engine/errors.js';

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
  cli = buildCommand(cli);
  cli = statusCommand(cli);
  cli = explainCommand(cli);
  cli = restoreCommand(cli);
  cli = listCommand(cli);
  cli = showCommand(cli);
  cli = catCommand(cli);
  cli = historyCommand(cli);
  cli = llmCommand(cli);
  cli = costsCommand(cli);
  cli = graphCommand(cli);
  cli = cleanCommand(cli);
  cli = dbCommand(cli);
  cli = watchCommand(cli);
  cli = cancelCommand(cli);
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
