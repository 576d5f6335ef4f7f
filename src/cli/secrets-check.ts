/**
 * Every secret a config refers to (`{env: NAME}` or `{file: path}`), found by walking the validated
 * config so a key added later is covered without a list to forget, and checked the way the
 * service reads it: present, not empty, and parsing where the value has a format.
 */
import { parseEncryptionKeys } from '../factors/secret-box.ts';
import { parseSessionKeys } from '../session/keys.ts';
import { adminTokenProblem, ConfigError, resolveSecret } from '../config/load.ts';
import type { LoadedConfig } from '../config/load.ts';

type SecretRef = { readonly env: string } | { readonly file: string };

interface SecretReference {
  /** Where the reference is written, e.g. `session.keys` or `admin.tokens[0].token`. */
  readonly key: string;
  readonly ref: SecretRef;
}

function isSecretRef(value: unknown): value is SecretRef {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  const only = keys[0]!;
  return (only === 'env' || only === 'file') && typeof (value as Record<string, unknown>)[only] === 'string';
}

/** Objects shaped like a reference that are plain files, not secrets (`audit: {file: …}` as written). */
const NOT_SECRETS = new Set(['audit']);

export function findSecretReferences(config: unknown): SecretReference[] {
  const found: SecretReference[] = [];
  const walk = (value: unknown, key: string): void => {
    if (NOT_SECRETS.has(key)) return;
    if (isSecretRef(value)) {
      found.push({ key, ref: value });
      return;
    }
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${key}[${i}]`));
    else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, key ? `${key}.${k}` : k);
    }
  };
  walk(config, '');
  return found;
}

/** How the service reads the secret at `key`: throws with a message when it would refuse it. */
function parserFor(key: string): ((text: string) => void) | null {
  if (key === 'session.keys') return (text) => void parseSessionKeys(text);
  if (key === 'factors.encryption_keys') return (text) => void parseEncryptionKeys(text);
  if (/^admin\.tokens\[\d+\]\.token$/.test(key)) {
    return (text) => {
      const problem = adminTokenProblem(text);
      if (problem !== null) throw new Error(problem);
    };
  }
  if (key === 'store.redis.url') {
    return (text) => {
      if (!/^rediss?:\/\//.test(text)) throw new Error('must start with redis:// or rediss://');
    };
  }
  return null;
}

/** One line per problem (`key: what is wrong`); empty when every referenced secret is usable. */
export function checkSecrets(loaded: LoadedConfig, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const problems: string[] = [];
  for (const { key, ref } of findSecretReferences(loaded.config)) {
    let text: string;
    try {
      text = resolveSecret(ref, loaded.file, env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(`${key}: ${error.issues.join('; ')}`);
      continue;
    }
    const parse = parserFor(key);
    if (!parse) continue;
    try {
      parse(text);
    } catch (error) {
      // Parsers never quote the secret (see secret-box.ts, keys.ts), so their message can be shown.
      problems.push(`${key} (${'env' in ref ? `environment variable ${ref.env}` : ref.file}): ${(error as Error).message}`);
    }
  }
  return problems;
}
