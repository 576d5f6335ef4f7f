import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, form, navigation, openLoginPage, sameOriginForm, send } from '../helpers/browser-like.ts';
import {
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  PASSWORD,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  lastCode,
  outboxMessages,
  ownerMessages,
  settleOwnerMessages,
  withClockedStack,
  type ApiReply,
  type ClockedStack,
  type GuardClient,
} from '../helpers/two-factor.ts';

/**
 * THREATS T21 — lock-out as a weapon (issue 14 item 5; OWASP Authentication cheat sheet:
 * account-lockout denial of service). Failures are counted per account *and* place (client
 * address, or a known device of the account), so an attacker's failures pause the attacker, not
 * the owner: the owner at another address, or on a known device anywhere, still signs in with the
 * right password and code. Account-wide, failures only slow sign-in (short, bounded delays), and
 * the owner is told by email. The second factor's consecutive-failure lock stays within NIST SP
 * 800-63B §5.2.2 (at most 100) but never closes the owner's known devices before that.
 *
 * Client addresses come from X-Forwarded-For of a trusted proxy (the test's own loopback).
 */

const MINUTE = 60_000;
const ATTACKER = '203.0.113.66';
const OWNER_ADDRESS = '198.51.100.20';

function run<T>(
  fn: (s: ClockedStack) => Promise<T>,
  extra: { factors?: Record<string, unknown>; regulation?: Record<string, unknown>; alerts?: Record<string, unknown> } = {},
): Promise<T> {
  return withClockedStack(
    {
      config: {
        trusted_proxies: ['127.0.0.1/32'],
        factors: factorsConfig({ send_budget: GENEROUS_BUDGETS, ...extra.factors }).factors,
        ...(extra.regulation ? { regulation: extra.regulation } : {}),
        ...(extra.alerts ? { alerts: extra.alerts } : {}),
      },
    },
    fn,
  );
}

const from = (s: ClockedStack, address: string): GuardClient => s.client({ 'x-forwarded-for': address });

/** The owner signs in with password and SMS code; the browser becomes a known device of the account. */
async function ownerSignsIn(s: ClockedStack, client: GuardClient, what: string): Promise<ApiReply> {
  const password = expectStatus(await client.login(MERCHANT, PASSWORD), 200, `${what}: password`);
  assert.equal(password.body['status'], 'verification_required', `${what}: ${password.text}`);
  return expectStatus(await client.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, `${what}: code`);
}

/** A browser that carries only the device cookie of `known` (a later visit of the same browser). */
function sameBrowser(s: ClockedStack, known: GuardClient, address: string): GuardClient {
  const device = known.cookies.get('spg_device');
  assert.ok(device, 'the verified sign-in gave the browser a device cookie');
  const next = from(s, address);
  next.cookies.set('spg_device', device);
  return next;
}

/**
 * What the owner's mailbox got about the attack (README "What the owner is told"): one message,
 * the `lockout` security alert in the account's language, or the English attack notice when that
 * alert kind is off. (With SMS as the method the alert also goes to the phone: one alert, not a second email.)
 */
async function toldOwner(s: ClockedStack) {
  await settleOwnerMessages(s.stack.guard);
  return ownerMessages(s.stack.outboxFile, MERCHANT);
}

/** Messages in the outbox that could carry a secret: the password, or any code that was sent. */
function leaksSecret(text: string, codes: readonly string[]): boolean {
  return text.includes(PASSWORD) || codes.some((code) => text.includes(code));
}

