/**
 * The one interface every risk signal implements. A signal is pure: from the facts of one request
 * and the `risk:` configuration it says whether it fired (and why, in a few words for the audit
 * log), stayed quiet, or could not be evaluated because a fact it needs is unknown. The engine
 * (`assess.ts`) adds the signal's weight when it fired, and the configured `unevaluable_weight`
 * when a risk-raising signal (weight > 0) could not be evaluated (fail safe).
 */
import type { RiskFacts } from '../facts.ts';
import type { RiskConfig, RiskSignalName } from '../../config/schema/risk.ts';

/** What a signal made of one request's facts. */
export type SignalOutcome =
  /** Counts with the signal's weight; `detail` says why, without secrets. */
  | { readonly kind: 'fired'; readonly detail: string }
  /** A fact it needs is unknown: counts with `unevaluable_weight` if the signal raises risk. */
  | { readonly kind: 'unknown'; readonly why: string }
  /** Nothing to report. */
  | { readonly kind: 'quiet' };

export interface RiskSignal<N extends string = string> {
  /** Its key under `risk.signals` in the configuration, and its name in assessments. */
  readonly name: N;
  /** A short English title, the start of its line in the audit log (`explainRisk`). */
  readonly label: string;
  /** The facts `evaluate` reads (documentation, and checked by the signals' unit tests). */
  readonly facts: readonly (keyof RiskFacts)[];
  /** Its weight in this configuration: > 0 raises the score, < 0 lowers it, 0 switches it off. */
  weight(config: RiskConfig): number;
  evaluate(facts: RiskFacts, config: RiskConfig): SignalOutcome;
}

/** A signal the configuration schema knows (`RISK_SIGNALS`). */
export type BuiltInRiskSignal = RiskSignal<RiskSignalName>;

export const fired = (detail: string): SignalOutcome => ({ kind: 'fired', detail });
export const unevaluable = (why: string): SignalOutcome => ({ kind: 'unknown', why });
export const QUIET: SignalOutcome = Object.freeze({ kind: 'quiet' });

/** The weight of a built-in signal: `risk.signals.<name>.weight`. */
export const configuredWeight =
  (name: RiskSignalName) =>
  (config: RiskConfig): number =>
    config.signals[name].weight;
