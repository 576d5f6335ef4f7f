import { loadConfig } from '../config/load.ts';
import { handleSignals, startGuard } from '../server/start.ts';
import { listenFailure } from './listen-failure.ts';

/**
 * `smartpush-guard serve`: runs until SIGTERM/SIGINT, then drains and exits. `initStore` (the
 * `--init-store` flag) says this is a new deployment, so a missing SQLite store may be created.
 */
export async function runServe(configPath: string, options: { readonly initStore?: boolean } = {}): Promise<number> {
  const loaded = loadConfig(configPath);
  let guard: Awaited<ReturnType<typeof startGuard>>;
  try {
    guard = await startGuard(loaded, { initStore: options.initStore === true });
  } catch (error) {
    const { listen, admin } = loaded.config;
    const port = (error as { port?: unknown }).port;
    if (port === listen.port) throw listenFailure(error, `the sidecar's address ${listen.host}:${port}`, 'GUARD_PORT (or listen.port)');
    if (port === admin.port) throw listenFailure(error, `the admin listener's address ${admin.host}:${port}`, 'GUARD_ADMIN_PORT (or admin.port)');
    throw error;
  }
  handleSignals(guard);
  await new Promise<void>((resolve) => guard.server.once('close', () => resolve()));
  return 0;
}
