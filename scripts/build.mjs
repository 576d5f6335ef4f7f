// Bundles the sidecar's TypeScript (src/ and the demo app) into dist/smartpush-guard.mjs with
// esbuild, so the running process needs no TypeScript loader: the tsx loader costs about 40 MiB of
// resident memory per process. Dependencies stay in node_modules (not bundled).
// Usage: node scripts/build.mjs [--if-stale]   (bin/smartpush-guard.js calls it with --if-stale)
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(ROOT, 'dist', 'smartpush-guard.mjs');
const INPUTS = ['src', 'demo', 'package.json', 'package-lock.json', 'tsconfig.json'];

function newestMtime(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0; // an input the install does not have (an image ships no lockfile)
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when the bundle is missing or older than any source it is built from. */
export function bundleIsStale() {
  let built;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    return true;
  }
  return INPUTS.some((input) => newestMtime(join(ROOT, input)) > built);
}

/**
 * V8 keeps a module's whole source text on its heap (functions compile lazily from it), as a
 * one-byte string when every character is Latin-1 and as a two-byte string otherwise. esbuild
 * escapes non-ASCII characters in strings, templates and regular expressions (`charset: 'ascii'`)
 * but copies comments as written, so one `…` or Chinese word in a comment doubled the bundle's
 * size in memory. Every character left above U+007E becomes its `\uXXXX` escape (UTF-16 code
 * units): the same text in a comment, the same value in a string, template, regular expression or
 * identifier (docs/PERFORMANCE.md, memory).
 */
export function asciiOnly(code) {
  return code.replace(/[^\x00-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The esbuild options of the bundle; bench/server-processes.ts bundles its servers the same way.
 * The source map is a separate file (`linked`): an inline map (base64 of every source) was part of
 * the module's source text, held on the heap for the life of the process. Node reads the linked
 * file only when source maps are on (`node --enable-source-maps`).
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  charset: 'ascii',
  write: false,
  logLevel: 'warning',
};

export async function build() {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    ...BUNDLE_OPTIONS,
    entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
    outfile: BUNDLE,
    sourcemap: 'linked',
  });
  const output = result.outputFiles.find((file) => file.path === BUNDLE);
  const map = result.outputFiles.find((file) => file.path === `${BUNDLE}.map`);
  if (!output || !map) throw new Error('esbuild produced no output');
  mkdirSync(dirname(BUNDLE), { recursive: true });
  // Written beside and renamed into place, so processes starting together never read half a file
  // (the map first: the bundle's mtime is what bundleIsStale compares).
  for (const [file, text] of [[map.path, map.text], [BUNDLE, asciiOnly(output.text)]]) {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, text);
    renameSync(partial, file);
  }
  return BUNDLE;
}

const invoked = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invoked) {
  if (process.argv.includes('--if-stale') && !bundleIsStale()) process.exit(0);
  await build();
  console.log(`built ${BUNDLE}`);
}