describe('T21: wrong passwords pause the attacker, not the owner', () => {
  test("three wrong passwords from address A pause A only (with a warning before); the owner at address B signs in with password and code; the owner is emailed once", () =>
    run(async (s) => {
      await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
      const attacker = from(s, ATTACKER);
      const replies: ApiReply[] = [];
      for (let i = 0; i < 3; i++) replies.push(await attacker.login(MERCHANT, `wrong-${i}`));
      assert.deepEqual(replies.map((r) => r.status), [401, 401, 401]);
      assert.deepEqual(replies.map((r) => r.body['attempts_left']), [2, 1, 0], 'the 401 JSON counts down to the pause');
      assert.match(String(replies[1]?.body['message']), /1 attempt left/, 'the last attempt before the pause is announced');
      assert.equal(replies[2]?.body['retry_after'], 5 * 60, 'the failure that pauses says for how long (regulation.account.ban)');
      assert.match(String(replies[2]?.body['message']), /paused for 5 minute/);
      const paused = await attacker.login(MERCHANT, PASSWORD);
      assert.equal(paused.status, 429, `the attacker's address is paused, even with the right password: ${paused.text}`);

      // The owner, elsewhere, with the right password and code.
      const owner = from(s, OWNER_ADDRESS);
      await ownerSignsIn(s, owner, 'owner at another address');
      assert.equal((await owner.me()).status, 200);

      const notices = await toldOwner(s);
      assert.equal(notices.length, 1, `one message to the owner: ${JSON.stringify(notices)}`);
      assert.equal(notices[0]?.purpose, 'alert', 'the lockout alert is the message');
      assert.equal(notices[0]?.alert, 'lockout');
      assert.equal(notices[0]?.lang, 'en');
      assert.match(String(notices[0]?.subject), /sign-in paused after failed attempts/);
      // What happened, what is paused and what is not, what to do.
      assert.match(String(notices[0]?.text), /wrong password/);
      assert.match(String(notices[0]?.text), /paused for a while\. Your own known devices keep working/);
      assert.match(String(notices[0]?.text), /turn on two-factor authentication if it is off/);
      assert.ok(!leaksSecret(notices[0]?.text ?? '', []) && !(notices[0]?.text ?? '').includes(ATTACKER), 'no secret, no address in the notice');

      // More attacks within notify_every (6h) add no mail.
      s.clock.advance(5 * MINUTE + 1000);
      for (let i = 0; i < 3; i++) assert.equal((await attacker.login(MERCHANT, `again-${i}`)).status, 401);
      assert.equal((await toldOwner(s)).length, 1, 'notices are rate-limited');
    }));

  test('the login page warns "1 attempt left" before the pause', () =>
    run(async (s) => {
      const jar = new CookieJar();
      const post = async (password: string) => {
        const { token } = await openLoginPage(s.stack.url, jar);
        const posted = jar.take(
          await send(`${s.stack.url}/_guard/login`, {
            method: 'POST',
            headers: { ...sameOriginForm(s.stack.url), cookie: jar.header(), 'x-forwarded-for': ATTACKER },
            body: form({ _csrf: token, return_to: '/', email: MERCHANT, password }),
          }),
        );
        // Post/Redirect/Get: the warning is on the sign-in page the refused form leads back to.
        assert.equal(posted.status, 303);
        return jar.take(await send(`${s.stack.url}${String(posted.location)}`, { headers: { ...navigation(), cookie: jar.header(), 'x-forwarded-for': ATTACKER } }));
      };
      const first = await post('wrong-1');
      assert.equal(first.status, 401);
      assert.match(first.text, /2 attempts left/);
      const second = await post('wrong-2');
      assert.match(second.text, /1 attempt left before sign-in from this device or network is paused/);
      const third = await post('wrong-3');
      assert.equal(third.status, 401);
      assert.match(third.text, /paused for 5 minutes/);
      const fourth = await post(PASSWORD);
      assert.equal(fourth.status, 429);
    }));

  test("a known device of the owner signs in even from the attacker's own (paused) address", () =>
    run(async (s) => {
      await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
      const first = from(s, OWNER_ADDRESS);
      await ownerSignsIn(s, first, 'first sign-in (makes the device known)');
      const attacker = from(s, ATTACKER);
      for (let i = 0; i < 3; i++) assert.equal((await attacker.login(MERCHANT, `wrong-${i}`)).status, 401);
      assert.equal((await attacker.login(MERCHANT, PASSWORD)).status, 429);
      // Same network as the attacker (a shared NAT, a café), the owner's known browser:
      const owner = sameBrowser(s, first, ATTACKER);
      await ownerSignsIn(s, owner, 'known device at the paused address');
    }));

  test('spread over many addresses, failures only slow the account (bounded 429 with a small retry_after); the owner still gets in; unknown accounts get no mail', () =>
    run(async (s) => {
      await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
      const known = from(s, OWNER_ADDRESS);
      await ownerSignsIn(s, known, 'first sign-in');
      // A botnet: 2 wrong passwords from each of 15 addresses (no address reaches its own pause).
      const statuses: number[] = [];
      const waits: number[] = [];
      for (let i = 0; i < 15; i++) {
        for (let k = 0; k < 2; k++) {
          const reply = await from(s, `192.0.2.${i + 1}`).login(MERCHANT, `wrong-${i}-${k}`);
          statuses.push(reply.status);
          if (reply.status === 429) {
            const wait = reply.body['retry_after'] as number;
            assert.equal(reply.headers['retry-after'], String(wait));
            waits.push(wait);
            s.clock.advance(wait * 1000);
          }
        }
      }
      assert.ok(statuses.includes(429), `the account was slowed down: ${JSON.stringify(statuses)}`);
      assert.ok(waits.every((w) => w >= 1 && w <= 30), `every wait is short and bounded by regulation.throttle.max_delay (30 s): ${JSON.stringify(waits)}`);
      assert.equal(statuses.filter((x) => x === 401).length + waits.length, 30);

      // The owner's known device is never slowed, even right after a refused attempt.
      await from(s, '192.0.2.248').login(MERCHANT, 'wrong-again'); // takes the free slot, if any
      assert.equal((await from(s, '192.0.2.249').login(MERCHANT, 'wrong-again')).status, 429, 'unknown places are slowed right now');
      await ownerSignsIn(s, sameBrowser(s, known, '192.0.2.250'), 'known device during the attack');
      // (The owner's success ended the slowing.) Slow it down again; a new browser of the owner waits at most max_delay.
      for (let i = 0; i < 12; i++) {
        const reply = await from(s, `192.0.2.${100 + i}`).login(MERCHANT, `wrong-late-${i}`);
        if (reply.status === 429) s.clock.advance((reply.body['retry_after'] as number) * 1000);
      }
      const fresh = from(s, '198.51.100.99');
      const first = await fresh.login(MERCHANT, PASSWORD);
      assert.equal(first.status, 429, `slowed again: ${first.text}`);
      assert.ok((first.body['retry_after'] as number) <= 30, first.text);
      assert.match(String(first.body['message']), /slowed down/);
      s.clock.advance((first.body['retry_after'] as number) * 1000);
      await ownerSignsIn(s, fresh, 'the owner from a new browser after the short wait');

      const notices = await toldOwner(s);
      assert.equal(notices.length, 1, `the owner is told once: ${JSON.stringify(notices.map((n) => n.subject))}`);
      assert.equal(notices[0]?.alert, 'lockout');
      // An account nobody has here gets nothing, however it is attacked.
      for (let i = 0; i < 3; i++) await from(s, ATTACKER).login('nobody@example.com', `wrong-${i}`);
      assert.equal(outboxMessages(s.stack.outboxFile).filter((m) => m.to === 'nobody@example.com').length, 0);
    }));
});

