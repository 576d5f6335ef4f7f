import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { ManualClock, systemClock } from '../../../src/core/clock.ts';
import { SqliteDurableStore } from '../../../src/store/sqlite.ts';
import { SQLITE_SCHEMA_VERSION, SqliteSchemaError } from '../../../src/store/sqlite-schema.ts';
import { emailEnrollment, runDurableStoreContract, smsEnrollment, totpEnrollment } from '../../helpers/durable-contract.ts';

const T0 = Date.UTC(2026, 0, 1);
/** A keepUntil no real clock reaches during the tests. */
const KEEP = Date.UTC(2100, 0, 1);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SQLITE_MODULE = pathToFileURL(join(ROOT, 'src/store/sqlite.ts')).href;
const CLOCK_MODULE = pathToFileURL(join(ROOT, 'src/core/clock.ts')).href;

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'guard-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `fn` with a fresh temp directory that is removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const { dir, remove } = tempDir();
  try {
    await fn(dir);
  } finally {
    remove();
  }
}

/** A second, raw connection for looking behind the store's back. */
function raw(file: string): Database.Database {
  return new Database(file);
}

const mode = (path: string): number => statSync(path).mode & 0o777;

runDurableStoreContract('SqliteDurableStore (file)', async () => {
  const { dir, remove } = tempDir();
  const store = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
  return {
    store,
    cleanup: async () => {
      await store.close();
      remove();
    },
  };
});

runDurableStoreContract('SqliteDurableStore (:memory:)', async () => {
  const store = SqliteDurableStore.open(':memory:', { clock: systemClock });
  return { store, cleanup: () => store.close() };
});

describe('SqliteDurableStore: the file', () => {
  test('creates missing directories (0700) and the file (0600); -wal and -shm are 0600 too', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'a', 'b', 'guard.db');
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        await store.enable(totpEnrollment('zoe@example.com'), ['h1']);
        assert.equal(mode(join(dir, 'a')), 0o700);
        assert.equal(mode(join(dir, 'a', 'b')), 0o700);
        assert.equal(mode(file), 0o600);
        for (const side of ['-wal', '-shm']) {
          assert.ok(existsSync(file + side), `WAL mode creates ${side}`);
          assert.equal(mode(file + side), 0o600, `${side} is owner-only`);
        }
      } finally {
        await store.close();
      }
    }));

  test('an existing file with looser permissions is tightened to 0600', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      writeFileSync(file, '');
      chmodSync(file, 0o644);
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      await store.close();
      assert.equal(mode(file), 0o600);
    }));

  test('uses WAL, synchronous FULL, foreign keys and a busy timeout', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        assert.deepEqual(store.settings(), {
          journalMode: 'wal',
          synchronous: 'FULL', // see the comment in open(): NORMAL could un-use a recovery code on power loss
          foreignKeys: true,
          busyTimeoutMs: 5000,
          schemaVersion: SQLITE_SCHEMA_VERSION,
        });
        const db = raw(file);
        try {
          assert.equal(db.pragma('journal_mode', { simple: true }), 'wal', 'WAL is recorded in the file');
        } finally {
          db.close();
        }
        // foreign_keys = ON is what makes disable cascade to the recovery codes (checked in the contract).
        const memory = SqliteDurableStore.open(':memory:', { clock: systemClock });
        assert.equal(memory.settings().journalMode, 'memory', 'an in-memory store has no WAL');
        assert.equal(memory.settings().foreignKeys, true);
        await memory.close();
      } finally {
        await store.close();
      }
    }));

  test('a file that is not an SQLite database is refused', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      writeFileSync(file, 'this is not a database, it is a text file with enough bytes in it to have a header');
      assert.throws(() => SqliteDurableStore.open(file, { clock: systemClock }), /not a database/i);
    }));
});

