/**
 * The risk engine: a pure, deterministic score from the facts of one request and the `risk:`
 * configuration. It runs every signal of the registry (`signals/index.ts`) in order. Each signal
 * that fires adds its weight; a risk-raising signal whose fact could not be established
 * (`'unknown'`, or an address that is not an address) adds the `unevaluable_weight` instead and is
 * reported with `evaluated: false` (fail safe). A trusted network lowers the score, never below 0;
 * an address in both network lists counts as risky only. The assessment lists every signal that
 * made the score, for the audit log and `policy explain`.
 */
import type { RiskLevel } from '../policy/types.ts';
import type { RiskFacts } from './facts.ts';
import type { RiskConfig, RiskSignalName } from '../config/schema/risk.ts';
import { RISK_SIGNAL_REGISTRY } from './signals/index.ts';
import type { RiskSignal } from './signals/signal.ts';

/** One signal's part in an assessment. */
interface ScoredSignal<N extends string = RiskSignalName> {
  readonly name: N;
  /** What it added to the score (negative for a trusted network). */
  readonly weight: number;
  /** Why, in a few words, without secrets: shown in the audit log and explanations. */
  readonly detail: string;
  /** False: the fact could not be established and the signal counted as risky. */
  readonly evaluated: boolean;
}

export interface RiskAssessment<N extends string = RiskSignalName> {
  readonly level: RiskLevel;
  /** The sum of the signals' weights, at least 0. */
  readonly score: number;
  /** The signals that fired or could not be evaluated, in registry (`RISK_SIGNALS`) order. */
  readonly signals: readonly ScoredSignal<N>[];
  /** When the assessment was made, when the caller gave a time. */
  readonly assessedAt?: number;
}

export function levelFor(config: RiskConfig, score: number): RiskLevel {
  if (score >= config.levels.high) return 'high';
  if (score >= config.levels.medium) return 'medium';
  return 'low';
}

/**
 * Scores the facts of one request. Pure: the same configuration and facts give the same result.
 * `registry` is the built-in one unless a caller (a test) passes its own list of signals.
 */
export function assessRisk(config: RiskConfig, facts: RiskFacts, now?: number): RiskAssessment;
export function assessRisk<N extends string>(
  config: RiskConfig,
  facts: RiskFacts,
  now: number | undefined,
  registry: readonly RiskSignal<N>[],
): RiskAssessment<N>;
export function assessRisk(
  config: RiskConfig,
  facts: RiskFacts,
  now?: number,
  registry: readonly RiskSignal[] = RISK_SIGNAL_REGISTRY,
): RiskAssessment<string> {
  const signals: ScoredSignal<string>[] = [];
  for (const signal of registry) {
    const weight = signal.weight(config);
    const outcome = signal.evaluate(facts, config);
    if (outcome.kind === 'fired') {
      if (weight !== 0) signals.push({ name: signal.name, weight, detail: outcome.detail, evaluated: true });
    } else if (outcome.kind === 'unknown') {
      // A risk-raising signal that could not be evaluated counts with the unevaluable weight.
      if (weight > 0) {
        signals.push({ name: signal.name, weight: config.unevaluable_weight, detail: `could not be evaluated: ${outcome.why}`, evaluated: false });
      }
    }
  }
  const score = Math.max(0, signals.reduce((sum, signal) => sum + signal.weight, 0));
  return { level: levelFor(config, score), score, signals, ...(now === undefined ? {} : { assessedAt: now }) };
}

function signed(weight: number): string {
  return weight < 0 ? `${weight}` : `+${weight}`;
}

/**
 * One plain sentence per signal, for `policy explain` and the audit log. Each line starts with the
 * signal's label from `registry` (the one the assessment was made with).
 */
export function explainRisk<N extends string>(
  assessment: RiskAssessment<N>,
  registry: readonly RiskSignal<N>[] | readonly RiskSignal[] = RISK_SIGNAL_REGISTRY,
): string[] {
  const labels = new Map<string, string>(registry.map((signal: RiskSignal) => [signal.name, signal.label]));
  return assessment.signals.map((signal) => {
    const label = labels.get(signal.name) ?? signal.name;
    return signal.evaluated
      ? `${label} (${signed(signal.weight)}): ${signal.detail}.`
      : `${label} (${signed(signal.weight)}): ${signal.detail}, so it counts as risky.`;
  });
}