describe('T21: wrong codes pause the attacker, not the owner (the attacker has the password)', () => {
  test('ten wrong codes from address A pause codes from A; the owner at B with the right code signs in; the owner is told the password is known', () =>
    run(async (s) => {
      await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
      const attacker = from(s, ATTACKER);
      const codes: string[] = [];
      let judged = 0;
      for (let round = 0; round < 4 && judged < 10; round++) {
        expectStatus(await attacker.login(MERCHANT, PASSWORD), 200, 'attacker: password');
        codes.push(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
        for (let i = 0; i < 5 && judged < 10; i++) {
          const reply = await attacker.verify(codes.at(-1) === '000000' ? '111111' : '000000');
          assert.equal(reply.status, 401, reply.text);
          judged++;
        }
      }
      expectStatus(await attacker.login(MERCHANT, PASSWORD), 200, 'attacker: password again');
      const right = lastCode(s.stack.outboxFile, MERCHANT_PHONE);
      codes.push(right);
      const locked = await attacker.verify(right);
      assert.equal(locked.status, 429, `codes from the attacker's address are paused, even the right one: ${locked.text}`);

      const owner = from(s, OWNER_ADDRESS);
      await ownerSignsIn(s, owner, 'owner at another address');

      const notices = await toldOwner(s);
      assert.equal(notices.length, 1, JSON.stringify(notices.map((n) => n.subject)));
      assert.equal(notices[0]?.alert, 'lockout');
      assert.match(String(notices[0]?.subject), /your password was used with wrong verification codes/);
      assert.match(String(notices[0]?.text), /someone knows your password: change it now/);
      assert.match(String(notices[0]?.text), /change your password/);
      assert.ok(!leaksSecret(notices[0]?.text ?? '', codes), 'no code or password in the notice');
    }));

  test('NIST SP 800-63B: at lockout_after consecutive wrong codes unknown places are locked out, the owner\'s known device is not; at 100 everyone is', () =>
    run(
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        const first = from(s, OWNER_ADDRESS);
        await ownerSignsIn(s, first, 'first sign-in (makes the device known)');
        // The attacker spreads 20 wrong codes over addresses (10 each: the per-place cap).
        let address = 0;
        const wrongFrom = async (client: GuardClient, n: number): Promise<number[]> => {
          const statuses: number[] = [];
          while (statuses.length < n) {
            expectStatus(await client.login(MERCHANT, PASSWORD), 200, 'password');
            const code = lastCode(s.stack.outboxFile, MERCHANT_PHONE);
            for (let i = 0; i < 5 && statuses.length < n; i++) {
              const reply = await client.verify(code === '000000' ? '111111' : '000000');
              statuses.push(reply.status);
              if (reply.status !== 401) return statuses;
            }
          }
          return statuses;
        };
        for (let k = 0; k < 2; k++) assert.deepEqual(await wrongFrom(from(s, `192.0.2.${++address}`), 10), Array<number>(10).fill(401));
        // lockout_after (20) reached: a new place is refused, even with the right code.
        const late = from(s, `192.0.2.${++address}`);
        expectStatus(await late.login(MERCHANT, PASSWORD), 200, 'password from a new place');
        const refused = await late.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
        assert.equal(refused.status, 429, `the factor is locked for unknown places: ${refused.text}`);

        // The owner's known device still signs in with the right code (and that ends the lock).
        await ownerSignsIn(s, sameBrowser(s, first, OWNER_ADDRESS), 'known device after the lock');

        // The hard ceiling: the attacker brings it back to 20; then wrong codes on the known device
        // itself (10 per window, waiting out each pause) stop at 100 consecutive failures in all.
        for (let k = 0; k < 2; k++) assert.deepEqual(await wrongFrom(from(s, `192.0.2.${++address}`), 10), Array<number>(10).fill(401));
        const device = sameBrowser(s, first, OWNER_ADDRESS);
        let failures = 20;
        for (let round = 0; round < 20 && failures < 101; round++) {
          const statuses = await wrongFrom(device, 10);
          failures += statuses.filter((x) => x === 401).length;
          if (statuses.at(-1) === 429) {
            const last = await device.verify('000000');
            const wait = Number(last.body['retry_after'] ?? 0);
            if (wait > 24 * 3600) break; // the 30-day lock, not a window's pause
            s.clock.advance(wait * 1000 + 1000);
          }
        }
        assert.equal(failures, 100, `consecutive failures stop at NIST's 100, counted: ${failures}`);
        expectStatus(await device.login(MERCHANT, PASSWORD), 200, 'password on the known device');
        const ceiling = await device.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
        assert.equal(ceiling.status, 429, `at 100 consecutive failures even the known device waits for support or 30 days: ${ceiling.text}`);
      },
      { factors: { failures: { max_failures: 10, lockout_after: 20 } } },
    ));

  test('wrong codes spread thinly over many places (no place paused) lock the codes at lockout_after: the owner is told once, then, that the password is known', () =>
    run(
      async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        await ownerSignsIn(s, from(s, OWNER_ADDRESS), 'the owner signed in before (a real account)');
        const codes: string[] = [];
        for (let place = 1; place <= 4; place++) {
          const attacker = from(s, `192.0.2.${place}`);
          expectStatus(await attacker.login(MERCHANT, PASSWORD), 200, 'password');
          codes.push(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
          for (let i = 0; i < 5; i++) assert.equal((await attacker.verify(codes.at(-1) === '000000' ? '111111' : '000000')).status, 401);
          if (place < 4) assert.equal((await toldOwner(s)).length, 0, `no place is paused yet (after place ${place})`);
        }
        // The 20th wrong code locked the codes (nobody has been refused yet): that is when the owner hears of it.
        const told = await toldOwner(s);
        assert.equal(told.length, 1, JSON.stringify(told.map((m) => m.subject)));
        assert.equal(told[0]?.alert, 'lockout');
        assert.match(String(told[0]?.subject), /verification codes locked after wrong attempts/);
        assert.match(String(told[0]?.text), /your own known devices, which keep working/);
        assert.match(String(told[0]?.text), /someone knows your password: change it now/);
        assert.ok(!leaksSecret(told[0]?.text ?? '', codes));
        // Refused attempts after the lock (each one a `factor_locked` record) tell no one again.
        const late = from(s, '192.0.2.99');
        expectStatus(await late.login(MERCHANT, PASSWORD), 200, 'password');
        assert.equal((await late.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE))).status, 429);
        assert.equal((await late.verify('000000')).status, 429);
        assert.equal((await toldOwner(s)).length, 1, 'told once per regulation.notify_every');
      },
      { factors: { failures: { max_failures: 10, lockout_after: 20 } } },
    ));
});

