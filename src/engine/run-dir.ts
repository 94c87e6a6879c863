import fs from 'node:fs';
import path from 'node:path';

/** The small file that ties a run dir to its run in the database, so a moved dir still finds its run. */
export const RUN_MARKER = '.plan-run.json';

export interface RunMarker {
  runId: string;
}

export function readRunMarker(runDir: string): RunMarker | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(runDir, RUN_MARKER), 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Partial<RunMarker>;
    return typeof parsed.runId === 'string' ? { runId: parsed.runId } : null;
  } catch {
    return null;
  }
}

export function writeRunMarker(runDir: string, marker: RunMarker): void {
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, RUN_MARKER), `${JSON.stringify(marker)}\n`);
}
