import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../../src/config/duration.ts';
import { policyJsonSchema } from '../../../src/policy/schema.ts';
import { JSON_SCHEMAS } from '../../../scripts/write-schemas.ts';

describe('policy JSON Schema', () => {
  it('the committed schema/*.schema.json files are up to date (run: npm run schema)', async () => {
    assert.equal(JSON_SCHEMAS.length, 3);
    for (const schema of JSON_SCHEMAS) {
      const committed = await readFile(schema.file, 'utf8');
      assert.equal(committed, schema.render(), `${schema.file} is stale`);
    }
  });

  it('is draft 2020-12, closed to unknown keys, with the required fields', () => {
    const schema = policyJsonSchema() as {
      $schema: string;
      additionalProperties: boolean;
      required: string[];
      properties: { rules: { items: { required: string[]; additionalProperties: boolean; properties: Record<string, unknown> } } };
    };
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.required, ['version']);
    const rule = schema.properties.rules.items;
    assert.deepEqual([...rule.required].sort(), ['access', 'name', 'paths']);
    assert.equal(rule.additionalProperties, false);
    assert.deepEqual(rule.properties['access'], {
      type: 'string',
      enum: ['public', 'authenticated', 'deny'],
      description: 'public: anyone; authenticated: a full sidecar session; deny: 403 for everyone',
    });
  });

  it('the demo policy points editors at it', async () => {
    const demo = await readFile(new URL('../../../policies/smartpush.yaml', import.meta.url), 'utf8');
    assert.match(demo, /^# yaml-language-server: \$schema=\.\.\/schema\/policy\.schema\.json$/m);
  });
});

describe('durations', () => {
  it('parses integers with a unit', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('12h'), 43_200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('0s'), 0);
  });

  it('refuses anything else', () => {
    for (const text of ['', '10', 'm', '1.5h', '-1m', '10 m', '10M', '1w', '01m', ' 1m', '1m ', '99999999999999999999d']) {
      assert.equal(parseDuration(text), null, JSON.stringify(text));
    }
  });

  it('formats the shortest exact form', () => {
    assert.equal(formatDuration(600_000), '10m');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(86_400_000), '1d');
    assert.equal(formatDuration(1500), '1500ms');
    assert.equal(formatDuration(0), '0s');
    assert.throws(() => formatDuration(-1), RangeError);
  });
});
