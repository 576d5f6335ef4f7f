import { loadConfig } from '../config/load.ts';
import { handleSignals, startGuard } from '../server/start.ts';

/** `smartpush-guard serve`: runs until SIGTERM/SIGINT, then drains and exits. */
export async function runServe(configPath: string): Promise<number> {
  const loaded = loadConfig(configPath);
  const guard = await startGuard(loaded);
  handleSignals(guard);
  await new Promise<void>((resolve) => guard.server.once('close', () => resolve()));
  return 0;
}
