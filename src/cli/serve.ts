import { loadConfig } from '../config/load.ts';
import { handleSignals, startGuard } from '../server/start.ts';

/**
 * `smartpush-guard serve`: runs until SIGTERM/SIGINT, then drains and exits. `initStore` (the
 * `--init-store` flag) says this is a new deployment, so a missing SQLite store may be created.
 */
export async function runServe(configPath: string, options: { readonly initStore?: boolean } = {}): Promise<number> {
  const loaded = loadConfig(configPath);
  const guard = await startGuard(loaded, { initStore: options.initStore === true });
  handleSignals(guard);
  await new Promise<void>((resolve) => guard.server.once('close', () => resolve()));
  return 0;
}
