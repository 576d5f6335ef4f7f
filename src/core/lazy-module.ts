import { createRequire } from 'node:module';

/**
 * A package a deployment may never use (Redis client, SQL drivers, HTML parser, phone metadata)
 * is loaded on first use, not at start: each costs megabytes of heap that every garbage
 * collection then walks, which slows down even a streamed download (docs: README, "Performance").
 * These packages ship CommonJS builds, so loading stays synchronous and no caller changes shape.
 */
const load = createRequire(import.meta.url);

export function lazyModule<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load(id) as T);
}
