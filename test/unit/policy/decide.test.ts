import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../src/policy/decide.ts';
import { compilePolicySource } from '../../../src/policy/load.ts';
import type { Decision, RiskLevel, UserState } from '../../../src/policy/types.ts';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

const policy = compilePolicySource(
  yaml(
    'version: 1',
    'intercept:',
    '  login: { paths: ["/login"], methods: [POST] }',
    '  logout: { paths: ["/logout"] }',
    'rules:',
    '  - name: contact-export',
    '    paths: ["/api/contacts/export"]',
    '    access: authenticated',
    '    sensitive: { category: contact-export, fresh_for: 10m }',
    '  - name: strict-export',
    '    paths: ["/api/strict"]',
    '    access: authenticated',
    '    sensitive:',
    '      category: strict',
    '      fresh_for: 1h',
    '      without_2fa: { low: pass, medium: email_code, high: deny }',
    '      with_2fa: { low: pass, medium: email_code, high: deny }',
    '  - { name: public, paths: ["/pub"], access: public }',
    '  - { name: closed, paths: ["/closed"], access: deny }',
    '  - { name: members, paths: ["/members"], access: authenticated }',
  ),
  'policies/p.yaml',
);

const at = (path: string, method = 'GET') => policy.match(method, path);
const ANON: UserState = { authenticated: false };
const USER: UserState = { authenticated: true };

describe('decide: access', () => {
  it('intercepts come before everything, whoever asks', () => {
    for (const user of [ANON, USER]) {
      assert.deepEqual(decide(at('/login', 'POST'), user).decision, { kind: 'intercept', intercept: 'login' });
      assert.deepEqual(decide(at('/logout', 'POST'), user).decision, { kind: 'intercept', intercept: 'logout' });
    }
  });

  it('deny denies even an authenticated, fresh user', () => {
    assert.deepEqual(decide(at('/closed'), { authenticated: true, twoFactorEnabled: true, risk: 'low', fresh: true }).decision, { kind: 'deny' });
    assert.deepEqual(decide(at('/closed'), ANON).decision, { kind: 'deny' });
  });

  it('public passes anyone', () => {
    assert.deepEqual(decide(at('/pub'), ANON).decision, { kind: 'pass' });
  });

  it('authenticated needs a session', () => {
    const anon = decide(at('/members'), ANON);
    assert.deepEqual(anon.decision, { kind: 'login_required' });
    assert.ok(anon.reasons.includes('rule requires an authenticated session; none present'), anon.reasons.join('\n'));
    assert.deepEqual(decide(at('/members'), USER).decision, { kind: 'pass' });
    assert.deepEqual(decide(at('/elsewhere'), ANON).decision, { kind: 'login_required' });
    assert.deepEqual(decide(at('/api/contacts/export'), ANON).decision, { kind: 'login_required' });
  });

  it('an unknown method is denied', () => {
    const e = decide(at('/pub', 'PROPFIND'), USER);
    assert.deepEqual(e.decision, { kind: 'deny' });
    assert.equal(e.rule.name, 'builtin:unknown-method');
  });

  it('the first reason names the rule and where it is written', () => {
    const e = decide(at('/api/contacts/export'), ANON);
    assert.equal(e.reasons[0], 'matched rule "contact-export" (policies/p.yaml:6:5)');
    assert.equal(e.rule.name, 'contact-export');
    assert.deepEqual(e.params, {});
    assert.match(decide(at('/nothing'), ANON).reasons[0] ?? '', /^no rule matched; the default applies/);
  });
});

describe('decide: sensitive rules (default tables)', () => {
  const levels: (RiskLevel | undefined)[] = ['low', 'medium', 'high', undefined];
  // without 2FA: email_code at every level; with 2FA: low pass, medium pass, high fresh_code
  const expectedAction = (twoFactor: boolean, level: RiskLevel | undefined): 'pass' | 'email_code' | 'fresh_code' =>
    !twoFactor ? 'email_code' : (level ?? 'high') === 'high' ? 'fresh_code' : 'pass';

  for (const twoFactor of [false, true]) {
    for (const level of levels) {
      for (const fresh of [false, true]) {
        const label = `2FA ${twoFactor ? 'on' : 'off'}, risk ${level ?? 'undefined'}, ${fresh ? 'fresh' : 'stale'}`;
        it(label, () => {
          const user: UserState = { authenticated: true, twoFactorEnabled: twoFactor, fresh, ...(level ? { risk: level } : {}) };
          const e = decide(at('/api/contacts/export'), user);
          const action = expectedAction(twoFactor, level);
          const expected: Decision =
            action === 'pass' || fresh ? { kind: 'pass' } : { kind: 'step_up_required', action };
          assert.deepEqual(e.decision, expected);
          assert.ok(
            e.reasons.includes(`${twoFactor ? '2FA enabled' : '2FA not enabled'}, risk ${level ?? 'not assessed, counted as high'} → ${action}`),
            e.reasons.join('\n'),
          );
          if (action !== 'pass' && fresh) assert.ok(e.reasons.includes('verification for category contact-export is fresh'), e.reasons.join('\n'));
        });
      }
    }
  }

  it('twoFactorEnabled undefined counts as off', () => {
    assert.deepEqual(decide(at('/api/contacts/export'), { authenticated: true, risk: 'low' }).decision, {
      kind: 'step_up_required',
      action: 'email_code',
    });
  });

  it('the reasons read as sentences', () => {
    const e = decide(at('/api/contacts/export'), { authenticated: true, twoFactorEnabled: true, risk: 'high' });
    assert.deepEqual(e.reasons, [
      'matched rule "contact-export" (policies/p.yaml:6:5)',
      'an authenticated session is present',
      'sensitive operation (category contact-export, verification fresh for 10m)',
      '2FA enabled, risk high → fresh_code',
      'no fresh verification for category contact-export; step-up required',
    ]);
  });
});

describe('decide: sensitive rules (custom tables with pass and deny)', () => {
  it('pass needs no verification, deny refuses even when fresh', () => {
    for (const twoFactorEnabled of [false, true]) {
      assert.deepEqual(decide(at('/api/strict'), { authenticated: true, twoFactorEnabled, risk: 'low' }).decision, { kind: 'pass' });
      assert.deepEqual(decide(at('/api/strict'), { authenticated: true, twoFactorEnabled, risk: 'medium' }).decision, {
        kind: 'step_up_required',
        action: 'email_code',
      });
      assert.deepEqual(decide(at('/api/strict'), { authenticated: true, twoFactorEnabled, risk: 'high', fresh: true }).decision, { kind: 'deny' });
      assert.deepEqual(decide(at('/api/strict'), { authenticated: true, twoFactorEnabled, fresh: true }).decision, { kind: 'deny' });
    }
  });

  it('a risk level it does not know is refused, not passed', () => {
    const user = { authenticated: true, risk: 'extreme' } as unknown as UserState;
    assert.deepEqual(decide(at('/api/strict'), user).decision, { kind: 'deny' });
  });
});
