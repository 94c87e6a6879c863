import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The page's own files, shipped in the package (dist/ui/client: the browser code compiled by tsconfig.ui.json,
 * and the style sheet): read once at start, served from memory by name — no path from a request ever reaches
 * the file system. Nothing comes from a CDN; the dashboard works offline.
 */

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface Asset {
  bytes: Buffer;
  contentType: string;
  etag: string;
}

export const CLIENT_DIR = fileURLToPath(new URL('./client/', import.meta.url));

export function loadAssets(dir: string = CLIENT_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!fs.existsSync(dir)) return assets;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const type = TYPES[path.extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    const full = path.join(entry.parentPath, entry.name);
    const name = path.relative(dir, full).split(path.sep).join('/');
    const bytes = fs.readFileSync(full);
    assets.set(name, { bytes, contentType: type, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

/** The one HTML page: no data in it, only the action token and the page's own script and style sheet. */
export function shellPage(csrfToken: string, assets: ReadonlyMap<string, Asset>): string {
  const preloads = [...assets.keys()]
    .filter((name) => name.endsWith('.js') && name !== 'app.js')
    .map((name) => `<link rel="modulepreload" href="/static/${name}">`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="plan-csrf" content="${csrfToken}">
<title>plan</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/style.css">
<script type="module" src="/static/app.js"></script>
${preloads}
</head>
<body>
<noscript>The plan dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}
