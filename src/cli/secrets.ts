import { cryptoRandom } from '../core/random.ts';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { newEncryptionKeys } from '../factors/secret-box.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import { findSecretReferences } from './secrets-check.ts';
import { startLedger } from '../store/store-ledger.ts';

/**
 * Secret files are created once (mode 0600) and never overwritten. Creation is exclusive ('wx'), so
 * when several processes start together in one checkout exactly one writes and all read the same.
 */
/** A secret file that cannot be used as it is (e.g. left empty); the message names it. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError';
}

function createSecretFile(path: string, generate: () => string): { text: string; created: boolean } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let created = false;
  try {
    writeFileSync(path, generate(), { flag: 'wx', mode: 0o600 });
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // A racing writer may not have finished: wait briefly for content rather than read half a file.
  for (let i = 0; i < 50; i++) {
    const text = readFileSync(path, 'utf8');
    if (text.trim().length > 0) return { text, created };
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  throw new SecretFileError(`${path}: the secret file is empty; delete it to have a new one generated (never delete encryption-keys.json over existing data)`);
}

const newSessionKeys = (): string => `${JSON.stringify({ '1': randomBytes(32).toString('base64url') })}\n`;

/** 32 random bytes, base64url: 43 characters, above the 32-character minimum of admin tokens. */
const newAdminToken = (): string => `${randomBytes(32).toString('base64url')}\n`;

type SecretKind = 'session-keys' | 'encryption-keys' | 'admin-token';

const GENERATORS: Readonly<Record<SecretKind, () => string>> = {
  'session-keys': newSessionKeys,
  'encryption-keys': () => `${newEncryptionKeys(cryptoRandom)}\n`,
  'admin-token': newAdminToken,
};

const DESCRIPTIONS: Readonly<Record<SecretKind, string>> = {
  'session-keys': 'session keys',
  'encryption-keys': 'encryption keys of TOTP secrets and code hashes',
  'admin-token': 'admin API token',
};

/** The files `secrets init --dir DIR` creates, as config/demo.yaml and the examples name them. */
const STANDARD_SECRET_FILES: ReadonlyArray<{ kind: SecretKind; name: string }> = [
  { kind: 'session-keys', name: 'session-keys.json' },
  { kind: 'encryption-keys', name: 'encryption-keys.json' },
  { kind: 'admin-token', name: 'admin-token' },
];

interface SecretFileResult {
  readonly kind: SecretKind;
  readonly path: string;
  readonly created: boolean;
  readonly text: string;
}

interface SecretPlan {
  readonly files: ReadonlyArray<{ kind: SecretKind; path: string }>;
  /**
   * The SQLite store sealed with the encryption keys. New keys are never made while it exists:
   * over existing data they would lock every TOTP user out, so the old keys must be restored.
   */
  readonly store?: string | undefined;
}

/** Creates the missing files of `plan`; existing ones are read, never replaced. */
export function initSecrets(plan: SecretPlan): SecretFileResult[] {
  for (const { kind, path } of plan.files) {
    if (kind !== 'encryption-keys' || existsSync(path) || plan.store === undefined) continue;
    if (existsSync(plan.store) && statSync(plan.store).size > 0) {
      throw new ConfigError([
        `${path} is missing but ${plan.store} exists: new encryption keys would make its sealed TOTP secrets and code hashes unreadable. ` +
          `Restore the key file from your backup (or, for a throwaway installation, delete the store too)`,
      ]);
    }
  }
  return plan.files.map(({ kind, path }) => {
    const made = createSecretFile(path, GENERATORS[kind]);
    // New keys have no store yet: the ledger lets the first `serve` create one (store-ledger.ts).
    if (kind === 'encryption-keys' && made.created) startLedger(path);
    return { kind, path, ...made };
  });
}

/** The standard files in `dir`, and the store beside them where config/demo.yaml keeps it. */
export function standardSecretPlan(dir: string): { files: Array<{ kind: SecretKind; path: string }>; store: string } {
  return {
    files: STANDARD_SECRET_FILES.map(({ kind, name }) => ({ kind, path: join(resolve(dir), name) })),
    store: join(resolve(dir), 'guard.db'),
  };
}

/** The generable secrets a config names: files are planned, environment variables only reported. */
export function configSecretPlan(configFile: string): { plan: SecretPlan; envOnly: string[] } {
  const loaded = loadConfig(configFile);
  const plan: Array<{ kind: SecretKind; path: string }> = [];
  const envOnly: string[] = [];
  for (const { key, ref } of findSecretReferences(loaded.config)) {
    const kind: SecretKind | null =
      key === 'session.keys' ? 'session-keys'
        : key === 'factors.encryption_keys' ? 'encryption-keys'
          : /^admin\.tokens\[\d+\]\.token$/.test(key) ? 'admin-token'
            : null;
    if (kind === null) continue;
    if ('file' in ref) plan.push({ kind, path: resolve(dirname(loaded.file), ref.file) });
    else envOnly.push(`${key}: read from the environment variable ${ref.env}; set it yourself (secrets init writes files only)`);
  }
  const store = loaded.config.store.kind === 'embedded' ? resolve(dirname(loaded.file), loaded.config.store.sqlite) : undefined;
  return { plan: { files: plan, store }, envOnly };
}

export function formatSecretResults(results: readonly SecretFileResult[], cwd = process.cwd()): string {
  return results
    .map((r) => {
      const shown = relative(cwd, r.path) || r.path;
      return r.created
        ? `created ${shown} (${DESCRIPTIONS[r.kind]}, mode 0600)\n`
        : `kept    ${shown} (${DESCRIPTIONS[r.kind]}: exists, never overwritten)\n`;
    })
    .join('');
}
