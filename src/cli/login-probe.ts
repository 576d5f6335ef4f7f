import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { UpstreamAccount, type ReplayStep } from '../flows/upstream-account.ts';
import { systemClock } from '../core/clock.ts';
import { upstreamAccountConfig } from '../server/options.ts';
import { configPathFrom, UsageError } from './policy.ts';

/**
 * `smartpush-guard login probe`: the configured sign-in, performed once against the upstream,
 * explained step by step (what was sent, with every secret masked; what came back; which predicate
 * held), so a platform engineer can get `login:` right without reading the source.
 */

export const LOGIN_USAGE = `  login probe --config FILE --user U [--host HOST] [--proto http|https]
                                   sign in to the upstream once as the sidecar would, and explain each
                                   step (password from a prompt without echo, or from stdin)
`;

const HELP = `Usage: smartpush-guard login probe --config FILE --user U [--host HOST] [--proto http|https]

Performs the configured login (config login:) against the upstream once, as the sidecar does it
for a browser, and explains step by step what it sent (secrets masked), what came back (status,
Location, cookies by name, the form's hidden fields) and which success or failure predicate held.
A session the probe opens is signed out again when login.logout is configured.

  --config FILE   the sidecar's config (default: $GUARD_CONFIG or config/demo.yaml)
  --user U        the account to sign in with (an email or a username, as login.identifier says)
  --host HOST     the Host the upstream receives (default: public_url's host, else the upstream's)
  --proto P       X-Forwarded-Proto sent upstream (default: public_url's scheme, else the upstream's)

The password is asked for without echo on a terminal, or read from stdin (first line).
Exit status: 0 when the login succeeded, 1 when it did not (wrong password or upstream error), 2 on usage errors.
`;

interface ProbeIo {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** A password typed at a terminal, not echoed; or the first line of piped stdin. */
function readPassword(io: ProbeIo, prompt: string): Promise<string> {
  const { stdin } = io;
  if (stdin.isTTY && stdin.setRawMode) {
    io.stderr.write(prompt);
    stdin.setRawMode(true);
    return new Promise((resolve, reject) => {
      let typed = '';
      const done = (error?: Error): void => {
        stdin.setRawMode?.(false);
        stdin.pause();
        stdin.off('data', onData);
        io.stderr.write('\n');
        if (error) reject(error);
        else resolve(typed);
      };
      const onData = (chunk: Buffer): void => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') return done();
          if (char === '\u0003') return done(new UsageError('cancelled'));
          if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
          else typed += char;
        }
      };
      stdin.on('data', onData);
      stdin.resume();
    });
  }
  return new Promise((resolve, reject) => {
    let text = '';
    stdin.setEncoding('utf8');
    stdin.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 4096) reject(new UsageError('the password on stdin is longer than 4096 characters'));
    });
    stdin.once('end', () => resolve(text.split(/\r?\n/, 1)[0] ?? ''));
    stdin.once('error', reject);
  });
}

function describeStep(step: ReplayStep, index: number): string {
  const lines: string[] = [`${index}. ${step.title}`];
  const row = (label: string, text: string): void => {
    lines.push(`   ${label.padEnd(9)} ${text}`);
  };
  row('sent:', `${step.request.method} ${step.request.path}`);
  for (const [name, value] of Object.entries(step.request.headers)) row('', `${name}: ${value}`);
  if (step.request.fields) row('', `fields: ${step.request.fields.map(([n, v]) => `${n}=${v}`).join(', ') || '(none)'}`);
  if (step.response) {
    row('got:', `${step.response.status}${step.response.location ? ` → ${step.response.location}` : ''}`);
    row('cookies:', step.response.cookies.length > 0 ? step.response.cookies.join(', ') : '(none set)');
    if (step.response.form) {
      const f = step.response.form;
      row('form:', `${f.method} ${f.action || '(this page)'} · fields copied: ${f.fields.length > 0 ? f.fields.join(', ') : '(none)'}`);
    }
  }
  if (step.checks) {
    step.checks.forEach((check, i) => row(i === 0 ? 'checks:' : '', `${check.holds ? '✓' : '✗'} ${check.predicate} (got ${check.actual})`));
  }
  if (step.problem) row('problem:', step.problem);
  return lines.join('\n');
}

export async function runLoginCommand(args: readonly string[], io: ProbeIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  if (sub !== 'probe') throw new UsageError(sub ? `unknown login command "${sub}"` : 'login needs a command: probe');
  const { values } = parseArgs({
    args: [...rest],
    options: {
      config: { type: 'string', short: 'c' },
      user: { type: 'string', short: 'u' },
      host: { type: 'string' },
      proto: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!values.user) throw new UsageError('login probe needs --user (the account to sign in with)');
  if (values.proto !== undefined && values.proto !== 'http' && values.proto !== 'https') throw new UsageError(`--proto must be http or https (got "${values.proto}")`);
  if (values.host !== undefined && !/^[A-Za-z0-9.[\]:-]+$/.test(values.host)) throw new UsageError(`--host must be a host name with an optional port (got "${values.host}")`);
  const loaded = loadConfig(configPathFrom(values.config));
  const password = await readPassword(io, `Password for ${values.user}: `);
  if (password.length === 0) throw new UsageError('no password given');

  const config = upstreamAccountConfig(loaded.config, systemClock);
  const account = new UpstreamAccount(config);
  const context = {
    forwardedFor: '127.0.0.1',
    requestId: 'login-probe',
    userAgent: 'smartpush-guard login probe',
    host: values.host ?? config.defaultHost,
    proto: (values.proto as 'http' | 'https' | undefined) ?? config.defaultProto,
  };
  const out = (text: string): void => {
    io.stdout.write(`${text}\n`);
  };
  let steps = 0;
  const trace = (step: ReplayStep): void => out(`${describeStep(step, ++steps)}\n`);
  out(`Login probe: ${values.user} at ${loaded.config.upstream.url} (Host: ${context.host}, X-Forwarded-Proto: ${context.proto})\n`);
  try {
    const result = await account.checkPassword(values.user, password, context, trace);
    if (result.ok) {
      out(`Result: success — the upstream accepted the password; session cookie(s) bound: ${Object.keys(result.upstreamCookies).join(', ')}.`);
      if (account.replaysLogout) {
        out('\nSigning the probe\'s session out again (login.logout):\n');
        const logout = await account.logout(result.upstreamCookies, context, trace);
        out(logout.ok ? `Logout: done (${logout.how.replace('_', ' ')}).` : `Logout: NOT confirmed — ${logout.detail}. Check login.logout.`);
      }
      return 0;
    }
    switch (result.reason) {
      case 'rejected':
        out('Result: wrong password — the configured failure signal matched (the sidecar counts this towards lock-outs).');
        break;
      case 'unavailable':
        out(`Result: upstream unavailable — ${result.detail}. Check upstream.url and that the app is running.`);
        break;
      case 'upstream_error':
        out(
          `Result: upstream error — ${result.detail}.\n` +
            'Neither login.success nor the failure signal matched, so the sidecar would answer 502 upstream_error and count nothing.\n' +
            'Common causes: a CSRF check (set login.upstream.form), a host allow-list (the app must accept the Host above),\n' +
            'a different success redirect (login.success.location) or session cookie name (login.success.cookie).',
        );
        break;
    }
    return 1;
  } finally {
    account.close();
  }
}
