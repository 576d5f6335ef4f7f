import { parseArgs } from 'node:util';
import { runServe } from './serve.ts';
import { runDemo, runDemoApp } from './demo.ts';
import { runConfigCheck } from './config-check.ts';
import { runStoreCommand } from './store.ts';
import { ADMIN_USAGE, runAdminCommand } from './admin.ts';
import { LOGIN_USAGE, runLoginCommand } from './login-probe.ts';
import { configPathFrom, runPolicyCommand, UsageError } from './policy.ts';
import { ConfigError } from '../config/load.ts';
import { commandWords, helpFor, wantsHelp } from './help.ts';
import { runSecretsCommand } from './secrets-command.ts';
import { PolicyError } from '../policy/policy-error.ts';
import Database from 'better-sqlite3';
import { SqliteStoreError } from '../store/sqlite-file.ts';
import { SqliteSchemaError } from '../store/sqlite-schema.ts';
import { KeyCheckError } from '../factors/key-check.ts';
import { SecretFileError } from './secrets.ts';

/** `smartpush-guard <command>`: each command returns its exit code; errors are printed plainly. */

const USAGE = `Usage: smartpush-guard <command> [options]

Commands:
  serve [--config FILE] [--init-store] [--workers N]
                                   run the sidecar (GUARD_CONFIG, GUARD_PORT, GUARD_ADMIN_PORT, GUARD_UPSTREAM, GUARD_WORKERS apply);
                                   --init-store: a new deployment, create the SQLite store (refused otherwise when missing or empty);
                                   --workers N: N worker processes on the one port (default: workers in the config, else one per
                                   core; 1 = a single process); worker 1 also runs the admin listener, /metrics sums every worker
  demo [--init-store]              run the bundled demo app with the sidecar in front of it
  demo-app [--host H] [--port P]   run only the bundled legacy demo app (default 127.0.0.1:8081)
  config check [FILE]              validate a config file, its policy and every secret it refers to
                                   (default: $GUARD_CONFIG or config/demo.yaml)
  secrets init [--dir DIR] [--config FILE]
                                   create the missing secret files (session keys, encryption keys,
                                   admin token) in DIR (default var/) or where FILE names them;
                                   mode 0600, never overwrites an existing file
  policy check FILE|DIR            validate route policies
  policy explain [METHOD PATH] | --method GET --path '/x?query' [--policy FILE | --config FILE] [--host H]
                 [--user-state anonymous|authenticated]
                 [--2fa on|off] [--risk low|medium|high] [--fresh] [--grace prompt|skipped|over|exempt] [--json]
                                   show which rule decides a request, and why
  policy test FILE [--policy FILE] run a file of expected policy decisions
  help [COMMAND [SUBCOMMAND]]      this text, or one command's (also: COMMAND --help)
  store migrate --from embedded|redis --to redis|embedded [--config FILE] [--force] [--dry-run]
                                   copy the durable records (2FA, recovery codes, devices, logins)
                                   between the SQLite file and Redis
  store backup --to DIR [--config FILE]
                                   back the durable records up with their encryption keys into a new
                                   folder (SQLite online backup, or Redis exported); checked before done
  store restore --from DIR [--config FILE] [--force]
                                   put a backup back into the config's store (SQLite or Redis);
                                   --force replaces existing data (a SQLite file is kept aside)
${LOGIN_USAGE}${ADMIN_USAGE}`;


export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'help' || wantsHelp(argv)) {
    const words = commandWords(command === 'help' && !wantsHelp(rest) ? rest : argv);
    const help = helpFor(USAGE, words);
    if (help === null) {
      process.stderr.write(`Unknown command: ${words.join(' ')}\n\n${USAGE}`);
      return 2;
    }
    process.stdout.write(help);
    return 0;
  }
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({
        args: [...rest],
        options: { config: { type: 'string', short: 'c' }, 'init-store': { type: 'boolean', default: false }, workers: { type: 'string', short: 'w' } },
      });
      return runServe(configPathFrom(values.config), { initStore: values['init-store'], workers: values.workers });
    }
    case 'demo': {
      const { values } = parseArgs({ args: [...rest], options: { 'init-store': { type: 'boolean', default: false } } });
      return runDemo(process.env, { initStore: values['init-store'] });
    }
    case 'demo-app': {
      const { values } = parseArgs({ args: [...rest], options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8081' } } });
      if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port must be a port number (got "${values.port}")`);
      return runDemoApp({ host: values.host, port: Number(values.port) });
    }
    case 'config': {
      const [sub, ...args] = rest;
      if (sub !== 'check') throw new UsageError(sub ? `unknown config command "${sub}"` : 'config needs a command: check');
      const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
      if (positionals.length > 1) throw new UsageError('config check takes one config file');
      return runConfigCheck(configPathFrom(positionals[0]));
    }
    case 'secrets':
      return runSecretsCommand(rest);
    case 'policy':
      return runPolicyCommand(rest);
    case 'store':
      return runStoreCommand(rest);
    case 'admin':
      return runAdminCommand(rest);
    case 'login':
      return runLoginCommand(rest);
    default:
      break;
  }
  process.stderr.write(command ? `Unknown command: ${argv.join(' ')}\n\n${USAGE}` : USAGE);
  return 2;
}

/** Messages a person can act on; a stack trace only for the unexpected. */
export function describeFailure(error: unknown, argv: readonly string[] = []): { message: string; code: number } {
  // A bad command line gets the usage of the command it was for (all of it when that is unknown).
  const usage = helpFor(USAGE, commandWords(argv)) ?? USAGE;
  if (error instanceof UsageError) return { message: `${error.message}\n\n${usage}`, code: 2 };
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    return { message: `${error.message}\n\n${usage}`, code: 2 };
  }
  if (error instanceof ConfigError || error instanceof PolicyError) return { message: error.message, code: 1 };
  // The store and key refusals are sentences naming the file and what to do (issue 14, items 10–13).
  if (error instanceof SqliteStoreError || error instanceof SqliteSchemaError || error instanceof KeyCheckError || error instanceof SecretFileError) {
    return { message: error.message, code: 1 };
  }
  if (error instanceof Database.SqliteError) return { message: `sqlite: ${error.message} (${error.code})`, code: 1 };
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES') return { message: (error as Error).message, code: 1 };
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return { message: 'input nested too deeply to process (maximum call stack size exceeded)', code: 1 };
  }
  return { message: error instanceof Error ? (error.stack ?? error.message) : String(error), code: 1 };
}

const isEntry = process.argv[1] !== undefined && /smartpush-guard(\.js)?$|cli[\\/]main\.ts$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const failure = describeFailure(error, process.argv.slice(2));
      process.stderr.write(`smartpush-guard: ${failure.message}\n`);
      process.exitCode = failure.code;
    },
  );
}
