#!/usr/bin/env node
// Runs the CLI from dist/smartpush-guard.mjs, an esbuild bundle of src/ that is rebuilt here
// whenever a source is newer (about a second), so there is no build step to forget and no
// TypeScript loader in the running process. Where the bundle cannot be written (a read-only
// install), the sources run through tsx instead.
import { BUNDLE, build, bundleIsStale } from '../scripts/build.mjs';

let entry = BUNDLE;
if (bundleIsStale()) {
  try {
    await build();
  } catch (error) {
    process.stderr.write(`smartpush-guard: running from source (the bundle could not be built: ${error.code ?? error.message})\n`);
    const { register } = await import('tsx/esm/api');
    register();
    entry = '../src/cli/main.ts';
  }
}
await import(entry);
