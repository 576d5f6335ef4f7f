import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { Metrics } from '../../../src/observability/metrics.ts';

/**
 * The Grafana dashboard (deploy/grafana/) and the Prometheus alert rules (deploy/prometheus/)
 * parse, have the shape their tools load, and name only metrics the sidecar really exports: every
 * `spg_` name is looked up in the `# TYPE` lines of a real registry's exposition (so a renamed or
 * removed metric breaks this test, not a dashboard in production).
 */

const DEPLOY = resolve('deploy');
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function exportedMetricNames(): Promise<Set<string>> {
  const body = (await new Metrics().render()).body;
  return new Set([...body.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => m[1] as string));
}

/** The metric a series name belongs to: histogram series carry _bucket/_sum/_count. */
function metricOf(series: string, known: Set<string>): string | undefined {
  if (known.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return base !== series && known.has(base) ? base : undefined;
}

function namesIn(expr: string): string[] {
  return [...expr.matchAll(/\bspg_[a-z0-9_]+/g)].map((m) => m[0]);
}

/** Brackets balance and close in order (a cheap guard against a broken PromQL edit; promtool is not available here). */
function balanced(expr: string): boolean {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  let quoted = false;
  for (const ch of expr) {
    if (ch === '"') quoted = !quoted;
    if (quoted) continue;
    if ('([{'.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0 && !quoted;
}

function alertRules(): Doc[] {
  const doc = parse(readFileSync(join(DEPLOY, 'prometheus', 'alerts.yaml'), 'utf8'), { uniqueKeys: true }) as Doc;
  return (doc['groups'] as Doc[]).flatMap((g) => g['rules'] as Doc[]);
}

function dashboard(): Doc {
  return JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'smartpush-guard.json'), 'utf8')) as Doc;
}

test('the name checker itself: finds real names, refuses made-up ones', async () => {
  const known = await exportedMetricNames();
  assert.equal(metricOf('spg_request_duration_seconds_bucket', known), 'spg_request_duration_seconds');
  assert.equal(metricOf('spg_requests_total', known), 'spg_requests_total');
  assert.equal(metricOf('spg_requests_count', known), undefined);
  assert.equal(metricOf('spg_no_such_metric_total', known), undefined);
  assert.equal(balanced('sum(rate(x{a="(" }[5m]))'), true);
  assert.equal(balanced('sum(rate(x[5m])'), false);
});

test('alerts.yaml: a Prometheus rule file covering 5xx, store down, readiness, bans and code sending', async () => {
  const known = await exportedMetricNames();
  const rules = alertRules();
  const names = rules.map((r) => r['alert'] as string);
  assert.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const rule of rules) {
    const name = rule['alert'] as string;
    assert.match(name, /^SmartpushGuard[A-Z][A-Za-z0-9]+$/);
    assert.equal(typeof rule['expr'], 'string', name);
    assert.ok(balanced(rule['expr'] as string), `${name}: brackets balance`);
    if (rule['for'] !== undefined) assert.match(rule['for'] as string, /^\d+[smh]$/, name);
    assert.ok(['warning', 'critical'].includes(rule['labels']['severity'] as string), `${name}: severity`);
    assert.ok((rule['annotations']['summary'] as string).length > 0, `${name}: summary`);
    const used = namesIn(rule['expr'] as string);
    assert.ok(used.length > 0, `${name} reads a spg_ metric`);
    for (const series of used) assert.ok(metricOf(series, known), `${name}: ${series} is exported by src/observability/metrics.ts`);
  }
  const exprOf = (alert: string): string => rules.find((r) => r['alert'] === alert)?.['expr'] as string;
  assert.match(exprOf('SmartpushGuardHigh5xxRate'), /spg_responses_total\{class="5xx"\}/);
  assert.match(exprOf('SmartpushGuardStoreDown'), /spg_store_errors_total/);
  assert.match(exprOf('SmartpushGuardNotReady'), /spg_ready/);
  assert.match(exprOf('SmartpushGuardBansSpiking'), /spg_bans_total/);
  assert.match(exprOf('SmartpushGuardCodesFailingToSend'), /spg_code_send_failures_total\{reason="delivery_failed"\}/);
});

