/**
 * For the risk signals' unit tests: runs ONE signal through the real engine (`assessRisk` with a
 * registry of that signal alone), on facts that throw when the signal reads a fact it did not
 * declare in `facts`.
 */
import assert from 'node:assert/strict';
import { assessRisk, explainRisk, type RiskAssessment } from '../../src/risk/assess.ts';
import type { RiskFacts } from '../../src/risk/facts.ts';
import { defaultRiskConfig, riskSchema, type RiskConfig, type RiskConfigInput } from '../../src/config/schema/risk.ts';
import type { RiskSignal, SignalOutcome } from '../../src/risk/signals/signal.ts';

export const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
export const CHROME_WINDOWS_NEWER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36';
export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';

/** A returning user on a known device from a familiar network: no signal fires. */
export const CALM: RiskFacts = Object.freeze({
  deviceKnown: true,
  network: '198.51.100.7',
  recentNetworks: Object.freeze(['198.51.100.20', '192.0.2.1']),
  recentLoginFailures: 0,
  recentVerificationFailures: 0,
  sensitiveOperationsInWindow: 1,
  userAgent: CHROME_WINDOWS,
  previousUserAgent: CHROME_WINDOWS,
});

export const DEFAULTS = defaultRiskConfig();
export const config = (input: RiskConfigInput): RiskConfig => riskSchema.parse(input);

/** CALM with `changes`, as a view that fails the test when `signal` reads an undeclared fact. */
export function declaredOnly(signal: RiskSignal, changes: Partial<RiskFacts> = {}): RiskFacts {
  const facts: RiskFacts = { ...CALM, ...changes };
  const declared = new Set<string>(signal.facts);
  return new Proxy(facts, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !declared.has(key)) assert.fail(`${signal.name} read the fact ${key} it does not declare`);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

export interface Run {
  readonly outcome: SignalOutcome;
  readonly assessment: RiskAssessment<string>;
  /** explainRisk's lines: none when the signal did not count. */
  readonly lines: string[];
}

/** The signal alone: its own outcome, and what the engine made of it. */
export function run(signal: RiskSignal, changes: Partial<RiskFacts> = {}, cfg: RiskConfig = DEFAULTS): Run {
  const outcome = signal.evaluate(declaredOnly(signal, changes), cfg);
  const assessment = assessRisk(cfg, declaredOnly(signal, changes), undefined, [signal]);
  return { outcome, assessment, lines: explainRisk(assessment, [signal]) };
}

/** Asserts the signal stays quiet: nothing in the assessment. */
export function assertQuiet(signal: RiskSignal, changes: Partial<RiskFacts> = {}, cfg: RiskConfig = DEFAULTS): void {
  const r = run(signal, changes, cfg);
  assert.deepEqual(r.outcome, { kind: 'quiet' }, JSON.stringify(changes));
  assert.deepEqual(r.assessment.signals, []);
  assert.equal(r.assessment.score, 0);
}
