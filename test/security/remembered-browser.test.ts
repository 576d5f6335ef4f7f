import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ManualClock } from '../../src/core/clock.ts';
import { apiCall, assertExported, assertStepUpRequired, CONTACT_EXPORT, postForm } from '../helpers/step-up.ts';
import {
  csrfFrom,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  GENEROUS_BUDGETS,
  GuardClient,
  lastCode,
  MERCHANT,
  startClockedStack,
  type ClockedStack,
} from '../helpers/two-factor.ts';

/**
 * "Remember this browser" (issue 17) against the ways it could become a bypass of the second
 * factor: a remembered token copied to another browser, kept past a factor change, or kept past a
 * revocation is useless; it never reaches the upstream; only its hash is at rest; it never skips a
 * step-up the policy asks for; and its Forget form refuses forged posts (THREATS T7).
 */

const POLICY = `version: 1
default:
  access: authenticated
intercept:
  login: { paths: ["/login"] }
  logout: { paths: ["/logout"] }
rules:
  - name: contact-export
    paths: ["/api/contacts/export"]
    methods: [GET]
    access: authenticated
    sensitive:
      category: contact-export
      fresh_for: 10m
      without_2fa: { low: email_code, medium: email_code, high: email_code }
      with_2fa: { low: fresh_code, medium: fresh_code, high: fresh_code }
`;

