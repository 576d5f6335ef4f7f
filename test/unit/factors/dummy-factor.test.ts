import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAudit } from '../../../src/audit/audit.ts';
import type { Channel, Message } from '../../../src/channels/channel.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { DomainError } from '../../../src/core/errors.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import { EMAIL_IDENTITY } from '../../../src/directory/identity.ts';
import { Contacts } from '../../../src/directory/index.ts';
import { EmailFactor } from '../../../src/factors/email/factor.ts';
import type { CodeCheck, CodeSender, CodeVerdict, EnrollChoice, EnrollSetup, Factor } from '../../../src/factors/factor.ts';
import { OneTimeCodes } from '../../../src/factors/one-time-codes.ts';
import { RecoveryCodes } from '../../../src/factors/recovery/factor.ts';
import { FactorRegistry } from '../../../src/factors/registry.ts';
import { SendBudget } from '../../../src/factors/send-budget.ts';
import { verifySentCode } from '../../../src/factors/sent-code.ts';
import { AccountGenerations } from '../../../src/flows/account-generation.ts';
import { Regulation } from '../../../src/flows/regulation.ts';
import { SecondFactor } from '../../../src/flows/second-factor.ts';
import { TwoFactorSettings, type Actor } from '../../../src/flows/two-factor-settings.ts';
import type { UpstreamAccount } from '../../../src/flows/upstream-account.ts';
import { parseSessionKeys } from '../../../src/session/keys.ts';
import { SessionService } from '../../../src/session/sessions.ts';
import type { DurableStore, Enrollment, FactorMethod } from '../../../src/store/durable.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { memoryLogger } from '../../helpers/stack.ts';

/**
 * The yardstick for "factors as plug-ins": a new method is one folder (here, this class)
 * plus one `register` call. Nothing in src/flows/ names it; the enable flow offers it, sends its
 * codes by its own sender, checks them with its own verify, and writes what its enroll() kept;
 * a later flow (turning 2FA off) asks it for a code again. Memory store, ManualClock.
 */

/** Codes by carrier pigeon to the account's loft: a sending factor the sidecar has never heard of. */
class PigeonFactor implements Factor {
  readonly method = 'pigeon' as FactorMethod;
  readonly sender: CodeSender;
  constructor(
    channel: Channel,
    private readonly codes: OneTimeCodes,
  ) {
    this.sender = { channel, kind: 'sms', allowed: (loft) => loft.startsWith('loft:') };
  }
  describe(destination: string | null): string | null {
    return destination === null ? null : `${destination.slice(0, 6)}…`;
  }
  offered(): boolean {
    return true;
  }
  async enroll(choice: EnrollChoice): Promise<EnrollSetup> {
    return { kind: 'sent', material: { destination: `loft:${choice.account}`, totp: null } };
  }
  verify(check: CodeCheck): Promise<CodeVerdict> {
    return verifySentCode(this.codes, check);
  }
}

/** Every message sent, by destination (the test reads the codes from it). */
class Inbox implements Channel {
  readonly name = 'inbox';
  readonly sent: Message[] = [];
  async send(message: Message): Promise<void> {
    this.sent.push(message);
  }
  async close(): Promise<void> {}
  lastCodeTo(to: string): string {
    const message = [...this.sent].reverse().find((m) => m.to === to && m.purpose === 'code');
    const code = message?.text.match(/\b(\d{6})\b/)?.[1];
    assert.ok(code, `a code went to ${to}`);
    return code;
  }
}

/** The durable records the flows use, in a Map: the stores' schemas list the built-in methods only. */
function memoryDurable(): DurableStore {
  const enrollments = new Map<string, Enrollment>();
  const recovery = new Map<string, string[]>();
  const store: Partial<DurableStore> = {
    getEnrollment: async (user) => enrollments.get(user) ?? null,
    enable: async (enrollment, hashes) => {
      enrollments.set(enrollment.user, enrollment);
      recovery.set(enrollment.user, [...hashes]);
    },
    disable: async (user) => recovery.delete(user) && enrollments.delete(user),
    remainingRecoveryCodes: async (user) => recovery.get(user)?.length ?? 0,
    consumeRecoveryCode: async (user, hash) => {
      const left = recovery.get(user) ?? [];
      const at = left.indexOf(hash);
      if (at < 0) return false;
      left.splice(at, 1);
      return true;
    },
  };
  return store as DurableStore;
}

