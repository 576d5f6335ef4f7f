/**
 * The one pure decision function: the HTTP enforcement point, websocket upgrades, `policy explain`
 * and `policy test` all decide through it, so they cannot disagree.
 */
import { formatDuration } from '../config/duration.ts';
import type { CompiledRule, Decision, Explanation, PolicyMatch, RiskLevel, StepUpAction, UserState } from './types.ts';
import { describeConditions } from './query.ts';
import { DEFAULT_RULE_NAME, OTHER_METHODS_SUFFIX, UNKNOWN_METHOD_RULE_NAME } from './compile.ts';

const PASS: Decision = Object.freeze({ kind: 'pass' });
const DENY: Decision = Object.freeze({ kind: 'deny' });
const LOGIN_REQUIRED: Decision = Object.freeze({ kind: 'login_required' });
const INTERCEPT_LOGIN: Decision = Object.freeze({ kind: 'intercept', intercept: 'login' });
const INTERCEPT_LOGOUT: Decision = Object.freeze({ kind: 'intercept', intercept: 'logout' });
const STEP_UP: Readonly<Record<'email_code' | 'fresh_code' | 'phishing_resistant', Decision>> = Object.freeze({
  phishing_resistant: Object.freeze({ kind: 'step_up_required', action: 'phishing_resistant' }),
  email_code: Object.freeze({ kind: 'step_up_required', action: 'email_code' }),
  fresh_code: Object.freeze({ kind: 'step_up_required', action: 'fresh_code' }),
});

const TWO_FACTOR_REQUIRED: Decision = Object.freeze({ kind: 'two_factor_required', grace: false });
const TWO_FACTOR_PROMPT: Decision = Object.freeze({ kind: 'two_factor_required', grace: true });

const ruleReasons = new WeakMap<CompiledRule, string>();

/** Why this rule applies, as the first reason (computed once per rule: decide runs on every request). */
function ruleReason(rule: CompiledRule): string {
  let reason = ruleReasons.get(rule);
  if (reason === undefined) {
    reason = describeRule(rule);
    ruleReasons.set(rule, reason);
  }
  return reason;
}

function describeRule(rule: CompiledRule): string {
  if (rule.name === UNKNOWN_METHOD_RULE_NAME) return 'the method is not one of settings.known_methods';
  const where = rule.source ? ` (${rule.source.file}${rule.source.line > 0 ? `:${rule.source.line}:${rule.source.column}` : ''})` : '';
  if (rule.name === DEFAULT_RULE_NAME) return `no rule matched; the default applies${where}`;
  if (rule.name.endsWith(OTHER_METHODS_SUFFIX)) {
    const sensitive = rule.name.slice(0, -OTHER_METHODS_SUFFIX.length);
    return `the path matches sensitive rule "${sensitive}"${where}, which does not list this method: other methods on a sensitive rule's paths are denied`;
  }
  const query = rule.query ? ` (query ${describeConditions(rule.query)})` : '';
  return `matched rule "${rule.name}"${where}${query}`;
}

export function decide(match: PolicyMatch, user: UserState): Explanation {
  const { rule, params } = match;
  const reasons: string[] = [ruleReason(rule)];
  const result = (decision: Decision): Explanation => ({ rule, params, decision, reasons });

  if (rule.intercept !== null) {
    reasons.push(`the sidecar takes over this route for its ${rule.intercept} flow`);
    return result(rule.intercept === 'login' ? INTERCEPT_LOGIN : INTERCEPT_LOGOUT);
  }
  if (rule.access === 'deny') {
    reasons.push('access is denied to everyone');
    return result(DENY);
  }
  if (rule.access === 'public') {
    reasons.push('access is public');
    return result(PASS);
  }
  // Anything else is treated as 'authenticated': fail safe.
  if (!user.authenticated) {
    reasons.push('rule requires an authenticated session; none present');
    return result(LOGIN_REQUIRED);
  }
  reasons.push('an authenticated session is present');
  if (rule.requireTwoFactor === true && user.twoFactorEnabled !== true) {
    // require_2fa (require-two-factor.ts) is decided before any step-up: without 2FA there is no
    // method to step up with, and the mandate says to get one.
    switch (user.twoFactorGrace) {
      case 'exempt':
        reasons.push('require_2fa covers this rule, but the account has none of its roles');
        break;
      case 'skipped':
        reasons.push('require_2fa covers this rule; 2FA not enabled; grace period open and "Not now" was chosen in this session');
        break;
      case 'prompt':
        reasons.push('require_2fa covers this rule; 2FA not enabled; grace period open → the setup page with "Not now" (API clients pass)');
        return result(TWO_FACTOR_PROMPT);
      default:
        reasons.push(`require_2fa covers this rule; 2FA not enabled; ${user.twoFactorGrace === 'over' ? 'grace period over' : 'grace state not known, counted as over'} → 2FA required`);
        return result(TWO_FACTOR_REQUIRED);
    }
  } else if (rule.requireTwoFactor === true) {
    reasons.push('require_2fa covers this rule; 2FA is enabled');
  }
  const sensitive = rule.sensitive;
  if (sensitive === null) return result(PASS);

  const twoFactor = user.twoFactorEnabled === true;
  // A risk that could not be assessed counts as high.
  const level: RiskLevel = user.risk ?? 'high';
  const action: StepUpAction = (twoFactor ? sensitive.withTwoFactor : sensitive.withoutTwoFactor)[level];
  reasons.push(
    `sensitive operation (category ${sensitive.category}, verification fresh for ${formatDuration(sensitive.freshForMs)})`,
    `${twoFactor ? '2FA enabled' : '2FA not enabled'}, risk ${user.risk ?? 'not assessed, counted as high'} → ${action}`,
  );
  switch (action) {
    case 'pass':
      return result(PASS);
    case 'deny':
      reasons.push('the policy denies this operation at this risk level');
      return result(DENY);
    case 'email_code':
    case 'fresh_code':
      if (user.fresh === true) {
        reasons.push(`verification for category ${sensitive.category} is fresh`);
        return result(PASS);
      }
      reasons.push(`no fresh verification for category ${sensitive.category}; step-up required`);
      return result(STEP_UP[action]);
    case 'phishing_resistant':
      if (user.freshPhishingResistant === true) {
        reasons.push(`verification with a passkey for category ${sensitive.category} is fresh`);
        return result(PASS);
      }
      reasons.push(`no fresh passkey verification for category ${sensitive.category}; step-up with a passkey required`);
      return result(STEP_UP[action]);
    default:
      // An action this version does not know: refuse rather than pass.
      reasons.push('unknown step-up action; denied');
      return result(DENY);
  }
}
