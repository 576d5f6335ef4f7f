import { describeRememberBrowserPolicy } from '../policy/remember-browser-policy.ts';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { loadPolicy } from '../policy/load.ts';
import { explainRequest, formatExplanation } from '../policy/explain.ts';
import { formatTestReport, runPolicyTests } from '../policy/policy-test.ts';
import type { RiskLevel, UserState } from '../policy/types.ts';

/** Thrown for a command line that cannot be run; main prints it with the usage and exits 2. */
export class UsageError extends Error {}

const DEFAULT_CONFIG = 'config/demo.yaml';

export function configPathFrom(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env['GUARD_CONFIG'] ?? DEFAULT_CONFIG;
}

const RISK_LEVELS: readonly RiskLevel[] = ['low', 'medium', 'high'];

const GRACE_STATES = ['prompt', 'skipped', 'over', 'exempt'] as const;

function userStateFrom(values: { user?: string | undefined; '2fa'?: string | undefined; risk?: string | undefined; fresh?: boolean | undefined; grace?: string | undefined }): UserState {
  const user = values.user ?? 'anonymous';
  if (user !== 'anonymous' && user !== 'authenticated') throw new UsageError(`--user must be anonymous or authenticated (got "${user}")`);
  if (values['2fa'] !== undefined && values['2fa'] !== 'on' && values['2fa'] !== 'off') throw new UsageError(`--2fa must be on or off (got "${values['2fa']}")`);
  if (values.risk !== undefined && !RISK_LEVELS.includes(values.risk as RiskLevel)) throw new UsageError(`--risk must be low, medium or high (got "${values.risk}")`);
  if (values.grace !== undefined && !(GRACE_STATES as readonly string[]).includes(values.grace)) {
    throw new UsageError(`--grace must be prompt, skipped, over or exempt (got "${values.grace}")`);
  }
  if (user === 'anonymous') {
    if (values.grace !== undefined) throw new UsageError('--grace describes a signed-in user without 2FA: add --user authenticated');
    if (values['2fa'] !== undefined || values.risk !== undefined || values.fresh) throw new UsageError('--2fa, --risk and --fresh describe a signed-in user: add --user authenticated');
    return { authenticated: false };
  }
  return {
    authenticated: true,
    twoFactorEnabled: values['2fa'] === 'on',
    ...(values.risk !== undefined ? { risk: values.risk as RiskLevel } : {}),
    fresh: values.fresh === true,
    ...(values.grace !== undefined ? { twoFactorGrace: values.grace as (typeof GRACE_STATES)[number] } : {}),
  };
}

export async function runPolicyCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'check': {
      const { positionals } = parseArgs({ args: [...rest], allowPositionals: true, options: {} });
      const file = positionals[0];
      if (!file || positionals.length > 1) throw new UsageError('policy check takes one policy file or directory');
      const policy = await loadPolicy(file);
      process.stdout.write(`${file}: ok (${policy.rules.length} rules, default ${policy.defaultRule.access})\n`);
      if (policy.rememberBrowser) process.stdout.write(`remember_browser: ${describeRememberBrowserPolicy(policy.rememberBrowser)}\n`);
      return 0;
    }
    case 'explain': {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: {
          policy: { type: 'string', short: 'p' },
          method: { type: 'string', short: 'm' },
          path: { type: 'string' },
          host: { type: 'string' },
          'user-state': { type: 'string' },
          user: { type: 'string' },
          config: { type: 'string', short: 'c' },
          '2fa': { type: 'string' },
          risk: { type: 'string' },
          fresh: { type: 'boolean' },
          grace: { type: 'string' },
          json: { type: 'boolean' },
        },
      });
      // `policy explain GET '/doku.php?do=login'` is the same as --method GET --path '/doku.php?do=login'.
      if (positionals.length > 2) throw new UsageError('policy explain takes at most a method and a path: policy explain GET /path?query');
      if (positionals.length === 2) {
        if (values.method !== undefined || values.path !== undefined) throw new UsageError('give the method and path either as arguments or as --method/--path, not both');
        values.method = positionals[0]!;
        values.path = positionals[1]!;
      } else if (positionals.length === 1) {
        if (values.path !== undefined) throw new UsageError('give the path either as an argument or as --path, not both');
        values.path = positionals[0]!;
      }
      if (!values.path) throw new UsageError('policy explain needs a path: --path /some/path (a query may follow: /doku.php?do=login)');
      const user = userStateFrom({ ...values, user: values['user-state'] ?? values.user });
      // Without --policy, explain the policy the sidecar itself would load.
      const policyPath = values.policy ?? loadConfig(configPathFrom(values.config)).policyPath;
      const policy = await loadPolicy(policyPath);
      const result = explainRequest(policy, {
        method: (values.method ?? 'GET').toUpperCase(),
        rawPath: values.path,
        host: values.host,
        user,
      });
      if (values.json) {
        const { rule, ...rest2 } = result as typeof result & { rule?: { name: string; access: string; source: unknown } };
        const shown = rule ? { ...rest2, rule: { name: rule.name, access: rule.access, source: rule.source } } : rest2;
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      } else {
        process.stdout.write(formatExplanation(result, user));
      }
      return 0;
    }
    case 'test': {
      const { positionals, values } = parseArgs({ args: [...rest], allowPositionals: true, options: { policy: { type: 'string', short: 'p' } } });
      const file = positionals[0];
      if (!file || positionals.length > 1) throw new UsageError('policy test takes one test file');
      const report = await runPolicyTests(file, { policyPath: values.policy });
      process.stdout.write(formatTestReport(report));
      return report.failed === 0 ? 0 : 1;
    }
    default:
      throw new UsageError(sub ? `unknown policy command "${sub}"` : 'policy needs a command: check, explain or test');
  }
}
