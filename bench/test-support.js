// Bench scripts reuse test support written in TypeScript (the fake model server, the crash campaign). They
// compile it with the project's own tsc into node_modules/.cache and import it with plain node.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Compiles `files` (paths under the repo) into node_modules/.cache/<cacheName> and imports each compiled
 * module, in order. Exits 1 with a message when tsc fails.
 */
export async function importTestSupport(root, cacheName, files) {
  const outDir = path.join(root, 'node_modules', '.cache', cacheName);
  const tsc = spawnSync(
    process.execPath,
    [
      path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--outDir',
      outDir,
      '--rootDir',
      root,
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      '--lib',
      'ES2023',
      '--types',
      'node',
      '--strict',
      '--esModuleInterop',
      '--skipLibCheck',
      ...files.map((file) => path.join(root, file)),
    ],
    { cwd: root, stdio: 'inherit' },
  );
  if (tsc.status !== 0) {
    process.stderr.write(`could not compile ${files.join(' and ')}\n`);
    process.exit(1);
  }
  return Promise.all(files.map((file) => import(pathToFileURL(path.join(outDir, file.replace(/\.ts$/, '.js'))).href)));
}
