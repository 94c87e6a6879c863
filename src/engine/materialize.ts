import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const TEMP_PREFIX = '.plan-tmp-';

/**
 * Writes a file so that readers see the old content or the new, never half: a temp file in the same
 * directory, then rename. Not fsynced: the database already holds the bytes durably, and a lost file is
 * written back from it.
 */
export function writeFileAtomic(runDir: string, relativePath: string, bytes: Uint8Array): void {
  const target = path.join(runDir, relativePath);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const temp = path.join(dir, `${TEMP_PREFIX}${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(temp, bytes);
    fs.renameSync(temp, target);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** Temp files a killed process left behind; returns how many were removed. */
export function removeTempFiles(runDir: string): number {
  let removed = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(runDir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX)) {
      fs.rmSync(path.join(entry.parentPath, entry.name), { force: true });
      removed++;
    }
  }
  return removed;
}
