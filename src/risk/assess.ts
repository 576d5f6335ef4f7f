/**
 * The risk engine: a pure, deterministic score from the facts of one request and the `risk:`
 * configuration. Each signal that fires adds its weight; a risk-raising signal whose fact could
 * not be established (`'unknown'`, or an address that is not an address) adds the
 * `unevaluable_weight` instead and is reported with `evaluated: false` (fail safe). A trusted
 * network lowers the score, never below 0; an address in both network lists counts as risky only.
 * The assessment lists every signal that made the score, for the audit log and `policy explain`.
 */
import { BlockList, isIP } from 'node:net';
import type { RiskLevel } from '../policy/types.ts';
import type { RiskConfig, RiskSignalName } from './schema.ts';
import { formatUserAgentFamily, networkPrefix, unmapAddress, userAgentFamily, type RiskFacts } from './signals.ts';

export interface RiskSignal {
  readonly name: RiskSignalName;
  /** What it added to the score (negative for a trusted network). */
  readonly weight: number;
  /** Why, in a few words, without secrets: shown in the audit log and explanations. */
  readonly detail: string;
  /** False: the fact could not be established and the signal counted as risky. */
  readonly evaluated: boolean;
}

export interface RiskAssessment {
  readonly level: RiskLevel;
  /** The sum of the signals' weights, at least 0. */
  readonly score: number;
  /** The signals that fired or could not be evaluated, in `RISK_SIGNALS` order. */
  readonly signals: readonly RiskSignal[];
  /** When the assessment was made, when the caller gave a time. */
  readonly assessedAt?: number;
}

interface CompiledNetworks {
  readonly risky: BlockList;
  readonly trusted: BlockList;
}

/** Network lists compiled once per configuration object (configurations are immutable values). */
const compiled = new WeakMap<RiskConfig, CompiledNetworks>();

function blockList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [rawAddress, bits] = range.split('/') as [string, string | undefined];
    const address = unmapAddress(rawAddress);
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    // A mapped range (::ffff:a.b.c.d/n, n ≥ 96) is the IPv4 range it carries.
    const prefix = bits === undefined ? undefined : address === rawAddress ? Number(bits) : Math.max(0, Number(bits) - 96);
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return list;
}

function networksOf(config: RiskConfig): CompiledNetworks {
  let networks = compiled.get(config);
  if (!networks) {
    networks = { risky: blockList(config.networks.risky), trusted: blockList(config.networks.trusted) };
    compiled.set(config, networks);
  }
  return networks;
}

function isCount(value: number | 'unknown'): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function minutes(ms: number): string {
  if (ms % 86_400_000 === 0) return plural(ms / 86_400_000, 'day');
  if (ms % 3_600_000 === 0) return plural(ms / 3_600_000, 'hour');
  if (ms % 60_000 === 0) return plural(ms / 60_000, 'minute');
  return plural(Math.ceil(ms / 1000), 'second');
}

export function levelFor(config: RiskConfig, score: number): RiskLevel {
  if (score >= config.levels.high) return 'high';
  if (score >= config.levels.medium) return 'medium';
  return 'low';
}

