import type { Clock } from '../core/clock.ts';
import type { DurableStore, Enrollment } from './durable.ts';
import { defineDurableScripts, SCRIPTS, type Scripted } from './redis-durable-scripts.ts';
import { distinct, enrollmentToFields, fieldsToEnrollment, integer } from './redis-durable-fields.ts';
import { StoreUnavailableError } from './ephemeral.ts';
import { byText, type DurableUserRecords, type RecordPort, type RecoveryCodeRecord, type UsedStepRecord } from './records.ts';
import {
  accountTag,
  closeRedisClient,
  commandTimeoutOf,
  isCluster,
  runRedis,
  accountsUnder,
  type RedisClient,
} from './redis-connection.ts';

/**
 * The durable store on Redis (DESIGN §4, several replicas): 2FA enrollments with their sealed TOTP
 * secrets, recovery-code hashes and used TOTP steps. Same contract as SQLite
 * (test/helpers/durable-contract.ts).
 *
 * Persistence: these records must survive a Redis restart, so the server needs the append-only
 * file: `appendonly yes` with `appendfsync everysec` (at most about a second of writes lost on a
 * crash) or `always` (none). RDB snapshots alone are not enough: an enrollment lost on a restart
 * silently turns the user's 2FA off (the password alone signs in again), and a lost used step or
 * consumed recovery code re-opens a replay. `open` and every `ping` read `INFO persistence` (and
 * `CONFIG GET appendfsync` where allowed) and report the problem through `persistenceWarning()` and
 * the `onPersistenceWarning` callback; the store still runs (the operator decides), but readiness
 * logs say why it is unsafe.
 *
 * Keys, under the configured prefix, per account (`{u:…}` is the account's Cluster hash tag, so
 * every multi-key script below touches one slot):
 *   durable:{u:<user>}:enrollment   hash of the enrollment's fields
 *   durable:{u:<user>}:codes        set of unused recovery-code hashes
 *   durable:{u:<user>}:used-codes   hash: used recovery-code hash → when it was used
 *   durable:{u:<user>}:steps        sorted set: used TOTP step → keepUntil (score)
 * None has a TTL: durable records live until disabled. Used steps whose keepUntil has passed (by
 * the injected clock) are removed by the next `useTotpStep` of that account, inside its script.
 *
 * Every change of more than one key is one Lua script, which Redis runs atomically; single use
 * (`consumeRecoveryCode`, `useTotpStep`) is decided by one SREM / ZADD NX inside a script, never
 * by a read followed by a write. Redis failures are StoreUnavailableError (fail closed); a record
 * that does not have the expected shape is a plain Error naming the field, never mapped silently.
 */

const NAMESPACE = 'durable:';


export interface RedisDurableStoreOptions {
  /** Prepended to every key, e.g. the config's `store.redis.prefix`. Must not be empty. */
  readonly prefix: string;
  /** Time source for pruning expired used TOTP steps (`keepUntil` is epoch milliseconds). */
  readonly clock: Clock;
  /**
   * Called when the server's persistence turns unsafe for durable records (and again if it is
   * fixed and breaks again), with the message `persistenceWarning()` returns. E.g. logger.warn.
   */
  readonly onPersistenceWarning?: (message: string) => void;
  /**
   * Whether `close()` also closes the client (default true). False when the client is shared with
   * the other Redis stores and closed by whoever opened it.
   */
  readonly closeClient?: boolean;
}

export class RedisDurableStore implements DurableStore, RecordPort<DurableUserRecords> {
  private readonly client: Scripted;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly onPersistenceWarning: ((message: string) => void) | undefined;
  private readonly closeClient: boolean;
  private warning: string | null = null;
  private closed = false;

  private constructor(client: RedisClient, options: RedisDurableStoreOptions) {
    if (options.prefix === '') throw new RangeError('RedisDurableStore needs a key prefix (e.g. "spg:")');
    this.prefix = options.prefix;
    this.clock = options.clock;
    this.onPersistenceWarning = options.onPersistenceWarning;
    this.closeClient = options.closeClient ?? true;
    this.client = defineDurableScripts(client);
  }

  /**
   * A store on a connected client (see `openRedisClient`). Checks the server's persistence once
   * (rejects with StoreUnavailableError when Redis does not answer).
   */
  static async open(client: RedisClient, options: RedisDurableStoreOptions): Promise<RedisDurableStore> {
    const store = new RedisDurableStore(client, options);
    await store.checkPersistence();
    return store;
  }

