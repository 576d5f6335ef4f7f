import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRiskConfig, RISK_SIGNALS, riskJsonSchema, riskSchema } from '../../../src/config/schema/risk.ts';

const issues = (input: unknown): string[] => {
  const result = riskSchema.safeParse(input);
  assert.equal(result.success, false, `${JSON.stringify(input)} should be refused`);
  return (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('an absent or empty risk block gives the demo defaults', () => {
  const expected = {
    signals: {
      unknown_device: { weight: 40 },
      new_network: { weight: 25 },
      risky_network: { weight: 50 },
      trusted_network: { weight: -30 },
      recent_login_failures: { weight: 20, threshold: 3, window: 3_600_000 },
      recent_verification_failures: { weight: 20, threshold: 3, window: 3_600_000 },
      sensitive_burst: { weight: 60, max: 3, window: 600_000 },
      user_agent_change: { weight: 15 },
    },
    unevaluable_weight: 50,
    networks: { risky: [], trusted: [] },
    history: { logins: 10 },
    levels: { medium: 30, high: 60 },
  };
  assert.deepEqual(defaultRiskConfig(), expected);
  assert.deepEqual(riskSchema.parse({}), expected);
  assert.deepEqual(riskSchema.parse(undefined), expected);
  assert.deepEqual(Object.keys(expected.signals).sort(), [...RISK_SIGNALS].sort());
});

test('partial blocks keep the other defaults; durations become milliseconds', () => {
  const config = riskSchema.parse({
    signals: { sensitive_burst: { max: 5 }, recent_login_failures: { window: '30m' } },
    networks: { trusted: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'] },
    levels: { high: 80 },
  });
  assert.deepEqual(config.signals.sensitive_burst, { weight: 60, max: 5, window: 600_000 });
  assert.deepEqual(config.signals.recent_login_failures, { weight: 20, threshold: 3, window: 1_800_000 });
  assert.deepEqual(config.networks, { risky: [], trusted: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'] });
  assert.deepEqual(config.levels, { medium: 30, high: 80 });
});

test('unknown keys are errors at every level', () => {
  assert.match(issues({ weights: {} }).join(), /Unrecognized key/);
  assert.match(issues({ signals: { unknown_devices: { weight: 40 } } }).join(), /^signals: Unrecognized key/);
  assert.match(issues({ signals: { unknown_device: { weight: 40, window: '1h' } } }).join(), /^signals\.unknown_device: Unrecognized key/);
  assert.match(issues({ networks: { blocked: [] } }).join(), /^networks: Unrecognized key/);
  assert.match(issues({ history: { login: 5 } }).join(), /^history: Unrecognized key/);
  assert.match(issues({ levels: { low: 0 } }).join(), /^levels: Unrecognized key/);
});

test('invalid values are refused with the path of the value', () => {
  assert.match(issues({ signals: { sensitive_burst: { window: '10 minutes' } } }).join(), /^signals\.sensitive_burst\.window: must be a duration/);
  assert.match(issues({ signals: { sensitive_burst: { window: '0m' } } }).join(), /window: must be longer than 0/);
  assert.match(issues({ signals: { sensitive_burst: { max: 0 } } }).join(), /^signals\.sensitive_burst\.max/);
  assert.match(issues({ signals: { recent_login_failures: { threshold: 1.5 } } }).join(), /^signals\.recent_login_failures\.threshold/);
  assert.match(issues({ signals: { new_network: { weight: -5 } } }).join(), /only trusted_network lowers the score/);
  assert.match(issues({ signals: { trusted_network: { weight: 30 } } }).join(), /a trusted network lowers the score/);
  assert.match(issues({ signals: { unknown_device: { weight: 2.5 } } }).join(), /whole number/);
  assert.match(issues({ unevaluable_weight: -1 }).join(), /^unevaluable_weight/);
  assert.match(issues({ history: { logins: 0 } }).join(), /^history\.logins/);
  assert.match(issues({ levels: { medium: 60, high: 60 } }).join(), /^levels\.high: high must be greater than medium/);
  assert.match(issues({ levels: { medium: 70 } }).join(), /^levels\.high: high must be greater than medium/);
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'example.com', '2001:db8::/129', '10.0.0.0/08x', '10.0.0.0/8/8', '']) {
    assert.match(issues({ networks: { risky: [bad] } }).join(), /^networks\.risky\.0: must be an IP address or CIDR range/, bad);
  }
});

test('riskJsonSchema describes the block as written, closed to unknown keys', () => {
  const schema = riskJsonSchema() as {
    $schema: string;
    type: string;
    additionalProperties: boolean;
    properties: Record<string, { properties?: Record<string, { properties?: Record<string, { type?: string; default?: unknown; pattern?: string }> }> }>;
  };
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schema.type, 'object');
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(Object.keys(schema.properties).sort(), ['history', 'levels', 'networks', 'signals', 'unevaluable_weight']);
  const burst = schema.properties.signals?.properties?.sensitive_burst?.properties;
  assert.equal(burst?.window?.type, 'string');
  assert.equal(burst?.window?.default, '10m');
  assert.equal(burst?.max?.default, 3);
  assert.deepEqual(Object.keys(schema.properties.signals?.properties ?? {}).sort(), [...RISK_SIGNALS].sort());
});