/** Scores the facts of one request. Pure: the same configuration and facts give the same result. */
export function assessRisk(config: RiskConfig, facts: RiskFacts, now?: number): RiskAssessment {
  const signals: RiskSignal[] = [];
  const { signals: weights, unevaluable_weight: unevaluable } = config;

  const fired = (name: RiskSignalName, detail: string): void => {
    const weight = weights[name].weight;
    if (weight !== 0) signals.push({ name, weight, detail, evaluated: true });
  };
  /** A risk-raising signal that could not be evaluated counts with the unevaluable weight. */
  const unknown = (name: RiskSignalName, why: string): void => {
    if (weights[name].weight > 0) signals.push({ name, weight: unevaluable, detail: `could not be evaluated: ${why}`, evaluated: false });
  };

  // unknown_device
  if (facts.deviceKnown === 'unknown') unknown('unknown_device', 'the known devices could not be read');
  else if (!facts.deviceKnown) fired('unknown_device', 'this device has not signed in to the account before');

  const address = unmapAddress(facts.network);
  const family = isIP(address);
  const prefix = networkPrefix(address);

  // new_network
  if (prefix === null) unknown('new_network', 'the client address is not an IP address');
  else if (facts.recentNetworks === 'unknown') unknown('new_network', 'the login history could not be read');
  else if (facts.recentNetworks.length > 0 && !facts.recentNetworks.some((seen) => networkPrefix(seen) === prefix)) {
    fired('new_network', `network ${prefix} is not among the account's last ${plural(facts.recentNetworks.length, 'login')}`);
  }

  // risky_network / trusted_network
  if (family === 0) {
    unknown('risky_network', 'the client address is not an IP address');
  } else {
    const type = family === 6 ? 'ipv6' : 'ipv4';
    const networks = networksOf(config);
    const risky = networks.risky.check(address, type);
    const trusted = networks.trusted.check(address, type);
    if (risky) fired('risky_network', trusted ? `${address} is in a risky network (also listed as trusted: counted as risky)` : `${address} is in a risky network`);
    else if (trusted) fired('trusted_network', `${address} is in a trusted network`);
  }

  // recent_login_failures / recent_verification_failures
  const failures = (name: 'recent_login_failures' | 'recent_verification_failures', count: number | 'unknown', what: string): void => {
    const { threshold, window } = weights[name];
    if (!isCount(count)) unknown(name, `the count of ${what}s could not be read`);
    else if (count >= threshold) fired(name, `${plural(count, what)} within ${minutes(window)} (threshold ${threshold})`);
  };
  failures('recent_login_failures', facts.recentLoginFailures, 'failed login');
  failures('recent_verification_failures', facts.recentVerificationFailures, 'wrong verification code');

  // sensitive_burst
  const burst = weights.sensitive_burst;
  if (!isCount(facts.sensitiveOperationsInWindow)) unknown('sensitive_burst', 'the count of sensitive operations could not be read');
  else if (facts.sensitiveOperationsInWindow > burst.max) {
    fired('sensitive_burst', `${plural(facts.sensitiveOperationsInWindow, 'sensitive operation')} within ${minutes(burst.window)} (more than ${burst.max})`);
  }

  // user_agent_change
  if (facts.previousUserAgent === 'unknown') unknown('user_agent_change', 'the previous login could not be read');
  else if (facts.previousUserAgent !== null) {
    const before = formatUserAgentFamily(userAgentFamily(facts.previousUserAgent));
    const current = formatUserAgentFamily(userAgentFamily(facts.userAgent));
    if (before !== current) fired('user_agent_change', `browser changed from ${before} to ${current}`);
  }

  const score = Math.max(0, signals.reduce((sum, signal) => sum + signal.weight, 0));
  return { level: levelFor(config, score), score, signals, ...(now === undefined ? {} : { assessedAt: now }) };
}

const LABELS: Readonly<Record<RiskSignalName, string>> = {
  unknown_device: 'Unknown device',
  new_network: 'New network',
  risky_network: 'Risky network',
  trusted_network: 'Trusted network',
  recent_login_failures: 'Recent login failures',
  recent_verification_failures: 'Recent verification failures',
  sensitive_burst: 'Burst of sensitive operations',
  user_agent_change: 'Browser change',
};

function signed(weight: number): string {
  return weight < 0 ? `${weight}` : `+${weight}`;
}

/** One plain sentence per signal, for `policy explain` and the audit log. */
export function explainRisk(assessment: RiskAssessment): string[] {
  return assessment.signals.map((signal) =>
    signal.evaluated
      ? `${LABELS[signal.name]} (${signed(signal.weight)}): ${signal.detail}.`
      : `${LABELS[signal.name]} (${signed(signal.weight)}): ${signal.detail}, so it counts as risky.`,
  );
}
