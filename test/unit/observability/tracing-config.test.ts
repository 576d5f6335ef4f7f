import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../../src/config/schema.ts';
import { tracesUrl } from '../../../src/observability/tracing.ts';

/** The `tracing` key as the config schema reads it (absent: undefined). */
const tracingOf = (tracing?: unknown) => configSchema.shape.tracing.parse(tracing);

test('tracing is off unless an endpoint is given, with safe defaults', () => {
  const off = tracingOf();
  assert.equal(off.otlp_endpoint, undefined);
  assert.deepEqual(off, { service_name: 'smartpush-guard', sample_ratio: 1, headers: {}, record_path: true, timeout: 10_000 });
});

test('tracing settings: headers as strings or secret references; ratios and endpoints checked', () => {
  const on = tracingOf({ otlp_endpoint: 'https://collector.example.com:4318', sample_ratio: 0.25, headers: { authorization: { env: 'OTLP_AUTH' }, 'x-scope': 'team-a' } });
  assert.equal(on.sample_ratio, 0.25);
  assert.deepEqual(on.headers, { authorization: { env: 'OTLP_AUTH' }, 'x-scope': 'team-a' });
  assert.throws(() => tracingOf({ otlp_endpoint: 'ftp://collector' }));
  assert.throws(() => tracingOf({ otlp_endpoint: 'http://c:4318', sample_ratio: 1.5 }));
  assert.throws(() => tracingOf({ otlp_endpoint: 'http://c:4318', headers: { 'bad name': 'x' } }));
  assert.throws(() => tracingOf({ otlp_endpoint: 'http://c:4318', headers: { authorization: 'a\r\nx-injected: 1' } }));
  assert.throws(() => tracingOf({ otlp_endpoint: 'http://c:4318', sampling: 1 }), 'unknown keys are refused');
});

test('the traces URL: /v1/traces is added to a base URL, kept when given', () => {
  assert.equal(tracesUrl('http://collector:4318'), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl('http://collector:4318/'), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl('https://otlp.example.com/tenant-a'), 'https://otlp.example.com/tenant-a/v1/traces');
  assert.equal(tracesUrl('http://collector:4318/v1/traces'), 'http://collector:4318/v1/traces');
});
