import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startDemoApp } from '../../demo/app.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import { handleSignals, startGuard } from '../server/start.ts';
import { initSecrets, standardSecretPlan } from './secrets.ts';
import { listenFailure } from './listen-failure.ts';

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
  // New encryption keys only for a new store: over existing data they would lock every TOTP user
  // out (issue 14 item 12; secrets.ts refuses that). Keys made in this run mean a first start, so
  // the store may be created.
  const firstStart = !existsSync(join(ROOT, 'var', 'encryption-keys.json'));
  // The same files `smartpush-guard secrets init` creates. The admin API's token: GUARD_ADMIN_TOKEN
  // when given, else the one in var/ (shared by every demo process of this checkout); the service
  // reads it from the environment, as in production.
  const standard = standardSecretPlan(join(ROOT, 'var'));
  const made = initSecrets({ ...standard, files: standard.files.filter((p) => p.kind !== 'admin-token' || !env['GUARD_ADMIN_TOKEN']) });
  const generatedToken = made.find((r) => r.kind === 'admin-token')?.text.trim() ?? null;
  if (generatedToken !== null) env['GUARD_ADMIN_TOKEN'] = generatedToken;
  const configFile = env['GUARD_CONFIG'] ?? join(ROOT, 'config', 'demo.yaml');
  let loaded = loadConfig(configFile, env);
  const startsApp = !env['GUARD_UPSTREAM'];
  const appPort = env['GUARD_DEMO_APP_PORT'];
  if (startsApp && appPort) {
    if (!/^\d{1,5}$/.test(appPort) || Number(appPort) > 65535) {
      throw new ConfigError([`GUARD_DEMO_APP_PORT: must be a port number (got "${appPort}")`]);
    }
    // The sidecar's upstream follows the demo app to its port.
    const moved = new URL(loaded.config.upstream.url);
    moved.port = appPort;
    loaded = loadConfig(configFile, { ...env, GUARD_UPSTREAM: moved.toString().replace(/\/$/, '') });
  }
  const upstream = new URL(loaded.config.upstream.url);
  let demoApp: Awaited<ReturnType<typeof startDemoApp>> | undefined;
  if (startsApp) {
    const port = Number(upstream.port || 80);
    try {
      demoApp = await startDemoApp({ host: upstream.hostname, port });
    } catch (error) {
      throw listenFailure(error, `the demo app's address ${upstream.hostname}:${port}`, 'GUARD_DEMO_APP_PORT');
    }
  }
  let guard: Awaited<ReturnType<typeof startGuard>>;
  try {
    guard = await startGuard(loaded, { initStore: firstStart || options.initStore === true });
  } catch (error) {
    // The demo app would keep the process alive after a refused start.
    await demoApp?.close();
    const port = (error as { port?: unknown }).port;
    if (port === loaded.config.listen.port) throw listenFailure(error, `the sidecar's address ${loaded.config.listen.host}:${port}`, 'GUARD_PORT');
    if (port === loaded.config.admin.port) throw listenFailure(error, `the admin listener's address ${loaded.config.admin.host}:${port}`, 'GUARD_ADMIN_PORT');
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