describe('SqliteDurableStore: migrations', () => {
  test('an empty file is migrated to the current schema version', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      writeFileSync(file, '');
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      await store.close();
      const db = raw(file);
      try {
        assert.equal(SQLITE_SCHEMA_VERSION, 7);
        assert.equal(db.pragma('user_version', { simple: true }), SQLITE_SCHEMA_VERSION);
        const tables = db
          .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .all()
          .map((r) => r.name);
        assert.deepEqual(tables, ['audit_events', 'enrollments', 'key_checks', 'known_devices', 'login_history', 'passkeys', 'password_fingerprints', 'recovery_codes', 'remembered_browsers', 'used_totp_steps']);
        const columns = db
          .prepare<[], { name: string; notnull: number; pk: number }>("SELECT name, \"notnull\", pk FROM pragma_table_info('enrollments')")
          .all();
        assert.deepEqual(
          columns.map((c) => c.name),
          ['user', 'method', 'destination', 'totp_key_id', 'totp_secret', 'totp_algorithm', 'totp_digits', 'totp_period', 'created_at', 'updated_at'],
        );
      } finally {
        db.close();
      }
      // Opening again applies nothing twice.
      const again = SqliteDurableStore.open(file, { clock: systemClock });
      await again.enable(emailEnrollment('zoe@example.com'), ['h']);
      await again.close();
    }));

  test('a file from a newer build (higher user_version) is refused with a clear error and left untouched', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const db = raw(file);
      db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
      db.close();
      assert.throws(
        () => SqliteDurableStore.open(file, { clock: systemClock }),
        (error: unknown) =>
          error instanceof SqliteSchemaError &&
          error.message.includes(`schema version ${SQLITE_SCHEMA_VERSION + 1}`) &&
          error.message.includes(`only knows up to ${SQLITE_SCHEMA_VERSION}`),
      );
      const after = raw(file);
      try {
        assert.equal(after.pragma('user_version', { simple: true }), SQLITE_SCHEMA_VERSION + 1);
        assert.equal(after.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").pluck().get(), 0, 'no tables were created');
        after.exec('CREATE TABLE probe (x)'); // the refused open did not leave a lock behind
      } finally {
        after.close();
      }
    }));

  test('processes opening one fresh file at the same moment migrate it once and all work', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'fresh', 'guard.db');
      const script = `
        const { SqliteDurableStore } = await import(${JSON.stringify(SQLITE_MODULE)});
        const { systemClock } = await import(${JSON.stringify(CLOCK_MODULE)});
        const [file, user] = process.argv.slice(-2);
        await ready();
        const store = SqliteDurableStore.open(file, { clock: systemClock });
        await store.enable({ user, method: 'email', destination: user, totp: null, createdAt: 1, updatedAt: 1 }, [user]);
        await store.close();
        console.log(JSON.stringify({ ok: true }));
      `;
      const users = Array.from({ length: 6 }, (_, i) => `p${i}@example.com`);
      const outputs = await runTogether(users.map((user) => [script, file, user]));
      assert.deepEqual(outputs, users.map(() => ({ ok: true })));
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        for (const user of users) assert.deepEqual(await store.getEnrollment(user), emailEnrollment(user, { createdAt: 1, updatedAt: 1 }));
      } finally {
        await store.close();
      }
    }));
});

