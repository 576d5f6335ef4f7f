import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { startDemoApp } from '../../demo/app.ts';
import { loadConfig } from '../config/load.ts';
import { handleSignals, startGuard } from '../server/start.ts';
import { ensureSecretFile, newAdminToken, newSessionKeys } from './demo-secrets.ts';
import { newEncryptionKeys } from '../factors/secret-box.ts';
import { assertNoDataForNewKeys } from '../factors/key-check.ts';

/** The checkout: found upwards from this module, which runs from src/cli/ or from the dist/ bundle. */
function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'config', 'demo.yaml'))) return dir;
    if (dirname(dir) === dir) throw new Error('cannot find the smartpush-guard checkout (config/demo.yaml)');
  }
}
const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/**
 * `npm start`: the legacy demo app on 127.0.0.1:8081 and the sidecar in front of it. With
 * GUARD_UPSTREAM set, the demo app is not started and the sidecar fronts that URL instead.
 */
export async function runDemo(env: NodeJS.ProcessEnv = process.env, options: { readonly initStore?: boolean } = {}): Promise<number> {
  mkdirSync(join(ROOT, 'var'), { recursive: true, mode: 0o700 });
  ensureSecretFile(join(ROOT, 'var', 'session-keys.json'), newSessionKeys);
  // The admin API's token: GUARD_ADMIN_TOKEN when given, else one generated once into var/ (shared by
  // every demo process of this checkout). The service reads it from the environment, as in production.
  const generatedToken = env['GUARD_ADMIN_TOKEN'] ? null : ensureSecretFile(join(ROOT, 'var', 'admin-token'), newAdminToken).trim();
  if (generatedToken !== null) env['GUARD_ADMIN_TOKEN'] = generatedToken;
  const loaded = loadConfig(env['GUARD_CONFIG'] ?? join(ROOT, 'config', 'demo.yaml'), env);
  // New encryption keys only for a new store: over existing data they would lock every TOTP user
  // out (issue 14 item 12). Keys made in this run mean a first start, so the store may be created.
  const keysFile = join(ROOT, 'var', 'encryption-keys.json');
  const firstStart = !existsSync(keysFile);
  if (firstStart && loaded.config.store.kind === 'embedded') {
    assertNoDataForNewKeys(resolve(dirname(loaded.file), loaded.config.store.sqlite), keysFile);
  }
  ensureSecretFile(keysFile, () => `${newEncryptionKeys()}\n`);
  const upstream = new URL(loaded.config.upstream.url);
  let demoApp: Awaited<ReturnType<typeof startDemoApp>> | undefined;
  if (!env['GUARD_UPSTREAM']) {
    demoApp = await startDemoApp({ host: upstream.hostname, port: Number(upstream.port || 80) });
  }
  let guard: Awaited<ReturnType<typeof startGuard>>;
  try {
    guard = await startGuard(loaded, { initStore: firstStart || options.initStore === true });
  } catch (error) {
    // The demo app would keep the process alive after a refused start.
    await demoApp?.close();
    throw error;
  }
  handleSignals(guard);
  guard.server.once('close', () => void demoApp?.close());
  process.stdout.write(
    [
      '',
      '  SmartPush demo behind smartpush-guard',
      `  Open            ${guard.url}/dashboard`,
      `  Sign in         merchant@example.com or owner@example.com, password smartpush-demo`,
      `  Legacy app      ${loaded.config.upstream.url}${demoApp ? ' (bundled demo)' : ''}`,
      `  Admin listener  ${guard.adminUrl} (/healthz, /readyz; support API under /admin/)`,
      generatedToken !== null
        ? `  Admin token     ${generatedToken} (var/admin-token; GUARD_ADMIN_TOKEN overrides)`
        : `  Admin token     from GUARD_ADMIN_TOKEN`,
      `  Codes (outbox)  var/outbox.jsonl — every SMS and email code of the demo lands here`,
      '',
    ].join('\n') + '\n',
  );
  await new Promise<void>((resolve) => guard.server.once('close', () => resolve()));
  return 0;
}

/**
 * `smartpush-guard demo-app`: the bundled legacy app alone, for the deployment examples (deploy/),
 * where it runs as its own container next to the sidecar. SIGTERM/SIGINT close it.
 */
export async function runDemoApp(options: { host: string; port: number }): Promise<number> {
  const app = await startDemoApp(options);
  process.stdout.write(`SmartPush demo app listening on ${app.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => void app.close().then(resolve, resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
