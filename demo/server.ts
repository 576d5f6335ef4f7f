/**
 * Runs the legacy SmartPush demo app on its own: `npx tsx demo/server.ts`.
 * Listens on 127.0.0.1:${DEMO_PORT:-8081} (the upstream smartpush-guard proxies to).
 */
import { startDemoApp } from './app.ts';

const port = Number(process.env['DEMO_PORT'] ?? 8081);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`[demo-app] invalid DEMO_PORT: ${process.env['DEMO_PORT']}`);
  process.exit(1);
}

const demo = await startDemoApp({ host: '127.0.0.1', port });
console.log(`[demo-app] SmartPush legacy demo listening on ${demo.url}`);

const shutdown = (): void => {
  void demo.close().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
