import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { AuditEvent } from '../../src/audit/audit.ts';
import { OPEN_POLICY, startStack } from '../helpers/stack.ts';
import {
  GENEROUS_BUDGETS,
  MERCHANT,
  MERCHANT_PHONE,
  OWNER,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  lastCode,
  startClockedStack,
  type ClockedStack,
} from '../helpers/two-factor.ts';
import { CONTACT_EXPORT, RISK_AT, apiCall, assertExported, assertStepUpRequired, stepUpStart, stepUpVerify } from '../helpers/step-up.ts';

/**
 * The audit trail and the metrics as a security engineer and an operator see them after real
 * traffic: the fields of each event, every event of one sign-in joined by `details.login`, and the
 * Prometheus counters on the admin listener.
 */

const UA = 'AuditTest/1.0 (integration)';

/** `name{a="1",b="2"}` → value, labels sorted, so lookups do not depend on the exposition's order. */
type Samples = Map<string, number>;

function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter((pair) => pair.length > 0)
      .sort()
      .join(',');
    samples.set(`${match[1]}{${labels}}`, Number(match[3]));
  }
  return samples;
}

function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const key = `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;
  return samples.get(key) ?? 0;
}

function sumOf(samples: Samples, name: string, labelFilter: (labels: string) => boolean): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    if (key.slice(0, brace) === name && labelFilter(key.slice(brace))) sum += value;
  }
  return sum;
}

async function scrape(adminUrl: string): Promise<{ samples: Samples; text: string; contentType: string | null }> {
  const response = await fetch(`${adminUrl}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  return { samples: parseMetrics(text), text, contentType: response.headers.get('content-type') };
}

async function userEvents(s: ClockedStack, user: string): Promise<AuditEvent[]> {
  return (await s.stack.guard.audit.recent({ user, limit: 1000 })).reverse(); // oldest first
}