test('the Grafana dashboard: valid JSON, every panel queries exported spg_ metrics, variables defined, layout in the grid', async () => {
  const known = await exportedMetricNames();
  const dash = dashboard();
  assert.equal(dash['uid'], 'smartpush-guard');
  const variables = new Set((dash['templating']['list'] as Doc[]).map((v) => v['name'] as string));
  assert.deepEqual([...variables], ['datasource', 'instance']);
  const panels = dash['panels'] as Doc[];
  const ids = panels.map((p) => p['id']);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const used = new Set<string>();
  for (const panel of panels) {
    const grid = panel['gridPos'] as { x: number; w: number; h: number; y: number };
    assert.ok(grid.x >= 0 && grid.x + grid.w <= 24 && grid.h > 0, `${panel['title']}: inside the 24-column grid`);
    if (panel['type'] === 'row') continue;
    assert.equal(panel['datasource']['uid'], '${datasource}');
    const targets = panel['targets'] as Doc[];
    assert.ok(targets.length > 0, `${panel['title']} has a query`);
    for (const target of targets) {
      const expr = target['expr'] as string;
      assert.ok(balanced(expr), `${panel['title']}: brackets balance in ${expr}`);
      for (const [, variable] of expr.matchAll(/\$(\w+)/g)) {
        assert.ok(variable === '__rate_interval' || variables.has(variable as string), `${panel['title']}: $${variable} is defined`);
      }
      for (const series of namesIn(expr)) {
        const metric = metricOf(series, known);
        assert.ok(metric, `${panel['title']}: ${series} is exported by src/observability/metrics.ts`);
        used.add(metric);
      }
    }
  }
  // The security and health counters all have a panel.
  for (const metric of ['spg_requests_total', 'spg_responses_total', 'spg_ready', 'spg_store_errors_total', 'spg_logins_total', 'spg_bans_total', 'spg_codes_sent_total', 'spg_code_send_failures_total', 'spg_verification_failures_total', 'spg_upstream_errors_total']) {
    assert.ok(used.has(metric), `a panel shows ${metric}`);
  }
});

test('the metrics the alerts need: responses by status class, codes not sent, readiness', async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  for (const status of [200, 204, 302, 404, 502, 503, 503]) metrics.observeResponse(status);
  metrics.countAuditEvent({ time: '2026-12-01T00:00:00.000Z', event: 'code_sent', outcome: 'failure', reason: 'delivery_failed', user: 'a@example.com', details: { channel: 'sms', purpose: 'login' } });
  metrics.countAuditEvent({ time: '2026-12-01T00:00:00.000Z', event: 'code_sent', outcome: 'success', user: 'a@example.com', details: { channel: 'email', purpose: 'login' } });
  let ready = true;
  metrics.setReadiness(async () => ({ ready }));
  let body = (await metrics.render()).body;
  assert.match(body, /^spg_responses_total\{class="2xx"\} 2$/m);
  assert.match(body, /^spg_responses_total\{class="3xx"\} 1$/m);
  assert.match(body, /^spg_responses_total\{class="4xx"\} 1$/m);
  assert.match(body, /^spg_responses_total\{class="5xx"\} 3$/m);
  assert.match(body, /^spg_code_send_failures_total\{channel="sms",reason="delivery_failed"\} 1$/m);
  assert.match(body, /^spg_codes_sent_total\{channel="email",purpose="login"\} 1$/m);
  assert.doesNotMatch(body, /spg_code_send_failures_total\{channel="email"/);
  assert.match(body, /^spg_ready 1$/m);
  ready = false;
  body = (await metrics.render()).body;
  assert.match(body, /^spg_ready 0$/m);
});
