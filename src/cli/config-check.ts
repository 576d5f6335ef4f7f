import { loadConfig } from '../config/load.ts';
import { loadPolicy } from '../policy/load.ts';
import { buildSite } from '../pages/site.ts';
import { NO_UPSTREAM_SESSION, openDirectory } from '../directory/index.ts';

/** `smartpush-guard config check`: the config and the policy it names, validated as `serve` would. */
export async function runConfigCheck(configPath: string): Promise<number> {
  const loaded = loadConfig(configPath);
  const policy = await loadPolicy(loaded.policyPath);
  // The logo file is checked as serve checks it.
  buildSite(loaded.config.product, loaded.file);
  // The directory is opened as serve opens it: a missing SQLite file, a query that does not prepare
  // or an unreadable URL secret fails here too (PostgreSQL/MySQL are not connected to).
  await openDirectory(loaded.config, loaded.file, NO_UPSTREAM_SESSION)?.close();
  process.stdout.write(
    `${loaded.file}: ok (upstream ${loaded.config.upstream.url}, listen ${loaded.config.listen.host}:${loaded.config.listen.port}, ` +
      `admin ${loaded.config.admin.host}:${loaded.config.admin.port}, ${policy.rules.length} policy rules from ${loaded.policyPath})\n`,
  );
  return 0;
}
