import fs from 'node:fs';
import type { Argv } from 'yargs';
import { UsageError } from '../../engine/errors.js';
import { ExitCode } from '../exit-codes.js';
import { printJson } from '../format.js';
import { openDatabase } from '../run-lookup.js';
import { dbLocationFor, SHARED_DB_OPTION } from '../run-resolution.js';

interface VacuumArgs {
  db?: string;
  json: boolean;
}

export function dbCommand(yargs: Argv): Argv {
  return yargs.command('db', 'database housekeeping: plan db vacuum', (y) =>
    y
      .command(
        'vacuum',
        'give the space of deleted runs back to the file system (run it after plan clean)',
        (v) => v.option('db', SHARED_DB_OPTION).option('json', { type: 'boolean', default: false }),
        async (argv) => {
          process.exitCode = await runVacuum(argv as unknown as VacuumArgs);
        },
      )
      .demandCommand(1, 'name a database command: vacuum'),
  );
}

async function runVacuum(args: VacuumArgs): Promise<number> {
  const opened = await openDatabase(args.db);
  if (opened === null) throw new UsageError(`no database at ${dbLocationFor(undefined, args.db)} (give --db)`);
  const { store, location } = opened;
  try {
    const before = onDiskBytes(location);
    await store.vacuum();
    const after = onDiskBytes(location);
    if (args.json) printJson({ db: location, bytesBefore: before, bytesAfter: after });
    else process.stdout.write(`vacuumed ${location}: ${megabytes(before)} → ${megabytes(after)}\n`);
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

/** The database file and its write-ahead log: what the database takes on disk. */
function onDiskBytes(location: string): number {
  return [location, `${location}-wal`].reduce((sum, file) => sum + (fs.existsSync(file) ? fs.statSync(file).size : 0), 0);
}

function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
