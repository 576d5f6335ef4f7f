import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDemoApp } from '../../demo/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Clock } from '../../src/core/clock.ts';
import { startGuard, type RunningGuard } from '../../src/server/start.ts';
import { stringify } from 'yaml';
import { DEMO_POLICY_FILE, baseConfig, memoryLogger, stackFiles, uniqueRedisPrefix } from './stack.ts';
import { GuardClient } from './two-factor.ts';

/**
 * Several sidecar replicas of one deployment, as behind a load balancer: one demo app, one Redis
 * (given by URL, through GUARD_REDIS_URL exactly as an operator sets it), and the secrets every
 * replica must share (session keys, encryption keys). Each replica has its own listener, logs and
 * hot-path caches; everything else goes through Redis.
 *
 * Built from stack.ts's `stackFiles` and `baseConfig` (the same defaults as every stack), but
 * through a YAML config and `parseConfig` with GUARD_REDIS_URL, because the CLI tests run
 * `configFile` with `env` exactly as an operator would.
 */
export interface Replicas {
  readonly guards: readonly RunningGuard[];
  readonly urls: readonly string[];
  readonly outboxFile: string;
  /** The config file of replica 0, for the CLI (with `env`, as an operator would run it). */
  readonly configFile: string;
  readonly env: Readonly<Record<string, string>>;
  readonly logs: ReadonlyArray<Array<Record<string, unknown>>>;
  /** A client of replica `i` carrying `from`'s cookies (a browser whose next request lands elsewhere). */
  on(i: number, from?: GuardClient): GuardClient;
  close(): Promise<void>;
}

export interface ReplicaOptions {
  readonly count: number;
  readonly redisUrl: string;
  /** Config keys merged (deeply) over the replicas' shared config. */
  readonly config?: Record<string, unknown>;
  /** The Redis key prefix (default: unique per call, so tests sharing one Redis never meet). */
  readonly prefix?: string;
  /** The clock every replica uses (default: the real one), e.g. a ManualClock shared by all. */
  readonly clock?: Clock;
}

export async function startReplicas(options: ReplicaOptions): Promise<Replicas> {
  const files = stackFiles('spg-replicas-');
  const { dir, outboxFile } = files;
  const demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
  const prefix = options.prefix ?? uniqueRedisPrefix();
  const base: Record<string, unknown> = {
    ...baseConfig(files, demo.url, DEMO_POLICY_FILE),
    // The Redis URL itself comes from GUARD_REDIS_URL below, as an operator would set it.
    store: { sqlite: files.sqliteFile, redis: { prefix, url: 'redis://unused.invalid:6379' } },
  };
  // Each replica gets its own SQLite path, so nothing can be shared but through Redis.
  const yamlOf = (i: number): string => stringify(merge(merge(base, { store: { sqlite: join(dir, `unused-${i}.db`) } }), options.config ?? {}));
  const env = { GUARD_REDIS_URL: options.redisUrl };
  const guards: RunningGuard[] = [];
  const logs: Array<Array<Record<string, unknown>>> = [];
  try {
    for (let i = 0; i < options.count; i++) {
      const loaded = parseConfig(yamlOf(i), join(dir, 'config.yaml'), env);
      const captured = memoryLogger();
      logs.push(captured.logs);
      guards.push(await startGuard(loaded, { logger: captured.logger, watchPolicy: false, env, ...(options.clock ? { clock: options.clock } : {}) }));
    }
  } catch (error) {
    await Promise.allSettled(guards.map((g) => g.close()));
    await demo.close();
    throw error;
  }
  const urls = guards.map((g) => g.url);
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, yamlOf(0));
  return {
    guards,
    urls,
    outboxFile,
    configFile,
    env,
    logs,
    on(i, from) {
      const client = new GuardClient(urls[i] as string);
      if (from) {
        for (const [name, value] of from.cookies) client.cookies.set(name, value);
        client.user = from.user;
      }
      return client;
    },
    async close() {
      await Promise.allSettled(guards.map((g) => g.close()));
      await demo.close();
    },
  };
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    const both = [current, value].every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
    out[key] = both ? merge(current as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}
