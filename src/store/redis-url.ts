import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../config/load.ts';
import type { RedisSettings } from './redis-connection.ts';

/* Reading the store.redis settings that need care: URLs (never shown in messages), node addresses, TLS files. */

/** Where a URL setting came from, for messages that must not show the URL itself. */
export function describeSource(url: NonNullable<RedisSettings['url']>, configFile: string): string {
  if (typeof url === 'string') return 'store.redis.url';
  if ('env' in url) return `environment variable ${url.env}`;
  return `store.redis.url (secret file ${resolve(dirname(configFile), url.file)})`;
}

interface ParsedRedisUrl {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
}

/** redis[s]://[[user]:password@]host[:port][/db]; anything else is refused, naming `source` only. */
export function parseRedisUrl(text: string, source: string, mayCarryPassword: boolean): ParsedRedisUrl {
  const invalid = (why: string): ConfigError => new ConfigError([`${source}: ${why}`]);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('is not a valid URL (expected redis://host:port/db or rediss://…)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalid('must start with redis:// or rediss://');
  if (url.hostname === '') throw invalid('has no host name');
  if (url.search !== '' || url.hash !== '') throw invalid('must not have a query (?…) or fragment (#…); options go in the store.redis section');
  const path = url.pathname === '' ? '/' : url.pathname;
  const dbMatch = /^\/(\d{1,5})?$/.exec(path);
  if (!dbMatch) throw invalid('path must be a database number such as /0');
  const password = url.password === '' ? undefined : decode(url.password, invalid);
  const username = url.username === '' ? undefined : decode(url.username, invalid);
  if (password !== undefined && !mayCarryPassword) {
    throw invalid('must not carry a password in the config file; use password: {env: …} or {file: …}, or give the whole URL as a secret reference');
  }
  if (username !== undefined && password === undefined) throw invalid('names a user but no password');
  return {
    tls: url.protocol === 'rediss:',
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? 6379 : Number(url.port),
    db: dbMatch[1] === undefined ? 0 : Number(dbMatch[1]),
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

export function decode(part: string, invalid: (why: string) => ConfigError): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid('has a badly percent-encoded user or password');
  }
}

export function hostPort(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  const host = node.slice(0, at);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(node.slice(at + 1)) };
}

export function tlsOptions(settings: RedisSettings, configFile: string): ConnectionOptions | undefined {
  const tls = settings.tls;
  if (tls === undefined) return undefined;
  const pem = (what: string, file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    const path = resolve(dirname(configFile), file);
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError([`store.redis.tls.${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
    }
  };
  const ca = pem('ca', tls.ca);
  const cert = pem('cert', tls.cert);
  const key = pem('key', tls.key);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
  };
}