describe('SqliteDurableStore: durability and atomicity', () => {
  test('everything survives closing and reopening the file', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const enrollment = totpEnrollment('zoe@example.com', {
        totp: { secret: { keyId: '3', data: 'c2VjcmV0' }, parameters: { algorithm: 'SHA256', digits: 8, period: 60 } },
      });
      const first = SqliteDurableStore.open(file, { clock: systemClock });
      await first.enable(enrollment, ['h0', 'h1', 'h2']);
      await first.enable(smsEnrollment('sam@example.com'), ['s0']);
      assert.equal(await first.consumeRecoveryCode('zoe@example.com', 'h1', T0), true);
      assert.equal(await first.useTotpStep('zoe@example.com', 777, KEEP), true);
      await first.close();

      const second = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        assert.deepEqual(await second.getEnrollment('zoe@example.com'), enrollment);
        assert.deepEqual(await second.getEnrollment('sam@example.com'), smsEnrollment('sam@example.com'));
        assert.equal(await second.remainingRecoveryCodes('zoe@example.com'), 2);
        assert.equal(await second.consumeRecoveryCode('zoe@example.com', 'h1', T0), false, 'a used code stays used');
        assert.equal(await second.consumeRecoveryCode('zoe@example.com', 'h2', T0), true, 'an unused one still works');
        assert.equal(await second.useTotpStep('zoe@example.com', 777, KEEP), false, 'a used step stays used');
      } finally {
        await second.close();
      }
    }));

  test('a failure in the middle of enable writes nothing (new user)', () =>
    inTempDir(async (dir) => {
      const store = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
      try {
        // The duplicate hash violates the primary key after the enrollment row was written.
        await assert.rejects(store.enable(totpEnrollment('zoe@example.com'), ['h0', 'h1', 'h0']), /UNIQUE|PRIMARY KEY/);
        assert.equal(await store.getEnrollment('zoe@example.com'), null, 'no half-enabled account');
        assert.equal(await store.remainingRecoveryCodes('zoe@example.com'), 0);
      } finally {
        await store.close();
      }
    }));

  test('a failure in the middle of enable keeps the previous enrollment and codes (re-enable)', () =>
    inTempDir(async (dir) => {
      const store = SqliteDurableStore.open(join(dir, 'guard.db'), { clock: systemClock });
      try {
        const before = smsEnrollment('zoe@example.com');
        await store.enable(before, ['old0', 'old1', 'old2']);
        await store.consumeRecoveryCode('zoe@example.com', 'old0', T0);
        await assert.rejects(store.enable(totpEnrollment('zoe@example.com', { updatedAt: T0 + 1 }), ['n0', 'n1', 'n1']));
        assert.deepEqual(await store.getEnrollment('zoe@example.com'), before);
        assert.equal(await store.remainingRecoveryCodes('zoe@example.com'), 2);
        assert.equal(await store.consumeRecoveryCode('zoe@example.com', 'old0', T0), false, 'the used code is still used');
        assert.equal(await store.consumeRecoveryCode('zoe@example.com', 'old1', T0), true);
        assert.equal(await store.consumeRecoveryCode('zoe@example.com', 'n0', T0), false, 'no new code leaked in');
        await assert.rejects(store.replaceRecoveryCodes('zoe@example.com', ['r0', 'r0']));
        assert.equal(await store.remainingRecoveryCodes('zoe@example.com'), 1, 'a failed regeneration keeps the old codes');
      } finally {
        await store.close();
      }
    }));

  test('an enrollment whose method and TOTP fields disagree is refused', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const store = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        await assert.rejects(store.enable({ ...smsEnrollment('a@example.com'), method: 'totp' }, []), TypeError);
        await assert.rejects(store.enable({ ...totpEnrollment('b@example.com'), method: 'sms' }, []), TypeError);
        assert.equal(await store.getEnrollment('a@example.com'), null);
        assert.equal(await store.getEnrollment('b@example.com'), null);
        // The schema enforces it too, for writers other than this class.
        const db = raw(file);
        try {
          assert.throws(
            () => db.prepare("INSERT INTO enrollments (user, method, totp_secret, created_at, updated_at) VALUES ('c', 'sms', 'x', 1, 1)").run(),
            /CHECK constraint/,
          );
          db.prepare(
            "INSERT INTO enrollments VALUES ('d@example.com', 'totp', NULL, '1', 'eA', 'SHA1', 7, 30, 1, 1)",
          ).run();
        } finally {
          db.close();
        }
        await assert.rejects(store.getEnrollment('d@example.com'), SqliteSchemaError, 'a row with 7 digits is not mapped silently');
      } finally {
        await store.close();
      }
    }));

  test('two stores on one file see each other’s writes, and single use holds across them', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const a = SqliteDurableStore.open(file, { clock: systemClock });
      const b = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        const enrollment = smsEnrollment('zoe@example.com');
        await a.enable(enrollment, ['h0', 'h1']);
        assert.deepEqual(await b.getEnrollment('zoe@example.com'), enrollment);
        assert.equal(await b.consumeRecoveryCode('zoe@example.com', 'h0', T0), true);
        assert.equal(await a.consumeRecoveryCode('zoe@example.com', 'h0', T0), false);
        assert.equal(await a.remainingRecoveryCodes('zoe@example.com'), 1);
        assert.equal(await a.useTotpStep('zoe@example.com', 9, KEEP), true);
        assert.equal(await b.useTotpStep('zoe@example.com', 9, KEEP), false);
        assert.equal(await b.setDestination('zoe@example.com', '+4930999', T0 + 5), true);
        assert.equal((await a.getEnrollment('zoe@example.com'))?.destination, '+4930999');
        assert.equal(await b.disable('zoe@example.com'), true);
        assert.equal(await a.getEnrollment('zoe@example.com'), null);
        assert.equal(await a.disable('zoe@example.com'), false);
      } finally {
        await a.close();
        await b.close();
      }
    }));

  test('processes racing for the same codes and steps: each is won exactly once', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const codes = Array.from({ length: 40 }, (_, i) => `race-${i}`);
      const setup = SqliteDurableStore.open(file, { clock: systemClock });
      await setup.enable(totpEnrollment('zoe@example.com'), codes);
      await setup.close();
      const script = `
        const { SqliteDurableStore } = await import(${JSON.stringify(SQLITE_MODULE)});
        const { systemClock } = await import(${JSON.stringify(CLOCK_MODULE)});
        const file = process.argv.at(-1);
        const store = SqliteDurableStore.open(file, { clock: systemClock });
        await ready();
        const codes = [], steps = [];
        for (let i = 0; i < 40; i++) {
          if (await store.consumeRecoveryCode('zoe@example.com', 'race-' + i, 1)) codes.push(i);
          if (await store.useTotpStep('zoe@example.com', i, 4102444800000)) steps.push(i);
        }
        await store.close();
        console.log(JSON.stringify({ codes, steps }));
      `;
      const outputs = (await runTogether(Array.from({ length: 4 }, () => [script, file]))) as { codes: number[]; steps: number[] }[];
      const all = Array.from({ length: 40 }, (_, i) => i);
      assert.deepEqual(outputs.flatMap((o) => o.codes).sort((x, y) => x - y), all, 'every code consumed exactly once');
      assert.deepEqual(outputs.flatMap((o) => o.steps).sort((x, y) => x - y), all, 'every step used exactly once');
      const check = SqliteDurableStore.open(file, { clock: systemClock });
      try {
        assert.equal(await check.remainingRecoveryCodes('zoe@example.com'), 0);
      } finally {
        await check.close();
      }
    }));
});

