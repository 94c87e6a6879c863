import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { buildCommand } from './commands/build.js';
import { statusCommand } from './commands/status.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { errorMessage } from '../engine/errors.js';

/** Runs the CLI; resolves to the exit code (also set on process.exitCode). */
export async function main(argv: string[] = hideBin(process.argv)): Promise<number> {
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
