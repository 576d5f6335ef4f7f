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

export async function build() {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    sourcemap: 'inline',
    write: false,
    logLevel: 'warning',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no output');
  mkdirSync(dirname(BUNDLE), { recursive: true });
  // Written beside and renamed into place, so processes starting together never read half a file.
  const partial = `${BUNDLE}.${process.pid}.tmp`;
  writeFileSync(partial, output.contents);
  renameSync(partial, BUNDLE);
  return BUNDLE;
}

const invoked = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invoked) {
  if (process.argv.includes('--if-stale') && !bundleIsStale()) process.exit(0);
  await build();
  console.log(`built ${BUNDLE}`);
}
