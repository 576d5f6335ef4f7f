import { ConfigError, loadConfig } from '../config/load.ts';
import { checkSecrets, findSecretReferences } from './secrets-check.ts';
import { loadPolicy } from '../policy/load.ts';
import { buildSite } from '../pages/site.ts';
import { NO_UPSTREAM_SESSION, openDirectory } from '../directory/index.ts';
import { requireTwoFactorRoleProblem } from '../policy/require-two-factor.ts';

/**
 * `smartpush-guard config check`: the config, the policy it names and every secret it refers to,
 * validated as `serve` would read them, so "ok" means the service can start with this config.
 */
export async function runConfigCheck(configPath: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const loaded = loadConfig(configPath, env);
  const policy = await loadPolicy(loaded.policyPath);
  // The logo file is checked as serve checks it.
  buildSite(loaded.config.product, loaded.file);
  // The directory is opened as serve opens it: a missing SQLite file, a query that does not prepare
  // or an unreadable URL secret fails here too (PostgreSQL/MySQL are not connected to).
  const directory = openDirectory(loaded.config, loaded.file, NO_UPSTREAM_SESSION);
  await directory?.close();
  // require_2fa.roles needs a directory that gives roles, as serve checks it.
  const roleProblem = requireTwoFactorRoleProblem(policy, { configured: directory !== null, providesRoles: directory?.providesRoles === true });
  if (roleProblem !== null) throw new ConfigError([`${loaded.file}: ${roleProblem}`]);
  const problems = checkSecrets(loaded, env);
  if (problems.length > 0) {
    throw new ConfigError([
      ...problems.map((p) => `${loaded.file}: ${p}`),
      `(missing secret files: smartpush-guard secrets init creates session keys, encryption keys and the admin token)`,
    ]);
  }
  process.stdout.write(
    `${loaded.file}: ok (upstream ${loaded.config.upstream.url}, listen ${loaded.config.listen.host}:${loaded.config.listen.port}, ` +
      `admin ${loaded.config.admin.host}:${loaded.config.admin.port}, ${policy.rules.length} policy rules from ${loaded.policyPath}, ` +
      `${checkedCount(loaded)} secrets readable)\n`,
  );
  return 0;
}

const checkedCount = (loaded: ReturnType<typeof loadConfig>): number => findSecretReferences(loaded.config).length;
