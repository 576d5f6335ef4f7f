// Preload (node --import) registering module-log-hooks.mjs with the file named by SPG_MODULE_LOG.
import { register } from 'node:module';

register('./module-log-hooks.mjs', import.meta.url, { data: { file: process.env.SPG_MODULE_LOG } });