  private get keyCheckKey(): string {
    return `${this.prefix}key-checks`;
  }

  /** Key-check records by key id (src/factors/key-check.ts). */
  async keyChecks(): Promise<ReadonlyMap<string, string>> {
    const all = await this.run('keyChecks', () => this.client.hgetall(this.keyCheckKey));
    return new Map(Object.entries(all));
  }

  /** Adds the key-check record of a key id; an existing one (another replica's) is kept. */
  async addKeyCheck(keyId: string, sealed: string): Promise<void> {
    await this.run('addKeyCheck', () => this.client.hsetnx(this.keyCheckKey, keyId, sealed));
  }

  /** Not scanned on Redis (every account's key would be read at each start): the records decide. */
  async sealedSamples(): Promise<ReadonlyArray<{ keyId: string; user: string; data: string }>> {
    return [];
  }

  /** Why the server's persistence is unsafe for durable records, or null when it is fine. */
  persistenceWarning(): string | null {
    return this.warning;
  }

  private keys(user: string) {
    const base = `${this.prefix}${NAMESPACE}${accountTag(user)}`;
    return { enrollment: `${base}:enrollment`, codes: `${base}:codes`, used: `${base}:used-codes`, steps: `${base}:steps` };
  }

  private run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(`redis ${operation}: the durable store is closed`));
    return runRedis(operation, call);
  }

  async getEnrollment(user: string): Promise<Enrollment | null> {
    const fields = await this.run('getEnrollment', () => this.client.hgetall(this.keys(user).enrollment));
    return Object.keys(fields).length === 0 ? null : fieldsToEnrollment(user, fields);
  }

  async enable(enrollment: Enrollment, recoveryCodeHashes: readonly string[]): Promise<void> {
    const fields = enrollmentToFields(enrollment);
    distinct(recoveryCodeHashes);
    const k = this.keys(enrollment.user);
    await this.run('enable', () =>
      this.client[SCRIPTS.enable](k.enrollment, k.codes, k.used, String(fields.length), ...fields, ...recoveryCodeHashes),
    );
  }

  async disable(user: string): Promise<boolean> {
    const k = this.keys(user);
    return (await this.run('disable', () => this.client[SCRIPTS.disable](k.enrollment, k.codes, k.used, k.steps))) === 1;
  }

  async setDestination(user: string, destination: string, now: number): Promise<boolean> {
    const changed = await this.run('setDestination', () =>
      this.client[SCRIPTS.setDestination](this.keys(user).enrollment, destination, String(now)),
    );
    return changed === 1;
  }

  async replaceRecoveryCodes(user: string, hashes: readonly string[]): Promise<void> {
    distinct(hashes);
    const k = this.keys(user);
    const replaced = await this.run('replaceRecoveryCodes', () => this.client[SCRIPTS.replaceCodes](k.enrollment, k.codes, k.used, ...hashes));
    if (replaced !== 1) throw new Error('redis: replaceRecoveryCodes for a user without an enrollment');
  }

  async consumeRecoveryCode(user: string, hash: string, now: number): Promise<boolean> {
    const k = this.keys(user);
    return (await this.run('consumeRecoveryCode', () => this.client[SCRIPTS.consumeCode](k.codes, k.used, hash, String(now)))) === 1;
  }

  async remainingRecoveryCodes(user: string): Promise<number> {
    return this.run('remainingRecoveryCodes', () => this.client.scard(this.keys(user).codes));
  }

  async useTotpStep(user: string, step: number, keepUntil: number): Promise<boolean> {
    if (!Number.isSafeInteger(step)) throw new RangeError(`useTotpStep needs an integer step, got ${step}`);
    if (!Number.isFinite(keepUntil)) throw new RangeError(`useTotpStep needs a finite keepUntil, got ${keepUntil}`);
    const added = await this.run('useTotpStep', () =>
      this.client[SCRIPTS.useStep](this.keys(user).steps, String(step), String(keepUntil), String(this.clock.now())),
    );
    return added === 1;
  }

  /**
   * Readiness: `INFO persistence` (which also proves Redis answers), bounded by the command timeout.
   * Updates `persistenceWarning()`.
   */
  async ping(): Promise<void> {
    const limitMs = commandTimeoutOf(this.client);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not answered within ${limitMs} ms`)), limitMs);
    });
    try {
      await Promise.race([this.checkPersistence(), timeout]);
    } catch (error) {
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(`redis ping failed: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.closeClient) await closeRedisClient(this.client);
  }

  private async checkPersistence(): Promise<void> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    const problems = new Set<string>();
    for (const node of nodes) {
      const info = await this.run('ping', () => node.info('persistence'));
      if (/^aof_enabled:0\s*$/m.test(info)) {
        problems.add(
          'appendonly is off: an enrollment written since the last snapshot is lost on a Redis restart (2FA silently off), ' +
            'and a lost used TOTP step or recovery code can be replayed; set appendonly yes and appendfsync everysec (or always)',
        );
        continue;
      }
      let fsync: string | undefined;
      try {
        // CONFIG is often disabled on managed Redis; then only aof_enabled can be checked.
        const reply = (await node.config('GET', 'appendfsync')) as unknown;
        if (Array.isArray(reply) && typeof reply[1] === 'string') fsync = reply[1];
      } catch {
        fsync = undefined;
      }
      if (fsync === 'no') {
        problems.add('appendfsync is no: the OS decides when the append-only file reaches the disk; set appendfsync everysec (or always)');
      }
    }
    const warning = problems.size === 0 ? null : `redis persistence is unsafe for durable records: ${[...problems].join('; ')}`;
    const changed = warning !== this.warning;
    this.warning = warning;
    if (changed && warning !== null) this.onPersistenceWarning?.(warning);
  }

  // ---- migration (src/cli/store-migrate.ts) ----

  async *exportRecords(now: number): AsyncGenerator<DurableUserRecords> {
    for (const user of await accountsUnder(this.client, this.prefix + NAMESPACE)) {
      const k = this.keys(user);
      const [enrollment, unused, used, steps] = await Promise.all([
        this.getEnrollment(user),
        this.run('export', () => this.client.smembers(k.codes)),
        this.run('export', () => this.client.hgetall(k.used)),
        this.run('export', () => this.client.zrangebyscore(k.steps, now, '+inf', 'WITHSCORES')),
      ]);
      const recoveryCodes: RecoveryCodeRecord[] =
        enrollment === null
          ? []
          : [
              ...unused.map((hash) => ({ hash, usedAt: null })),
              ...Object.entries(used).map(([hash, at]) => ({ hash, usedAt: integer(at, 'used recovery code time') })),
            ].sort((a, b) => byText(a.hash, b.hash));
      const usedSteps: UsedStepRecord[] = [];
      for (let i = 0; i + 1 < steps.length; i += 2) {
        usedSteps.push({ step: integer(steps[i] as string, 'used step'), keepUntil: integer(steps[i + 1] as string, 'used step keepUntil') });
      }
      usedSteps.sort((a, b) => a.step - b.step);
      if (enrollment === null && usedSteps.length === 0) continue;
      yield { user, enrollment, recoveryCodes, usedSteps };
    }
  }

  async importRecords(records: DurableUserRecords): Promise<void> {
    const k = this.keys(records.user);
    const fields = records.enrollment === null ? [] : enrollmentToFields(records.enrollment);
    if (records.enrollment !== null && records.enrollment.user !== records.user) throw new TypeError('import: the enrollment belongs to another user');
    distinct(records.recoveryCodes.map((code) => code.hash));
    const tx = this.client.multi().del(k.enrollment, k.codes, k.used, k.steps);
    if (records.enrollment !== null) {
      tx.hset(k.enrollment, ...fields);
      const unused = records.recoveryCodes.filter((code) => code.usedAt === null).map((code) => code.hash);
      if (unused.length > 0) tx.sadd(k.codes, ...unused);
      const used = records.recoveryCodes.flatMap((code) => (code.usedAt === null ? [] : [code.hash, String(code.usedAt)]));
      if (used.length > 0) tx.hset(k.used, ...used);
    }
    const steps = records.usedSteps.flatMap((s) => [String(s.keepUntil), String(s.step)]);
    if (steps.length > 0) tx.zadd(k.steps, ...steps);
    const replies = await this.run('import', () => tx.exec());
    const failed = replies?.find(([error]) => error !== null);
    if (replies === null || failed !== undefined) {
      throw new StoreUnavailableError(`redis import failed: ${failed?.[0]?.message ?? 'transaction aborted'}`, { cause: failed?.[0] });
    }
  }

  async hasRecords(now: number): Promise<boolean> {
    for await (const _ of this.exportRecords(now)) return true;
    return false;
  }
}
