import { parseArgs } from 'node:util';
import { runServe } from './serve.ts';
import { runDemo, runDemoApp } from './demo.ts';
import { runConfigCheck } from './config-check.ts';
import { runStoreCommand } from './store.ts';
import { ADMIN_USAGE, runAdminCommand } from './admin.ts';
import { LOGIN_USAGE, runLoginCommand } from './login-probe.ts';
import { configPathFrom, runPolicyCommand, UsageError } from './policy.ts';
import { ConfigError } from '../config/load.ts';
import { PolicyError } from '../policy/policy-error.ts';

/** `smartpush-guard <command>`: each command returns its exit code; errors are printed plainly. */

const USAGE = `Usage: smartpush-guard <command> [options]

Commands:
  serve [--config FILE]            run the sidecar (GUARD_CONFIG, GUARD_PORT, GUARD_ADMIN_PORT, GUARD_UPSTREAM apply)
  demo                             run the bundled demo app with the sidecar in front of it
  demo-app [--host H] [--port P]   run only the bundled legacy demo app (default 127.0.0.1:8081)
  config check [FILE]              validate a config file (default: $GUARD_CONFIG or config/demo.yaml)
  policy check FILE|DIR            validate route policies
  policy explain --method GET --path /x [--policy FILE | --config FILE] [--host H]
                 [--user-state anonymous|authenticated]
                 [--2fa on|off] [--risk low|medium|high] [--fresh] [--json]
                                   show which rule decides a request, and why
  policy test FILE [--policy FILE] run a file of expected policy decisions
  store migrate --from embedded|redis --to redis|embedded [--config FILE] [--force] [--dry-run]
                                   copy the durable records (2FA, recovery codes, devices, logins)
                                   between the SQLite file and Redis
${LOGIN_USAGE}${ADMIN_USAGE}`;


export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: [...rest], options: { config: { type: 'string', short: 'c' } } });
      return runServe(configPathFrom(values.config));
    }
    case 'demo':
      parseArgs({ args: [...rest], options: {} });
      return runDemo();
    case 'demo-app': {
      const { values } = parseArgs({ args: [...rest], options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8081' } } });
      if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port must be a port number (got "${values.port}")`);
      return runDemoApp({ host: values.host, port: Number(values.port) });
    }
    case 'config': {
      const [sub, ...args] = rest;
      if (sub !== 'check') throw new UsageError(sub ? `unknown config command "${sub}"` : 'config needs a command: check');
      const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
      return runConfigCheck(configPathFrom(positionals[0]));
    }
    case 'policy':
      return runPolicyCommand(rest);
    case 'store':
      return runStoreCommand(rest);
    case 'admin':
      return runAdminCommand(rest);
    case 'login':
      return runLoginCommand(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      break;
  }
  process.stderr.write(command ? `Unknown command: ${argv.join(' ')}\n\n${USAGE}` : USAGE);
  return 2;
}

/** Messages a person can act on; a stack trace only for the unexpected. */
export function describeFailure(error: unknown): { message: string; code: number } {
  if (error instanceof UsageError) return { message: `${error.message}\n\n${USAGE}`, code: 2 };
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    return { message: `${error.message}\n\n${USAGE}`, code: 2 };
  }
  if (error instanceof ConfigError || error instanceof PolicyError) return { message: error.message, code: 1 };
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES') return { message: (error as Error).message, code: 1 };
  return { message: error instanceof Error ? (error.stack ?? error.message) : String(error), code: 1 };
}

const isEntry = process.argv[1] !== undefined && /smartpush-guard(\.js)?$|cli[\\/]main\.ts$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const failure = describeFailure(error);
      process.stderr.write(`smartpush-guard: ${failure.message}\n`);
      process.exitCode = failure.code;
    },
  );
}
