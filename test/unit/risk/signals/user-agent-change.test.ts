import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userAgentChange } from '../../../../src/risk/signals/user-agent-change.ts';
import { assertQuiet, CHROME_WINDOWS, CHROME_WINDOWS_NEWER, config, FIREFOX_LINUX, run } from '../../../helpers/risk-signal.ts';

test('user_agent_change: the same family, a browser update, or no previous login is quiet', () => {
  assertQuiet(userAgentChange, { userAgent: CHROME_WINDOWS, previousUserAgent: CHROME_WINDOWS });
  assertQuiet(userAgentChange, { userAgent: CHROME_WINDOWS_NEWER, previousUserAgent: CHROME_WINDOWS });
  assertQuiet(userAgentChange, { userAgent: FIREFOX_LINUX, previousUserAgent: null });
});

test('user_agent_change: another browser or OS family scores its weight, with its explanation', () => {
  const r = run(userAgentChange, { userAgent: FIREFOX_LINUX, previousUserAgent: CHROME_WINDOWS });
  assert.deepEqual(r.assessment.signals, [
    { name: 'user_agent_change', weight: 15, detail: 'browser changed from chrome on windows to firefox on linux', evaluated: true },
  ]);
  assert.deepEqual(r.lines, ['Browser change (+15): browser changed from chrome on windows to firefox on linux.']);
  assert.deepEqual(run(userAgentChange, { userAgent: '', previousUserAgent: CHROME_WINDOWS }).lines, [
    'Browser change (+15): browser changed from chrome on windows to other on other.',
  ]);
});

test('user_agent_change: an unreadable previous login counts as risky', () => {
  const r = run(userAgentChange, { previousUserAgent: 'unknown' });
  assert.deepEqual(r.outcome, { kind: 'unknown', why: 'the previous login could not be read' });
  assert.deepEqual(r.lines, ['Browser change (+50): could not be evaluated: the previous login could not be read, so it counts as risky.']);
});

test('user_agent_change: its weight is the configured one; 0 switches it off', () => {
  const changed = { userAgent: FIREFOX_LINUX, previousUserAgent: CHROME_WINDOWS };
  assert.equal(run(userAgentChange, changed, config({ signals: { user_agent_change: { weight: 4 } } })).assessment.score, 4);
  const off = config({ signals: { user_agent_change: { weight: 0 } } });
  assert.deepEqual(run(userAgentChange, changed, off).assessment.signals, []);
  assert.deepEqual(run(userAgentChange, { previousUserAgent: 'unknown' }, off).assessment.signals, []);
});
