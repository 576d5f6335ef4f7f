import { loadConfig } from '../config/load.ts';
import { loadPolicy } from '../policy/load.ts';
import { buildSite } from '../pages/site.ts';

/** `smartpush-guard config check`: the config and the policy it names, validated as `serve` would. */
export async function runConfigCheck(configPath: string): Promise<number> {
  const loaded = loadConfig(configPath);
  const policy = await loadPolicy(loaded.policyPath);
  // The logo file is checked as serve checks it.
  buildSite(loaded.config.product, loaded.file);
  process.stdout.write(
    `${loaded.file}: ok (upstream ${loaded.config.upstream.url}, listen ${loaded.config.listen.host}:${loaded.config.listen.port}, ` +
      `admin ${loaded.config.admin.host}:${loaded.config.admin.port}, ${policy.rules.length} policy rules from ${loaded.policyPath})\n`,
  );
  return 0;
}
