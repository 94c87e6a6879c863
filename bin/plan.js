#!/usr/bin/env node
// Launcher for the CLI: the TypeScript is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('plan: not built yet: run `npm install` (or `npm run build`) in the plan folder\n');
  process.exit(2);
}
const { main } = await import(entry.href);
await main();
