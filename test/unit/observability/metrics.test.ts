import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { Metrics } from '../../../src/observability/metrics.ts';

const lines = (text: string, prefix: string): string[] => text.split('\n').filter((line) => line.startsWith(prefix));

test('requests are counted and timed by rule and decision, with cumulative buckets', async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.observeRequest('app', 'pass', 0.0004);
  metrics.observeRequest('app', 'pass', 0.003);
  metrics.observeRequest('app', 'pass', 0.003);
  metrics.observeRequest('app', 'pass', 45);
  metrics.observeRequest('(none)', 'reject', 0.001);
  const { body, contentType } = await metrics.render();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.ok(body.includes('# TYPE spg_requests_total counter'));
  assert.ok(body.includes('# TYPE spg_request_duration_seconds histogram'));
  assert.deepEqual(lines(body, 'spg_requests_total'), ['spg_requests_total{rule="app",decision="pass"} 4', 'spg_requests_total{rule="(none)",decision="reject"} 1']);
  const app = lines(body, 'spg_request_duration_seconds_bucket{rule="app"');
  assert.deepEqual(app.slice(0, 4), [
    'spg_request_duration_seconds_bucket{rule="app",decision="pass",le="0.001"} 1',
    'spg_request_duration_seconds_bucket{rule="app",decision="pass",le="0.0025"} 1',
    'spg_request_duration_seconds_bucket{rule="app",decision="pass",le="0.005"} 3',
    'spg_request_duration_seconds_bucket{rule="app",decision="pass",le="0.01"} 3',
  ]);
  assert.equal(app.at(-2), 'spg_request_duration_seconds_bucket{rule="app",decision="pass",le="30"} 3');
  assert.equal(app.at(-1), 'spg_request_duration_seconds_bucket{rule="app",decision="pass",le="+Inf"} 4');
  assert.deepEqual(lines(body, 'spg_request_duration_seconds_count{rule="app"'), ['spg_request_duration_seconds_count{rule="app",decision="pass"} 4']);
  const sum = Number(lines(body, 'spg_request_duration_seconds_sum{rule="app"')[0]?.split(' ')[1]);
  assert.ok(Math.abs(sum - 45.0064) < 1e-9, String(sum));
  assert.deepEqual(lines(body, 'spg_request_duration_seconds_bucket{rule="(none)"')[0], 'spg_request_duration_seconds_bucket{rule="(none)",decision="reject",le="0.001"} 1', 'a bound is inclusive');
});

test('security counters come from audit events', async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  const time = new Date(0).toISOString();
  metrics.countAuditEvent({ time, event: 'login_success', outcome: 'success' });
  metrics.countAuditEvent({ time, event: 'login_failure', outcome: 'failure', reason: 'invalid_credentials' });
  metrics.countAuditEvent({ time, event: 'code_sent', outcome: 'success', details: { channel: 'email', purpose: 'risk' } });
  metrics.countAuditEvent({ time, event: 'code_sent', outcome: 'failure', reason: 'cooldown', details: { channel: 'email', purpose: 'risk' } });
  metrics.countAuditEvent({ time, event: 'verification_failure', outcome: 'failure', reason: 'expired', details: { purpose: 'step_up' } });
  metrics.countAuditEvent({ time, event: 'ban', outcome: 'info', details: { subject: 'address', scope: 'second_factor' } });
  metrics.countAuditEvent({ time, event: 'step_up', outcome: 'success', details: { category: 'campaign-export' } });
  metrics.countAuditEvent({ time, event: 'policy_reload', outcome: 'failure' });
  metrics.countAuditEvent({ time, event: 'logout', outcome: 'success' });
  metrics.sessionCache.hit();
  metrics.sessionCache.hit();
  metrics.sessionCache.miss();
  metrics.upstreamError('timeout');
  metrics.upstreamRetry();
  metrics.storeError('request');
  metrics.auditWriteFailure('file');
  const { body } = await metrics.render();
  for (const line of [
    'spg_logins_total{outcome="success",reason=""} 1',
    'spg_logins_total{outcome="failure",reason="invalid_credentials"} 1',
    'spg_codes_sent_total{channel="email",purpose="risk"} 1',
    'spg_verification_failures_total{purpose="step_up",reason="expired"} 1',
    'spg_bans_total{subject="address",scope="second_factor"} 1',
    'spg_step_ups_total{category="campaign-export"} 1',
    'spg_policy_reloads_total{outcome="failure"} 1',
    'spg_session_cache_hits_total 2',
    'spg_session_cache_misses_total 1',
    'spg_upstream_errors_total{failure="timeout"} 1',
    'spg_upstream_retries_total 1',
    'spg_store_errors_total{where="request"} 1',
    'spg_audit_write_failures_total{sink="file"} 1',
  ]) {
    assert.ok(body.split('\n').includes(line), `missing: ${line}`);
  }
});

test('each sidecar has its own registry: two instances do not collide and the global registry stays empty', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.sessionCache.hit();
  assert.ok((await a.render()).body.includes('spg_session_cache_hits_total 1'));
  assert.ok((await b.render()).body.includes('spg_session_cache_hits_total 0'));
  assert.ok((await a.render()).body.includes('spg_process_cpu_user_seconds_total'), 'default process metrics, prefixed');
  assert.equal(globalRegistry.getMetricsAsArray().length, 0);
});