describe('SqliteDurableStore: used TOTP steps are pruned', () => {
  test('every 100th useTotpStep deletes expired steps and never a live one', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'guard.db');
      const clock = new ManualClock(T0);
      const store = SqliteDurableStore.open(file, { clock });
      const steps = (): number[] => {
        const db = raw(file);
        try {
          return db.prepare('SELECT step FROM used_totp_steps ORDER BY step').pluck().all() as number[];
        } finally {
          db.close();
        }
      };
      try {
        assert.equal(await store.useTotpStep('zoe@example.com', 1, T0 - 1), true, 'expired');
        assert.equal(await store.useTotpStep('zoe@example.com', 2, T0), true, 'expires exactly now: kept');
        assert.equal(await store.useTotpStep('zoe@example.com', 3, T0 + 60_000), true, 'live');
        for (let i = 0; i < 96; i++) await store.useTotpStep('sam@example.com', 1000 + i, T0 + 60_000);
        assert.ok(steps().includes(1), 'not pruned on every call');
        await store.useTotpStep('sam@example.com', 5000, T0 + 60_000); // the 100th call
        const left = steps();
        assert.ok(!left.includes(1), 'the expired step was pruned');
        assert.ok(left.includes(2) && left.includes(3), 'live steps stay');
        assert.equal(left.length, 99);
        assert.equal(await store.useTotpStep('zoe@example.com', 3, T0 + 60_000), false, 'a live step still refuses a replay');
        clock.advance(60_001);
        for (let i = 0; i < 99; i++) await store.useTotpStep('sam@example.com', 9000 + i, T0 + 200_000);
        assert.deepEqual(steps().filter((s) => s < 9000), [], 'once the clock passes keepUntil, they go');
      } finally {
        await store.close();
      }
    }));
});

/**
 * Starts one Node process per entry (`[script, ...args]`, the script an ES module body that may call
 * `await ready()`), releases them together once all are ready, and returns each one's last stdout
 * line parsed as JSON. A process that fails rejects with its stderr.
 */
async function runTogether(jobs: string[][]): Promise<unknown[]> {
  const prelude = `
    const ready = () => new Promise((resolve) => {
      process.stdout.write('ready\\n');
      process.stdin.once('data', () => { process.stdin.pause(); resolve(); });
    });
  `;
  const tsx = import.meta.resolve('tsx');
  const children = jobs.map(([script, ...args]) => {
    const child = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', prelude + script!, '--', ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let announced = false;
    const isReady = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (!announced && stdout.includes('ready\n')) {
          announced = true;
          resolve();
        }
      });
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const done = new Promise<unknown>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`child exited with ${code}: ${stderr}`));
        const last = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(last));
        } catch {
          reject(new Error(`child printed no JSON: ${stdout} ${stderr}`));
        }
      });
    });
    return { child, isReady, done };
  });
  const results = Promise.all(children.map((c) => c.done));
  results.catch(() => {}); // observed below; avoids an unhandled rejection while waiting for `ready`
  try {
    // A child that dies before announcing itself must not hang the test: its `done` rejects first.
    await Promise.race([Promise.all(children.map((c) => c.isReady)), ...children.map((c) => c.done)]);
  } finally {
    // Releases them together; on failure, ending stdin lets the waiting ones exit.
    for (const { child } of children) child.stdin.end('go\n');
  }
  return results;
}
