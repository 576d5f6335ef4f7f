/**
 * What a policy reload changes, rule by rule (by name), and which changes weaken protection: a
 * sensitive rule removed, no longer sensitive, narrowed (paths, methods, hosts), relaxed (a weaker
 * step-up action, a longer freshness, a weaker access), or now preceded by rules that may shadow it
 * (the first matching rule decides); and the default access weakened. Reloads log the diff, and
 * a watched reload that weakens is held until it is confirmed (see watch.ts).
 */
import type { Access, CompiledPolicy, CompiledRule, StepUpAction } from './types.ts';
import { requireTwoFactorWeakenings } from './require-two-factor.ts';
import { rememberBrowserWeakenings } from './remember-browser-policy.ts';

export interface PolicyDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  /** One sentence per weakening, naming the rule. */
  readonly weakened: readonly string[];
}

const ACCESS_RANK: Readonly<Record<Access, number>> = { public: 0, authenticated: 1, deny: 2 };
const ACTION_RANK: Readonly<Record<StepUpAction, number>> = { pass: 0, email_code: 1, fresh_code: 2, phishing_resistant: 3, deny: 4 };

/** A rule as comparable plain values (sets sorted), without its position or source. */
function shape(rule: CompiledRule): string {
  return JSON.stringify({
    access: rule.access,
    methods: rule.methods === null ? null : [...rule.methods].sort(),
    hosts: rule.hosts === null ? null : [...rule.hosts].sort(),
    paths: [...rule.paths].sort(),
    sensitive: rule.sensitive,
    intercept: rule.intercept,
  });
}

const missingFrom = (before: readonly string[], after: readonly string[]): string[] => before.filter((item) => !after.includes(item));

function weakenings(name: string, before: CompiledRule, after: CompiledRule, newlyAhead: readonly string[]): string[] {
  const out: string[] = [];
  const said = (what: string): void => {
    out.push(`sensitive rule "${name}": ${what}`);
  };
  const sensitive = before.sensitive;
  if (sensitive === null) return out;
  if (after.sensitive === null) said('is no longer sensitive (no step-up)');
  if (ACCESS_RANK[after.access] < ACCESS_RANK[before.access]) said(`access ${before.access} → ${after.access}`);
  const lostPaths = missingFrom(before.paths, after.paths);
  if (lostPaths.length > 0) said(`no longer covers ${lostPaths.join(', ')}`);
  if (before.methods !== null) {
    const lost = after.methods === null ? [] : missingFrom([...before.methods], [...after.methods]);
    if (lost.length > 0) said(`no longer covers methods ${lost.join(', ')}`);
  } else if (after.methods !== null) said(`now covers only methods ${[...after.methods].join(', ')}`);
  if (before.hosts === null) {
    if (after.hosts !== null) said(`now covers only hosts ${after.hosts.join(', ')}`);
  } else if (after.hosts !== null) {
    const lost = missingFrom(before.hosts, after.hosts);
    if (lost.length > 0) said(`no longer covers hosts ${lost.join(', ')}`);
  }
  const next = after.sensitive;
  if (next !== null) {
    if (next.category !== sensitive.category) said(`category ${sensitive.category} → ${next.category} (verifications of another category now count)`);
    if (next.freshForMs > sensitive.freshForMs) said(`a verification stays fresh ${next.freshForMs / 1000}s instead of ${sensitive.freshForMs / 1000}s`);
    for (const [table, label] of [['withoutTwoFactor', 'without_2fa'], ['withTwoFactor', 'with_2fa']] as const) {
      for (const level of ['low', 'medium', 'high'] as const) {
        const was = sensitive[table][level];
        const now = next[table][level];
        if (ACTION_RANK[now] < ACTION_RANK[was]) said(`${label}.${level} ${was} → ${now}`);
      }
    }
  }
  if (newlyAhead.length > 0) said(`now comes after ${newlyAhead.map((n) => `"${n}"`).join(', ')}, which may match its requests first`);
  return out;
}

export function diffPolicies(before: CompiledPolicy, after: CompiledPolicy): PolicyDiff {
  const oldByName = new Map(before.rules.map((rule) => [rule.name, rule]));
  const newByName = new Map(after.rules.map((rule) => [rule.name, rule]));
  const added = after.rules.filter((rule) => !oldByName.has(rule.name)).map((rule) => rule.name);
  const removed = before.rules.filter((rule) => !newByName.has(rule.name)).map((rule) => rule.name);
  const changed: string[] = [];
  const weakened: string[] = [];
  for (const rule of before.rules) {
    const next = newByName.get(rule.name);
    if (next === undefined) {
      if (rule.sensitive !== null) weakened.push(`sensitive rule "${rule.name}" was removed`);
      continue;
    }
    if (shape(rule) !== shape(next) || rule.index !== next.index) changed.push(rule.name);
    const aheadBefore = new Set(before.rules.slice(0, rule.index).map((r) => r.name));
    const newlyAhead = after.rules
      .slice(0, next.index)
      .map((r) => r.name)
      .filter((name) => !aheadBefore.has(name));
    weakened.push(...weakenings(rule.name, rule, next, newlyAhead));
  }
  if (ACCESS_RANK[after.defaultRule.access] < ACCESS_RANK[before.defaultRule.access]) {
    weakened.push(`default access ${before.defaultRule.access} → ${after.defaultRule.access}`);
  }
  weakened.push(...requireTwoFactorWeakenings(before, after));
  weakened.push(...rememberBrowserWeakenings(before, after));
  return { added, removed, changed, weakened };
}
