import fs from 'node:fs';
import path from 'node:path';

export const TEMP_PREFIX = '.plan-tmp-';

/**
 * Writes a file so that readers see the old content or the new, never half: a temp file in the same
 * directory, then rename. Not fsynced by default: the database already holds the bytes durably, and a lost
 * file is written back from it; with `fsync` (durability `full`) the file's bytes reach the disk before the
 * rename, so power loss cannot leave a torn file under the final name (its folder: see `fsyncFolders`).
 * Returns the file's stat, taken on the open file after the rename (a rename changes the ctime; size, mtime
 * and inode stay), which the hash cache records without another lookup by path.
 */
export function writeFileAtomic(runDir: string, relativePath: string, bytes: Uint8Array, options: { fsync?: boolean } = {}): fs.BigIntStats {
  const target = path.join(runDir, relativePath);
  const dir = path.dirname(target);
  const leadsOut = folderEscape(runDir, relativePath);
  if (leadsOut !== null) throw new Error(`cannot write ${relativePath}: ${leadsOut}`);
  const temp = path.join(dir, `${TEMP_PREFIX}${path.basename(target)}.${process.pid}.${++tempCounter}`);
  const fd = openCreatingFolder(temp, dir);
  try {
    for (let offset = 0; offset < bytes.length; ) offset += fs.writeSync(fd, bytes, offset);
    if (options.fsync === true) fs.fsyncSync(fd);
    fs.renameSync(temp, target);
    return fs.fstatSync(fd, { bigint: true });
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  } finally {
    fs.closeSync(fd);
  }
}

/** Unique within this process; the pid makes it unique across processes. */
let tempCounter = 0;

/** Opens a new file, making the folder only when it is missing (no extra call in the common case). */
function openCreatingFolder(file: string, dir: string): number {
  try {
    return fs.openSync(file, 'w');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    fs.mkdirSync(dir, { recursive: true });
    return fs.openSync(file, 'w');
  }
}

/**
 * fsyncs the folders of these files (once each), so that their renames — the files' names — survive power
 * loss. Folders the writes created are fsynced up to the run dir, whose own entry for them must last too.
 */
export function fsyncFolders(runDir: string, relativePaths: Iterable<string>): void {
  const root = path.resolve(runDir);
  const folders = new Set<string>();
  for (const relativePath of relativePaths) {
    for (let dir = path.dirname(path.join(root, relativePath)); ; dir = path.dirname(dir)) {
      if (folders.has(dir)) break;
      folders.add(dir);
      if (dir === root || path.dirname(dir) === dir) break;
    }
  }
  for (const dir of folders) {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Removes the files an earlier build of a task wrote that its new attempt does not (`previous` minus `now`),
 * except those `keep` names; `forget` drops each from the hash cache. Returns the paths removed. Materialize
 * and recovery both end a task's life this way.
 */
export function removeDroppedFiles(
  runDir: string,
  previous: Readonly<Record<string, string>>,
  now: Readonly<Record<string, string>>,
  forget: (relativePath: string) => void,
  keep: (relativePath: string) => boolean = () => false,
): string[] {
  const removed: string[] = [];
  for (const filePath of Object.keys(previous)) {
    if (filePath in now || keep(filePath)) continue;
    fs.rmSync(path.join(runDir, filePath), { force: true });
    forget(filePath);
    removed.push(filePath);
  }
  return removed;
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

/**
 * Why writing `relativePath` would land outside the run dir — a folder on its way is a symlink leading out (or
 * dangling) — or null. The deepest folder that exists decides: folders made below it by mkdir are real ones.
 * Files at the top of the run dir cost nothing; the lexical checks (`..`, absolute) are the graph's.
 */
export function folderEscape(runDir: string, relativePath: string): string | null {
  const folder = path.posix.dirname(relativePath);
  if (folder === '.') return null;
  const root = path.resolve(runDir);
  let probe = path.join(root, folder);
  while (probe !== root && !exists(probe)) probe = path.dirname(probe);
  if (probe === root) return null;
  const shown = path.relative(root, probe);
  let real: string;
  try {
    real = fs.realpathSync(probe);
  } catch {
    return `folder '${shown}' is a dangling symlink`;
  }
  const inside = path.relative(realRoot(root), real);
  const outside = inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside);
  return outside ? `folder '${shown}' leads out of the run directory (to ${real})` : null;
}

const realRoots = new Map<string, string>();

/** The run dir's real path, asked once per process: a folder of it is checked against this for every file. */
function realRoot(root: string): string {
  let real = realRoots.get(root);
  if (real === undefined) {
    real = fs.realpathSync(root);
    realRoots.set(root, real);
  }
  return real;
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
