import { MemoryAudit } from '../../../src/audit/audit.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountGenerations } from '../../../src/flows/account-generation.ts';
import { LoginFlow } from '../../../src/flows/login.ts';
import { Regulation } from '../../../src/flows/regulation.ts';
import type { SecondFactor } from '../../../src/flows/second-factor.ts';
import type { UpstreamAccount } from '../../../src/flows/upstream-account.ts';
import { memoryLogger } from '../../helpers/stack.ts';
import { ManualClock, systemClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import { parseSessionKeys } from '../../../src/session/keys.ts';
import { SessionService } from '../../../src/session/sessions.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { SqliteDurableStore } from '../../../src/store/sqlite.ts';
import { RiskService } from '../../../src/risk/service.ts';
import { MemoryRiskHistory } from '../../../src/risk/history.ts';
import { riskSchema } from '../../../src/config/schema/risk.ts';

/**
 * Sign-in answers take the same minimum time whether the upstream said yes, no, or the account is
 * unknown to it (no timing oracle for account existence). The padding is real time; the flow's
 * sleep and its monotonic reading are injected, so the test sees exactly how long each answer was
 * held back whatever the machine's load: every reading advances 10 ms, so each attempt's work
 * measures 10 ms and the wait must fill exactly the rest.
 */

const client = { address: '203.0.113.7', forwardedFor: '203.0.113.7', proto: 'http', host: 'app', hostname: 'app', peerTrusted: false } as const;

function flowWith(upstreamSaysYes: (email: string) => boolean, minResponseMs: number) {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const slept: number[] = [];
  let reading = 0;
  const elapsed = (): number => (reading += 10);
  const account = {
    checkPassword: async (email: string) =>
      upstreamSaysYes(email)
        ? { ok: true as const, setCookies: ['sp_session=1; Path=/'], upstreamCookies: { sp_session: '1' } }
        : { ok: false as const, reason: 'rejected' as const },
  } as unknown as UpstreamAccount;
  const limits = { maxFailures: 100, windowMs: 60_000, banMs: 60_000, maxBanMs: 60_000 };
  const flow = new LoginFlow({
    regulation: new Regulation(store, { account: limits, address: limits }),
    account,
    sessions: new SessionService(store, parseSessionKeys('x'.repeat(40)), clock, cryptoRandom, { idleTimeoutMs: 60_000, absoluteLifetimeMs: 600_000 }),
    durable: SqliteDurableStore.open(':memory:', { clock: systemClock }),
    factor: {} as SecondFactor,
    // Risk scoring is out of this test: thresholds no sign-in reaches keep every sign-in low risk.
    risk: new RiskService({
      config: riskSchema.parse({ levels: { medium: 1000, high: 2000 } }),
      history: new MemoryRiskHistory(),
      store,
      clock,
      random: cryptoRandom,
      logger: memoryLogger().logger,
      deviceKeys: [Buffer.alloc(32, 7)],
    }),
    store,
    generations: new AccountGenerations(store, cryptoRandom),
    clock,
    random: cryptoRandom,
    logger: memoryLogger().logger,
    audit: new MemoryAudit(Date.now),
    minResponseMs,
    pendingMs: 60_000,
    elapsed,
    sleep: async (ms) => {
      slept.push(ms);
    },
  });
  return { flow, slept };
}

test('every answer is held to the minimum: success, wrong password and unknown account alike', async () => {
  const { flow, slept } = flowWith((email) => email === 'known@example.com', 250);
  const attempt = (email: string, password: string) => flow.attempt({ email, password, client, requestId: 'r' });
  assert.equal((await attempt('known@example.com', 'right')).kind, 'authenticated');
  assert.equal((await attempt('known@example.com', 'wrong')).kind, 'authenticated'); // the fake upstream only checks the email
  assert.equal((await attempt('nobody@example.com', 'whatever')).kind, 'invalid_credentials');
  assert.equal((await attempt('', 'x')).kind, 'invalid_credentials');
  assert.equal(slept.length, 4, 'every answer was padded');
  for (const ms of slept) {
    assert.equal(ms, 240, 'the work measured 10 ms, so the wait fills the rest of the 250 ms');
  }
});

test('no padding is added when the minimum is 0', async () => {
  const { flow, slept } = flowWith(() => false, 0);
  assert.equal((await flow.attempt({ email: 'a@example.com', password: 'x', client, requestId: 'r' })).kind, 'invalid_credentials');
  assert.deepEqual(slept, []);
});