describe('remembered browsers: no bypass of the second factor', () => {
  let s: ClockedStack;
  let seen: string[];
  let upstream: http.Server;
  before(async () => {
    // A recording hop between the sidecar and the demo app: every Cookie header the upstream gets.
    seen = [];
    const { startDemoApp } = await import('../../demo/app.ts');
    const demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
    const target = new URL(demo.url);
    upstream = http.createServer((req, res) => {
      seen.push(String(req.headers.cookie ?? ''));
      const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    upstream.on('close', () => void demo.close());
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    s = await startClockedStack(
      {
        upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        policy: POLICY,
        config: { factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors },
      },
      new ManualClock(Date.UTC(2026, 6, 1, 9)),
    );
  });
  after(async () => {
    await s.stack.close();
    upstream.close();
  });

  const fresh = async (): Promise<void> => {
    await s.stack.guard.durable.disable(MERCHANT);
    await enrollDirectly(s.stack, MERCHANT, 'email', MERCHANT, s.clock.now());
  };

  /** Signs `client` in with the emailed code and `remember`. */
  const remember = async (client: GuardClient): Promise<string> => {
    s.clock.advance(61_000);
    expectStatus(await client.login(), 200, 'login');
    expectStatus(await client.post('/_guard/api/login/verify', { code: lastCode(s.stack.outboxFile, MERCHANT), remember: true }), 200, 'verify');
    const token = client.cookies.get('spg_rb');
    assert.ok(token);
    return token;
  };

  const passwordOnly = async (client: GuardClient): Promise<string> => {
    s.clock.advance(61_000);
    expectStatus(await client.logout(), 200, 'logout');
    return String(expectStatus(await client.login(), 200, 'login').body['status']);
  };

  test('a token copied into another browser is useless there (and does not open the owner’s)', async () => {
    await fresh();
    const owner = new GuardClient(s.stack.url);
    const token = await remember(owner);
    const attacker = new GuardClient(s.stack.url);
    attacker.cookies.set('spg_rb', token);
    // Even with the same password, the attacker's browser (no device cookie, or its own) is asked.
    const login = expectStatus(await attacker.login(), 200, 'attacker login');
    assert.equal(login.body['status'], 'verification_required');
    // A forged device cookie does not verify either (it is HMAC-signed).
    attacker.cookies.set('spg_device', `${'A'.repeat(22)}.${'B'.repeat(43)}`);
    assert.equal(await passwordOnly(attacker), 'verification_required');
  });

  test('useless after a factor change and after revocation', async () => {
    await fresh();
    const owner = new GuardClient(s.stack.url);
    const kept = owner.clone();
    await remember(owner);
    // The record as the owner's browser holds it before the change.
    for (const [k, v] of owner.cookies) kept.cookies.set(k, v);
    s.clock.advance(1000);
    await s.stack.guard.durable.setDestination(MERCHANT, 'mia.new@example.com', s.clock.now());
    assert.equal(await passwordOnly(kept), 'verification_required', 'after a destination change');
    await s.stack.guard.durable.setDestination(MERCHANT, MERCHANT, s.clock.now());

    await fresh();
    const second = new GuardClient(s.stack.url);
    const token = await remember(second);
    const id = token.split('.')[0] as string;
    expectStatus(await second.request(`/_guard/api/remembered-browsers/${id}`, { method: 'DELETE', headers: { 'content-type': 'application/json' } }), 200, 'revoke');
    assert.equal(await passwordOnly(second), 'verification_required', 'after revocation');
  });

  test('a remembered sign-in never skips a step-up the policy asks for', async () => {
    await fresh();
    const client = new GuardClient(s.stack.url);
    await remember(client);
    assert.equal(await passwordOnly(client), 'authenticated', 'remembered');
    assertStepUpRequired(await apiCall(client, CONTACT_EXPORT), CONTACT_EXPORT, 'email', 'fresh code still asked');
    expectStatus(await client.post('/_guard/api/step-up/start'), 200, 'step-up start');
    expectStatus(await client.post('/_guard/api/step-up/verify', { code: lastCode(s.stack.outboxFile, MERCHANT) }), 200, 'step-up verify');
    assertExported(await apiCall(client, CONTACT_EXPORT), 'after the step-up');
  });

  test('the remember cookie never reaches the upstream; only its hash is at rest', async () => {
    await fresh();
    const client = new GuardClient(s.stack.url);
    const token = await remember(client);
    assert.equal(await passwordOnly(client), 'authenticated');
    seen.length = 0;
    expectStatus(await client.me(), 200, 'upstream');
    assert.ok(seen.length > 0);
    const secretNow = (client.cookies.get('spg_rb') as string).split('.')[1] as string;
    for (const header of seen) {
      assert.equal(header.includes('spg_rb'), false, 'no spg_rb upstream');
      assert.equal(header.includes(secretNow), false);
    }
    // The SQLite file (and its WAL) hold neither the old nor the current secret.
    const dir = dirname(s.stack.outboxFile);
    for (const name of readdirSync(dir).filter((n) => n.startsWith('guard.db'))) {
      const bytes = readFileSync(`${dir}/${name}`).toString('latin1');
      assert.equal(bytes.includes(secretNow), false, `${name}: no secret`);
      assert.equal(bytes.includes(token.split('.')[1] as string), false, `${name}: no old secret`);
    }
  });

  test('the Forget form refuses forged and cross-site posts (THREATS T7) and changes nothing', async () => {
    await fresh();
    const client = new GuardClient(s.stack.url);
    await remember(client);
    const before = (expectStatus(await client.get('/_guard/api/remembered-browsers'), 200, 'list').body['browsers'] as unknown[]).length;
    assert.ok(before >= 1);
    const page = await client.request('/_guard/security', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    const csrf = csrfFrom(page.text);
    const forged = await postForm(client, '/_guard/security/remembered-browsers/forget', { _csrf: 'x'.repeat(csrf.length), all: '1' });
    assert.equal(forged.status, 303);
    const shown = await client.request(String(forged.headers.location), { headers: { accept: 'text/html' } });
    assert.equal(shown.status, 403);
    const cross = await client.request('/_guard/security/remembered-browsers/forget', {
      method: 'POST',
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams({ _csrf: csrf, all: '1' }).toString(),
    });
    assert.equal(cross.status, 403);
    const list = expectStatus(await client.get('/_guard/api/remembered-browsers'), 200, 'list');
    assert.equal((list.body['browsers'] as unknown[]).length, before, 'still remembered');
  });
});
