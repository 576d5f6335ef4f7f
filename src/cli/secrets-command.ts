import { parseArgs } from 'node:util';
import { configSecretPlan, formatSecretResults, initSecrets, standardSecretPlan } from './secrets.ts';
import { UsageError } from './policy.ts';

/** `smartpush-guard secrets init [--dir DIR] [--config FILE]`. */
export async function runSecretsCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'init') throw new UsageError(sub ? `unknown secrets command "${sub}"` : 'secrets needs a command: init');
  const { values, positionals } = parseArgs({
    args: [...rest],
    allowPositionals: true,
    options: { dir: { type: 'string', short: 'd' }, config: { type: 'string', short: 'c' } },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values.dir !== undefined && values.config !== undefined) {
    throw new UsageError('give --dir (the standard files in DIR) or --config (the files FILE names), not both');
  }
  if (values.dir === '') throw new UsageError('--dir needs a directory');
  if (values.config !== undefined) {
    const { plan, envOnly } = configSecretPlan(values.config);
    process.stdout.write(formatSecretResults(initSecrets(plan)));
    for (const line of envOnly) process.stdout.write(`note    ${line}\n`);
    if (plan.files.length === 0 && envOnly.length === 0) process.stdout.write(`${values.config} names no session keys, encryption keys or admin token file\n`);
    return 0;
  }
  process.stdout.write(formatSecretResults(initSecrets(standardSecretPlan(values.dir ?? 'var'))));
  return 0;
}