describe('T21: with the lockout alert switched off, the attack notice is the one message', () => {
  for (const alerts of [{ events: { lockout: false } }, { enabled: false }]) {
    test(`alerts ${JSON.stringify(alerts)}: three wrong passwords, then wrong codes: one English notice each, never an alert too`, () =>
      run(
        async (s) => {
          await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
          const attacker = from(s, ATTACKER);
          for (let i = 0; i < 3; i++) await attacker.login(MERCHANT, `wrong-${i}`);
          const first = await toldOwner(s);
          assert.equal(first.length, 1, JSON.stringify(first));
          assert.equal(first[0]?.purpose, 'notification');
          assert.match(String(first[0]?.subject), /failed sign-in attempts/);
          assert.match(String(first[0]?.text), /your own known devices keep working/);
          assert.ok(!leaksSecret(first[0]?.text ?? '', []) && !(first[0]?.text ?? '').includes(ATTACKER));

          // The right password, then wrong codes from another address: the "password is known" notice.
          const other = from(s, '203.0.113.67');
          const codes: string[] = [];
          let judged = 0;
          for (let round = 0; round < 4 && judged < 10; round++) {
            expectStatus(await other.login(MERCHANT, PASSWORD), 200, 'attacker: password');
            codes.push(lastCode(s.stack.outboxFile, MERCHANT_PHONE));
            for (let i = 0; i < 5 && judged < 10; i++) {
              await other.verify(codes.at(-1) === '000000' ? '111111' : '000000');
              judged++;
            }
          }
          const both = await toldOwner(s);
          assert.equal(both.length, 2, JSON.stringify(both.map((n) => n.subject)));
          assert.ok(both.every((n) => n.purpose === 'notification'));
          assert.match(String(both[1]?.subject), /your password was used with wrong verification codes/);
          assert.ok(!leaksSecret(both[1]?.text ?? '', codes));
        },
        { alerts },
      ));
  }
});
