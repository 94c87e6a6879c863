import fs from 'node:fs';
import path from 'node:path';

/**
 * Files in a run dir that no task owns: no task of the graph declares them, none wrote them as an extra file,
 * and the database has them as no task's output. A run dir adopted from another pipeline keeps that
 * pipeline's files this one does not make (e.g. the original's per-item files beyond the items rebuilt here);
 * a person may keep notes there too. Nothing reads them and plan never deletes a file it did not write: they
 * are only reported (`plan status`). Dotfiles (the engine's own: `.plan-run.json`, the lock) are left out.
 */
export function unownedFiles(runDir: string, owned: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), relative);
      else if (!owned.has(relative)) found.push(relative);
    }
  };
  walk(runDir, '');
  return found.sort();
}