describe('audit trail and metrics after scripted traffic', () => {
  test('one stack, one script: events with their fields, one login joined by details.login, and the counters', { timeout: 60_000 }, async () => {
    const s = await startClockedStack({
      config: {
        risk: RISK_AT.high,
        factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors,
        regulation: { account: { max_failures: 2, window: '2m', ban: '5m' } },
      },
      start: { watchPolicy: true },
    });
    try {
      const before = await scrape(s.stack.adminUrl);
      assert.match(String(before.contentType), /^text\/plain/);
      assert.ok(before.samples.has('spg_process_cpu_user_seconds_total{}'), 'default process metrics, prefixed');
      assert.equal(before.text.includes('\nnodejs_') || before.text.startsWith('nodejs_'), false, 'nothing without the prefix');

      // The owner: two wrong passwords (the second bans the account).
      const attacker = s.client({ 'user-agent': UA });
      expectStatus(await attacker.login(OWNER, 'wrong-1'), 401, 'wrong password 1');
      expectStatus(await attacker.login(OWNER, 'wrong-2'), 401, 'wrong password 2');
      expectStatus(await attacker.login(OWNER, 'wrong-3'), 429, 'banned');

      // The merchant: SMS sign-in with one wrong code, three pass-through requests, a step-up on an export, logout.
      await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
      const merchant = s.client({ 'user-agent': UA });
      expectStatus(await merchant.login(MERCHANT), 200, 'login');
      expectStatus(await merchant.verify('000000'), 401, 'wrong code');
      expectStatus(await merchant.verify(lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'right code');
      const mid = await scrape(s.stack.adminUrl);
      for (let i = 0; i < 3; i++) expectStatus(await merchant.me(), 200, '/api/me');
      const afterPass = await scrape(s.stack.adminUrl);
      assertStepUpRequired(await apiCall(merchant, CONTACT_EXPORT), CONTACT_EXPORT, 'sms', 'export');
      expectStatus(await stepUpStart(merchant), 200, 'step-up/start');
      expectStatus(await stepUpVerify(merchant, lastCode(s.stack.outboxFile, MERCHANT_PHONE)), 200, 'step-up/verify');
      assertExported(await apiCall(merchant, CONTACT_EXPORT), 'export');
      expectStatus(await merchant.logout(), 200, 'logout');

      // Policy reloads: one good, one broken file.
      assert.equal((await s.stack.guard.policy.reload()).ok, true);
      const after = await scrape(s.stack.adminUrl);

      // --- the audit events of the merchant's sign-in, joined by details.login
      const merchantEvents = await userEvents(s, MERCHANT);
      const success = merchantEvents.find((e) => e.event === 'login_success');
      assert.ok(success, 'a login_success event');
      const loginId = success.details?.['login'];
      assert.equal(typeof loginId, 'string');
      const ofLogin = merchantEvents.filter((e) => e.details?.['login'] === loginId);
      assert.deepEqual(
        ofLogin.map((e) => e.event),
        ['login_verification_required', 'code_sent', 'verification_failure', 'verification_success', 'login_success'],
      );
      assert.equal(new Set(ofLogin.map((e) => e.requestId)).size, 3, 'three requests (password, wrong code, right code), one login id');
      for (const e of ofLogin) {
        assert.equal(e.user, MERCHANT);
        assert.equal(e.client, '127.0.0.1', `${e.event}: client`);
        assert.equal(e.userAgent, UA, `${e.event}: user agent`);
        assert.match(String(e.requestId), /^[0-9a-f]{12}-[0-9a-z]+$/, `${e.event}: request id`);
        assert.ok(!Number.isNaN(Date.parse(e.time)));
      }
      const [required, sent, failure, verified] = ofLogin;
      assert.equal(required?.reason, '2fa');
      assert.deepEqual(
        { channel: sent?.details?.['channel'], purpose: sent?.details?.['purpose'], destination: sent?.details?.['destination'], outcome: sent?.outcome },
        { channel: 'sms', purpose: 'login', destination: '+1 •••• ••89', outcome: 'success' },
      );
      assert.equal(failure?.reason, 'invalid');
      assert.equal(failure?.details?.['purpose'], 'login');
      assert.equal(verified?.details?.['via'], 'sms');
      assert.equal(success.details?.['factors'], 'password+sms');

      const stepUp = merchantEvents.find((e) => e.event === 'step_up');
      assert.deepEqual({ category: stepUp?.details?.['category'], via: stepUp?.details?.['via'], ua: stepUp?.userAgent }, { category: 'contact-export', via: 'sms', ua: UA });
      const exportRisk = merchantEvents.find((e) => e.event === 'risk_assessed' && e.details?.['category'] === 'contact-export');
      assert.ok(exportRisk?.risk, 'the export was risk-assessed');
      assert.equal(exportRisk.risk.level, 'high');
      assert.equal(exportRisk.risk.score, 50);
      assert.ok(exportRisk.risk.signals.length > 0);
      assert.ok(merchantEvents.some((e) => e.event === 'logout' && e.outcome === 'success' && e.userAgent === UA));

      // --- the owner's failures and the ban
      const ownerEvents = await userEvents(s, OWNER);
      assert.deepEqual(
        ownerEvents.map((e) => [e.event, e.reason]),
        [
          ['login_failure', 'invalid_credentials'],
          ['ban', 'too_many_failures'],
          ['login_failure', 'invalid_credentials'],
          ['login_failure', 'too_many_attempts'],
        ],
      );
      const ban = ownerEvents[1];
      assert.deepEqual({ subject: ban?.details?.['subject'], scope: ban?.details?.['scope'], seconds: ban?.details?.['ban_seconds'] }, { subject: 'account', scope: 'password', seconds: 300 });
      assert.equal(ban?.details?.['login'], ownerEvents[2]?.details?.['login'], 'the ban carries the login id of the attempt that caused it');
      assert.notEqual(ownerEvents[0]?.details?.['login'], ownerEvents[2]?.details?.['login'], 'each attempt has its own login id');

      const reloads = await s.stack.guard.audit.recent({ event: 'policy_reload', limit: 10 });
      assert.deepEqual(reloads.map((e) => [e.outcome, e.details?.['origin']]), [['success', 'reload']]);

      // --- the counters
      const m = after.samples;
      assert.equal(sample(m, 'spg_logins_total', { outcome: 'failure', reason: 'invalid_credentials' }), 2);
      assert.equal(sample(m, 'spg_logins_total', { outcome: 'failure', reason: 'too_many_attempts' }), 1);
      assert.equal(sample(m, 'spg_logins_total', { outcome: 'verification_required', reason: '2fa' }), 1);
      assert.equal(sample(m, 'spg_logins_total', { outcome: 'success', reason: '' }), 1);
      assert.equal(sample(m, 'spg_bans_total', { subject: 'account', scope: 'password' }), 1);
      assert.equal(sample(m, 'spg_codes_sent_total', { channel: 'sms', purpose: 'login' }), 1);
      assert.equal(sample(m, 'spg_codes_sent_total', { channel: 'sms', purpose: 'step_up' }), 1);
      assert.equal(sample(m, 'spg_verification_failures_total', { purpose: 'login', reason: 'invalid' }), 1);
      assert.equal(sample(m, 'spg_step_ups_total', { category: 'contact-export' }), 1);
      assert.equal(sample(m, 'spg_policy_reloads_total', { outcome: 'success' }), 1);
      assert.equal(sample(m, 'spg_audit_write_failures_total', { sink: 'sqlite' }), 0);
      // Requests by rule and decision: the three pass-throughs, counted and timed.
      const passed = (x: Samples, name: string): number => sumOf(x, name, (labels) => labels.includes('decision="pass"'));
      assert.equal(passed(afterPass.samples, 'spg_requests_total') - passed(mid.samples, 'spg_requests_total'), 3);
      assert.equal(passed(afterPass.samples, 'spg_request_duration_seconds_count') - passed(mid.samples, 'spg_request_duration_seconds_count'), 3);
      assert.equal(sample(m, 'spg_requests_total', { rule: 'contact-export', decision: 'step_up_required' }), 1);
      assert.equal(sample(m, 'spg_requests_total', { rule: 'contact-export', decision: 'pass' }), 1);
      // The session cookie of each of those requests came from the verified-cookie cache.
      const hits = (x: Samples): number => sample(x, 'spg_session_cache_hits_total');
      const misses = (x: Samples): number => sample(x, 'spg_session_cache_misses_total');
      assert.equal(hits(afterPass.samples) - hits(mid.samples), 3);
      assert.equal(misses(afterPass.samples) - misses(mid.samples), 0);
    } finally {
      await s.stack.close();
    }
  });

  test('a failed policy reload is audited with its reason and counted', { timeout: 30_000 }, async () => {
    const stack = await startStack({ policy: OPEN_POLICY, start: { watchPolicy: true } });
    try {
      writeFileSync(stack.policyFile, 'version: 1\nrules: [ { name: broken, paths: 42 } ]\n');
      const result = await stack.guard.policy.reload();
      assert.equal(result.ok, false);
      const failures = (await stack.guard.audit.recent({ event: 'policy_reload', limit: 10 })).filter((e) => e.outcome === 'failure');
      assert.ok(failures.length >= 1, 'a policy_reload failure event');
      assert.ok((failures[0]?.reason ?? '').length > 0, 'with the reason');
      const { samples } = await scrape(stack.adminUrl);
      assert.ok(sample(samples, 'spg_policy_reloads_total', { outcome: 'failure' }) >= 1);
    } finally {
      await stack.close();
    }
  });

  test('a GET whose pooled upstream connection had just been closed is answered all the same, and counted as a retry', { timeout: 30_000 }, async () => {
    // Each connection answers one request with keep-alive, then resets: its keep-alive timeout ran
    // out as the sidecar reused it.
    const answered = new WeakSet<net.Socket>();
    const upstream = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.on('data', () => {
        if (answered.has(socket)) return void socket.resetAndDestroy();
        answered.add(socket);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    // The sidecar's idle limit out of the way: the second request must find the connection pooled.
    const stack = await startStack({
      policy: OPEN_POLICY,
      upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      config: { upstream: { url: 'http://unused.invalid', idle_timeout: '10m' } },
    });
    try {
      for (const path of ['/one', '/two']) {
        const response = await fetch(`${stack.url}${path}`);
        assert.equal(response.status, 200, path);
        assert.equal(await response.text(), 'ok');
      }
      const { samples } = await scrape(stack.adminUrl);
      assert.equal(sample(samples, 'spg_upstream_retries_total'), 1);
      assert.equal(sumOf(samples, 'spg_upstream_errors_total', () => true), 0);
    } finally {
      await stack.close();
      upstream.close();
    }
  });

  test('an upstream that cannot be reached is counted as an upstream error', { timeout: 30_000 }, async () => {
    const stack = await startStack({ policy: OPEN_POLICY, upstreamUrl: 'http://127.0.0.1:9' });
    try {
      const response = await fetch(`${stack.url}/anything`);
      assert.equal(response.status, 502);
      await response.arrayBuffer();
      const { samples } = await scrape(stack.adminUrl);
      assert.equal(sumOf(samples, 'spg_upstream_errors_total', () => true), 1);
      assert.equal(sample(samples, 'spg_requests_total', { rule: 'everything-public', decision: 'pass' }), 1);
    } finally {
      await stack.close();
    }
  });
});
