import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema, type ConfigInput } from '../../../src/config/schema.ts';

/** The directory: and login.identifier keys, and channels.sms needed only when SMS is a method. */

const BASE = {
  version: 1,
  upstream: { url: 'http://127.0.0.1:8081' },
  policy: 'policy.yaml',
  session: { keys: { env: 'KEYS' } },
  login: { upstream: { path: '/login' }, success: { cookie: 's' } },
  factors: { encryption_keys: { env: 'ENC' } },
  channels: { email: { kind: 'outbox' }, sms: { kind: 'outbox' } },
} as const;

const parse = (extra: Record<string, unknown>) => configSchema.safeParse({ ...BASE, ...extra } as unknown as ConfigInput);
const messages = (extra: Record<string, unknown>): string => {
  const result = parse(extra);
  assert.equal(result.success, false, 'expected a refusal');
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
};

test('existing configs keep working: identifier email, case sensitive, no directory', () => {
  const result = parse({});
  assert.ok(result.success);
  assert.equal(result.data.login.identifier, 'email');
  assert.equal(result.data.login.identifier_case, 'sensitive');
  assert.equal(result.data.directory, undefined);
});

test('channels.sms is optional unless sms is one of factors.methods, and then the error says so', () => {
  const channels = { email: { kind: 'outbox' } };
  assert.ok(parse({ channels, factors: { encryption_keys: { env: 'ENC' }, methods: ['totp', 'email'] } }).success);
  assert.match(messages({ channels }), /channels\.sms: sms is one of factors\.methods, so channels\.sms is required/);
});

test('sql directory: sqlite needs file, postgres/mysql need a url secret reference, the query needs :identifier and must be one SELECT', () => {
  const sql = (d: Record<string, unknown>) => ({ directory: { kind: 'sql', query: 'SELECT email FROM u WHERE name = :identifier', ...d } });
  const ok = parse(sql({ driver: 'sqlite', file: 'db.sqlite3' }));
  assert.ok(ok.success);
  assert.deepEqual(ok.data.directory && 'timeout' in ok.data.directory ? [ok.data.directory.timeout, ok.data.directory.pool] : null, [3000, 2]);
  assert.ok(parse(sql({ driver: 'postgres', url: { env: 'APP_DB_URL' } })).success);
  assert.ok(parse(sql({ driver: 'mysql', url: { file: '../var/app-db-url' } })).success);
  assert.match(messages(sql({ driver: 'sqlite' })), /directory\.file: driver: sqlite needs file/);
  assert.match(messages(sql({ driver: 'postgres' })), /directory\.url: driver: postgres needs url/);
  assert.match(messages(sql({ driver: 'postgres', url: 'postgres://u:p@h/db' })), /directory\.url/);
  assert.match(messages(sql({ driver: 'mysql', url: { env: 'U' }, file: 'x' })), /driver: mysql takes url:, not file:/);
  assert.match(messages(sql({ driver: 'sqlite', file: 'x', query: "SELECT email FROM u WHERE name = 'admin'" })), /:identifier/);
  assert.match(messages(sql({ driver: 'sqlite', file: 'x', query: 'DELETE FROM u WHERE name = :identifier' })), /must be a SELECT/);
  assert.match(messages(sql({ driver: 'sqlite', file: 'x', query: 'SELECT 1 WHERE :identifier = 1; DROP TABLE u' })), /single statement/);
  // A ';' inside a string is not a second statement.
  assert.ok(parse(sql({ driver: 'sqlite', file: 'x', query: "SELECT email FROM u WHERE name = :identifier AND note <> 'a;b'" })).success);
});

test('profile and html directories; login.profile and directory: are not both given', () => {
  assert.ok(parse({ directory: { kind: 'profile', path: '/api/me', identifier_field: 'username' } }).success);
  assert.ok(parse({ directory: { kind: 'html', path: '/account', email: { selector: 'input[name=email]', attribute: 'value' } } }).success);
  assert.match(messages({ directory: { kind: 'html', path: '/account' } }), /give email and\/or phone/);
  assert.match(messages({ directory: { kind: 'html', path: '/account', email: { selector: 'x', pattern: '(' } } }), /valid regular expression/);
  assert.match(messages({ directory: { kind: 'ldap' } }), /directory\.kind/);
  assert.match(
    messages({ login: { ...BASE.login, profile: { path: '/api/me' } }, directory: { kind: 'profile', path: '/api/me' } }),
    /either directory: or login\.profile/,
  );
  assert.match(messages({ login: { ...BASE.login, identifier: 'phone' } }), /login\.identifier/);
});
