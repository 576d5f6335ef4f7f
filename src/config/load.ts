import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.ts';

/** A config that cannot be used; every issue names the key (and its place in the file) and the problem. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(issues.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the config file; relative paths inside it are resolved against its folder. */
  readonly file: string;
  readonly policyPath: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Environment variables of DESIGN §5 that override the file, so one image serves every deployment. */
const ENV_OVERRIDES: ReadonlyArray<{ name: string; key: readonly string[]; parse: (v: string) => unknown }> = [
  { name: 'GUARD_PORT', key: ['listen', 'port'], parse: parsePort },
  { name: 'GUARD_ADMIN_PORT', key: ['admin', 'port'], parse: parsePort },
  { name: 'GUARD_UPSTREAM', key: ['upstream', 'url'], parse: (v) => v },
  { name: 'GUARD_WORKERS', key: ['workers'], parse: parsePort },
];

function parsePort(value: string): unknown {
  // A non-numeric value is passed through as text so the schema reports it against the variable.
  return /^\d+$/.test(value) ? Number(value) : value;
}

function setIn(target: Record<string, unknown>, key: readonly string[], value: unknown): void {
  let node = target;
  for (const part of key.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[key[key.length - 1] as string] = value;
}

export function loadConfig(file: string, env: Env = process.env): LoadedConfig {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError([`${file}: cannot read config file (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  return parseConfig(text, absolute, env);
}

const MAX_ALIAS_COUNT = 100;

/** A YAML document that cannot be turned into values, in words (never a stack trace). */
function yamlFailure(error: unknown): string {
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'YAML: the document is nested too deeply';
  if (error instanceof ReferenceError && /alias/i.test(error.message)) {
    return `YAML: too many aliases (more than ${MAX_ALIAS_COUNT}; an alias bomb expands exponentially)`;
  }
  return `YAML: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
}

export function parseConfig(text: string, file: string, env: Env = process.env): LoadedConfig {
  const lines = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError([`${file}: ${yamlFailure(error)}`]);
  }
  const where = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const pos = lines.linePos(offset);
    return `${file}:${pos.line}:${pos.col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${where(e.pos[0])}: ${/call stack/i.test(e.message) ? 'YAML: the document is nested too deeply' : e.message.split('\n')[0]}`));
  }
  let raw: unknown;
  try {
    // Aliases could expand exponentially ("billion laughs"); a config has no use for many.
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (error) {
    throw new ConfigError([`${file}: ${yamlFailure(error)}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([`${file}: the config must be a YAML mapping`]);
  }
  const input = raw as Record<string, unknown>;
  const fromEnv = new Map<string, string>();
  for (const o of ENV_OVERRIDES) {
    const value = env[o.name];
    if (value === undefined || value === '') continue;
    setIn(input, o.key, o.parse(value));
    fromEnv.set(o.key.join('.'), o.name);
  }
  const redisUrl = env['GUARD_REDIS_URL'];
  if (redisUrl !== undefined && redisUrl !== '') {
    // The URL may carry a password, so it stays a secret reference, read when connecting.
    const store = (typeof input['store'] === 'object' && input['store'] !== null ? input['store'] : {}) as Record<string, unknown>;
    const redis = (typeof store['redis'] === 'object' && store['redis'] !== null ? store['redis'] : {}) as Record<string, unknown>;
    delete redis['sentinel'];
    delete redis['cluster'];
    input['store'] = { ...store, kind: 'redis', redis: { ...redis, url: { env: 'GUARD_REDIS_URL' } } };
    fromEnv.set('store.redis.url', 'GUARD_REDIS_URL');
  }
  const adminToken = env['GUARD_ADMIN_TOKEN'];
  if (adminToken !== undefined && adminToken !== '') {
    const problem = adminTokenProblem(adminToken);
    if (problem !== null) throw new ConfigError([`GUARD_ADMIN_TOKEN: ${problem}`]);
    // Like the Redis URL, the token stays a reference: it is read when the service starts.
    const admin = (typeof input['admin'] === 'object' && input['admin'] !== null ? input['admin'] : {}) as Record<string, unknown>;
    const tokens = Array.isArray(admin['tokens']) ? (admin['tokens'] as unknown[]) : [];
    const others = tokens.filter((t) => !(typeof t === 'object' && t !== null && (t as { name?: unknown }).name === 'env'));
    input['admin'] = { ...admin, tokens: [...others, { name: 'env', token: { env: 'GUARD_ADMIN_TOKEN' } }] };
  }
  let result: ReturnType<typeof configSchema.safeParse>;
  try {
    result = configSchema.safeParse(input);
  } catch (error) {
    throw new ConfigError([`${file}: ${yamlFailure(error)}`]);
  }
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => describeIssue(issue, doc, where, fromEnv)));
  }
  const config = result.data;
  return { config, file, policyPath: resolve(dirname(file), config.policy) };
}

function describeIssue(
  issue: z.core.$ZodIssue,
  doc: ReturnType<typeof parseDocument>,
  where: (offset: number | undefined) => string,
  fromEnv: ReadonlyMap<string, string>,
): string {
  const path = issue.path.map(String);
  const key = path.join('.') || '(top level)';
  const envName = fromEnv.get(key);
  if (envName) return `${envName}: ${issue.message}`;
  let message = issue.message;
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) message = 'is required but missing';
  if (issue.code === 'unrecognized_keys') {
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    const node = doc.getIn([...path, issue.keys[0] as string], true);
    const keyNode = findKeyNode(doc, path, issue.keys[0] as string);
    return `${where(keyNode ?? (isNode(node) ? node.range?.[0] : undefined))}: ${key === '(top level)' ? '' : key + ': '}${message}`;
  }
  // Point at the deepest node that exists: a missing key is reported where its parent is.
  let offset: number | undefined;
  for (let n = path.length; n >= 0 && offset === undefined; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node)) offset = node.range?.[0];
  }
  return `${where(offset)}: ${key}: ${message}`;
}

function findKeyNode(doc: ReturnType<typeof parseDocument>, path: readonly string[], key: string): number | undefined {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray(parent.items)) {
    for (const pair of parent.items as Array<{ key?: { value?: unknown; range?: [number, number, number] } }>) {
      if (pair.key?.value === key) return pair.key.range?.[0];
    }
  }
  return undefined;
}

/** Admin bearer tokens shorter than this are refused: a token is a password nobody types. */
const MIN_ADMIN_TOKEN_LENGTH = 32;

function adminTokenTooShort(length: number): string {
  return `the admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (got ${length}); generate one with: openssl rand -base64 32`;
}

/** What a bearer token may hold (RFC 6750 b64token): it travels in an HTTP header. */
export const ADMIN_TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Why a token cannot be used, or null when it can. */
export function adminTokenProblem(token: string): string | null {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) return adminTokenTooShort(token.length);
  if (!ADMIN_TOKEN_PATTERN.test(token)) return 'the admin token may hold only letters, digits and -._~+/ (and = at the end): it is sent in an HTTP header';
  return null;
}

/** Reads a secret named by env var or file (relative to the config file); empty values are refused. */
export function resolveSecret(ref: { env: string } | { file: string }, configFile: string, env: Env = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (!value) throw new ConfigError([`environment variable ${ref.env} is not set (a secret the config refers to)`]);
    return value;
  }
  const path = resolve(dirname(configFile), ref.file);
  let value: string;
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new ConfigError([`${path}: cannot read secret file (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  if (!value) throw new ConfigError([`${path}: secret file is empty`]);
  return value;
}

/** Where a secret reference points, for messages: `file /etc/…/keys.json` or `environment variable NAME`. */
export function secretSource(ref: { env: string } | { file: string }, configFile: string): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${resolve(dirname(configFile), ref.file)}`;
}
