// Builds the meeting page's script: page/src/main.js and the Chime SDK for JavaScript (as
// package-lock.json pins it) bundled by esbuild into page/dist/recorder.js (gitignored).
//
// One classic (non-module) script, not ES modules: the browser opens the page from file://, where
// Chromium refuses module scripts (their fetch is CORS-checked and a file:// origin is opaque) but
// runs classic ones.

import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'page', 'dist');

await rm(OUT, { recursive: true, force: true });
const result = await build({
  entryPoints: [join(ROOT, 'page', 'src', 'main.js')],
  outfile: join(OUT, 'recorder.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  // Given explicitly, esbuild uses this order for require() too. Its default for a require()
  // prefers `main`, and the SDK's index.js (CommonJS) requires the Chime messaging client, whose
  // `main` (dist-cjs) hard-wires the Node runtime (credential chain, node:fs…); `module` (dist-es)
  // with its `browser` map is the browser build.
  mainFields: ['browser', 'module', 'main'],
  // Parts of the SDK (written for webpack 4, which shimmed it) use Node's `global`.
  define: { global: 'globalThis' },
  // Debian's chromium (the image's browser and the tests') is current; this only bounds the syntax.
  target: ['chrome110'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`page built: ${join('page', 'dist', 'recorder.js')} (${Math.round(bytes / 1024)} KiB with its map)`);
