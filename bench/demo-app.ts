/**
 * The bundled legacy demo app (demo/app.ts) in its own process, the upstream of the export case.
 */
import { startDemoApp } from '../demo/app.ts';
import { announceReady, exitWithParent, failStartup } from './announce-ready.ts';

exitWithParent();

try {
  const demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
  announceReady(demo.url);
} catch (error) {
  failStartup(error);
}
