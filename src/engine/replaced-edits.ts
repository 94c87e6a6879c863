import type { ReplacedEdit } from './decide.js';
import type { Store } from '../store/store.js';

/** For each edited file, the stored version holding the edit: what a person is told to `plan cat --version`. */
export async function replacedEdits(store: Store, runId: string, edited: readonly { path: string; sha256: string }[]): Promise<ReplacedEdit[]> {
  const found: ReplacedEdit[] = [];
  for (const edit of edited) {
    const versions = await store.listContentVersions(runId, edit.path);
    const holding = versions.filter((v) => v.sha256 === edit.sha256).at(-1);
    found.push({ path: edit.path, version: holding?.version ?? null });
  }
  return found;
}
