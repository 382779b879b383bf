// Copies the pinned Streams bundle (package-lock.json) into the served tree as vendor/connect-streams-min.js.
// The pages load it from their own origin: `script-src 'self'` allows nothing from a CDN, and a copy
// made from node_modules is exactly the version the lockfile names (npm ci checks its integrity hash).
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const desktop = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = join(desktop, 'node_modules', 'amazon-connect-streams');
const source = join(pkgDir, 'release', 'connect-streams-min.js');
const target = join(desktop, 'vendor', 'connect-streams-min.js');

let version;
try {
  version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
} catch {
  console.error('amazon-connect-streams is not installed: run `npm ci` in desktop/ first');
  process.exit(1);
}
mkdirSync(dirname(target), { recursive: true });
copyFileSync(source, target);
console.log(`vendor/connect-streams-min.js <- amazon-connect-streams ${version}`);