function stack() {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const durable = memoryDurable();
  const { logger } = memoryLogger();
  const audit = new MemoryAudit(() => clock.now());
  const mail = new Inbox();
  const lofts = new Inbox();
  const codes = new OneTimeCodes(store, clock, cryptoRandom, Buffer.alloc(32, 3), { lifetimeMs: 5 * 60_000, maxAttempts: 5, resendCooldownMs: 30_000 });
  const window = { max: 100, windowMs: 3_600_000 };
  const budget = new SendBudget(store, { perAccount: window, perDestination: window, perAddress: window, global: { max: 10_000, windowMs: 3_600_000 } });
  const limits = { maxFailures: 10, windowMs: 600_000, banMs: 600_000, maxBanMs: 3_600_000 };
  const regulation = new Regulation(store, { account: limits, address: limits });

  // The one line a new method adds to the composition: its registration.
  const registry = new FactorRegistry(new RecoveryCodes({ durable, clock, random: cryptoRandom, logger, hashKeys: new Map([['1', Buffer.alloc(32, 5)]]) }), [
    new EmailFactor({ channel: mail, codes }),
  ]).register(new PigeonFactor(lofts, codes));

  const factor = new SecondFactor({
    durable,
    factors: registry,
    codes,
    budget,
    failures: new Regulation(store, { account: limits, address: limits }, 'factor:'),
    clock,
    logger,
    audit,
    product: 'Example',
    codeLifetimeMs: 5 * 60_000,
    store,
    lockoutAfter: 20,
  });
  const sessions = new SessionService(store, parseSessionKeys('k'.repeat(40)), clock, cryptoRandom, { idleTimeoutMs: 3_600_000, absoluteLifetimeMs: 86_400_000 });
  const settings = new TwoFactorSettings({
    durable,
    store,
    generations: new AccountGenerations(store, cryptoRandom),
    sessions,
    factor,
    account: { checkPassword: async () => ({ ok: true, setCookies: [], upstreamCookies: {} }) } as unknown as UpstreamAccount,
    regulation,
    email: mail,
    clock,
    random: cryptoRandom,
    logger,
    audit,
    methods: ['email', 'pigeon' as FactorMethod],
    product: 'Example',
    support: 'support@example.com',
    reauthWindowMs: 10 * 60_000,
    smsCountryAllowed: () => false,
    contacts: new Contacts(null, EMAIL_IDENTITY, logger),
  });
  return { clock, durable, sessions, settings, mail, lofts };
}

const client = { address: '203.0.113.9', forwardedFor: '203.0.113.9', proto: 'https', host: 'app.example', hostname: 'app.example', peerTrusted: false } as const;

test('a factor registered in a test is offered, enrolled and verified by the flows without their naming it', async () => {
  const { clock, durable, sessions, settings, mail, lofts } = stack();
  const user = 'mia@example.com';
  const { record } = await sessions.create({ user, factors: { password: clock.now() }, upstreamCookies: {}, twoFactor: null });
  let actor: Actor = { session: record, client, requestId: 'r1' };

  // Enable: identity by an email code, then the new method is among the choices.
  const started = await settings.enableStart(actor, undefined);
  assert.deepEqual(started.channels, ['email']);
  await settings.enableIdentity(actor, 'email');
  const chosen = await settings.enableIdentityVerify(actor, mail.lastCodeTo(user));
  assert.ok(chosen.methods.includes('pigeon' as FactorMethod), `offered: ${chosen.methods.join(', ')}`);

  const sent = await settings.enableMethod(actor, 'pigeon', undefined);
  assert.equal(sent.status, 'code_sent');
  assert.equal(sent.destination, 'loft:m…', 'the factor masks its own destination');
  assert.equal(lofts.sent.length, 1, 'the code went out by the factor’s own sender');

  // A wrong code is refused with the table's code and status; the right one enables.
  await assert.rejects(settings.enableConfirm(actor, '000000'), (e: unknown) => e instanceof DomainError && e.code === 'invalid_code' && e.status === 401);
  const { result, rotated } = await settings.enableConfirm(actor, lofts.lastCodeTo(`loft:${user}`));
  assert.equal(result.method, 'pigeon');
  assert.equal(result.recovery_codes.length, 10);
  const enrollment = await durable.getEnrollment(user);
  assert.deepEqual({ method: enrollment?.method, destination: enrollment?.destination, totp: enrollment?.totp }, { method: 'pigeon', destination: `loft:${user}`, totp: null });
  assert.deepEqual(await settings.status(user), { enabled: true, method: 'pigeon', destination: 'loft:m…', recoveryCodesLeft: 10 });

  // Later (ManualClock): turning it off asks the enrolled factor for a fresh code through the same interface.
  clock.advance(60 * 60_000);
  actor = { session: rotated.session, client, requestId: 'r2' };
  const off = await settings.disableStart(actor, 'password');
  assert.equal(off.status, 'code_sent');
  assert.equal(lofts.sent.length, 2);
  // The code outlives its lifetime: expired, by the factor's own check.
  clock.advance(6 * 60_000);
  await assert.rejects(settings.disableVerify(actor, lofts.lastCodeTo(`loft:${user}`)), (e: unknown) => e instanceof DomainError && e.code === 'code_expired' && e.status === 410);
  // A recovery code stands in for it (recovery codes come with every factor), and the words say so when malformed.
  await assert.rejects(settings.disableVerify(actor, 'not a code!'), (e: unknown) => e instanceof DomainError && e.code === 'invalid_code_format' && e.words === 'invalid_code_format_or_recovery');
  assert.deepEqual(await settings.disableVerify(actor, result.recovery_codes[0]), { status: 'confirm' });
  await settings.disableConfirm(actor);
  assert.equal(await durable.getEnrollment(user), null);
});
