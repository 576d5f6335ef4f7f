/**
 * `policy explain`: which rule decides a request and why, computed exactly as the enforcement point
 * does it (canonical target first, then match, then decide).
 */
import { describeRememberBrowserPolicy } from './remember-browser-policy.ts';
import { canonicaliseTarget } from '../proxy/canonical-target.ts';
import { canonicalHost, UNKNOWN_HOST_REASON } from '../proxy/host.ts';
import { decide } from './decide.ts';
import type { CompiledPolicy, Explanation, UserState } from './types.ts';
import { describeRequirement } from './require-two-factor.ts';

interface ExplainRequest {
  readonly method: string;
  /** The request target as sent by the client (may hold `//`, `..`, escapes, a query). */
  readonly rawPath: string;
  /** Host the request was addressed to; case and port are ignored. */
  readonly host?: string | undefined;
  readonly user: UserState;
}

interface ExplainCommon {
  readonly method: string;
  readonly rawPath: string;
  readonly host: string | null;
}

/** The host or target was refused before any rule was consulted: the sidecar answers 400 (or 421 for an unknown host). */
interface ExplainRejected extends ExplainCommon {
  readonly rejected: string;
  readonly status: 400 | 421;
}

interface ExplainDecided extends ExplainCommon, Explanation {
  readonly rejected: null;
  /** The canonical path that was matched (and would be forwarded). */
  readonly path: string;
  /** The query string forwarded with it ('' when none). */
  readonly query: string;
  /** The query parameters the policy consults, decoded and folded as they were compared. */
  readonly queryParams: Readonly<Record<string, string>>;
  /** Set when the method was decided as another (HEAD and OPTIONS are decided as GET). */
  readonly decidedAs: string | null;
  /** The `require_2fa` mandate covering the rule, in words; null when it does not cover it. */
  readonly requireTwoFactor: string | null;
  /** `remember_browser` for a sign-in returning here, in words; null without the key. */
  readonly rememberBrowser?: string | null;
}

export type ExplainResult = ExplainRejected | ExplainDecided;

/**
 * `App.Example.com.:8080` → `app.example.com`; `[::1]:80` → `[::1]`; null for an invalid host. The
 * same canonical form the enforcement point matches on (proxy/host.ts).
 */
export function normaliseHost(host: string): string | null {
  const result = canonicalHost(host.trim());
  return result.ok ? result.host.hostname : null;
}

export function explainRequest(policy: CompiledPolicy, request: ExplainRequest): ExplainResult {
  const checked = request.host ? canonicalHost(request.host.trim()) : null;
  const host = checked?.ok ? checked.host.hostname : null;
  const common: ExplainCommon = { method: request.method, rawPath: request.rawPath, host: host ?? request.host ?? null };
  // The same checks, in the same order, as the enforcement point's route() (access/routing.ts).
  if (checked && !checked.ok) return { ...common, rejected: checked.reason, status: 400 };
  // Without a host the explanation is for any host the policy serves.
  if (host !== null && !policy.isKnownHost(host)) return { ...common, rejected: UNKNOWN_HOST_REASON, status: 421 };
  const canonical = canonicaliseTarget(request.rawPath, {
    pathParameters: policy.settings.pathParameters,
    host: host ?? undefined,
  });
  if (!canonical.ok) return { ...common, rejected: canonical.reason, status: 400 };
  const path = canonical.target.path;
  const query = policy.parseQuery(canonical.target.query);
  if (!query.ok) return { ...common, rejected: query.reason, status: 400 };
  const match = policy.match(request.method, path, host ?? undefined, query.query);
  const explanation = decide(match, request.user);
  const decidedAs =
    (request.method === 'HEAD' || request.method === 'OPTIONS') && policy.settings.knownMethods.has(request.method)
      ? 'GET'
      : null;
  const reasons = decidedAs ? [`${request.method} is decided as ${decidedAs}`, ...explanation.reasons] : explanation.reasons;
  const queryParams = Object.fromEntries(query.query);
  const requirement = match.rule.requireTwoFactor === true && policy.requireTwoFactor ? describeRequirement(policy.requireTwoFactor) : null;
  return { ...common, ...explanation, reasons, rejected: null, path, query: canonical.target.query, queryParams, decidedAs, requireTwoFactor: requirement, rememberBrowser: policy.rememberBrowser ? describeRememberBrowserPolicy(policy.rememberBrowser, match.rule.name) : null };
}

function describeUser(user: UserState): string {
  if (!user.authenticated) return 'anonymous';
  const parts = ['authenticated', user.twoFactorEnabled ? '2FA on' : '2FA off', `risk ${user.risk ?? 'not assessed'}`];
  if (user.fresh !== undefined) parts.push(user.fresh ? 'verification fresh' : 'verification not fresh');
  if (user.twoFactorGrace !== undefined) parts.push(`2FA grace ${user.twoFactorGrace}`);
  return parts.join(', ');
}

/** Several lines for humans (the CLI). */
export function formatExplanation(result: ExplainResult, user?: UserState): string {
  const head = `${result.method} ${result.rawPath}${result.host ? ` (host ${result.host})` : ''}`;
  if (result.rejected !== null) {
    return `${head}\n  rejected with ${result.status} before any rule is consulted: ${result.rejected}\n`;
  }
  const lines = [head];
  const forwarded = result.query ? `${result.path}?${result.query}` : result.path;
  if (forwarded !== result.rawPath) lines.push(`  canonical path: ${result.path}`);
  if (result.query) {
    const consulted = Object.entries(result.queryParams);
    lines.push(
      `  query:          ${result.query}${consulted.length > 0 ? ` (consulted: ${consulted.map(([k, v]) => `${k}=${v}`).join(', ')})` : ' (no parameter the policy consults)'}`,
    );
  }
  if (user) lines.push(`  user:           ${describeUser(user)}`);
  const source = result.rule.source;
  lines.push(
    `  rule:           ${result.rule.name}${source ? ` (${source.file}${source.line > 0 ? `:${source.line}:${source.column}` : ''})` : ''}`,
  );
  const params = Object.entries(result.params);
  if (params.length > 0) lines.push(`  params:         ${params.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (result.requireTwoFactor) lines.push(`  require_2fa:    ${result.requireTwoFactor}`);
  if (result.rememberBrowser) lines.push(`  remember:       ${result.rememberBrowser}`);
  const d = result.decision;
  const decision =
    d.kind === 'step_up_required'
      ? `step_up_required (${d.action})`
      : d.kind === 'intercept'
        ? `intercept (${d.intercept})`
        : d.kind === 'two_factor_required'
          ? `two_factor_required (${d.grace ? 'grace: "Not now" offered' : 'no grace left'})`
          : d.kind;
  lines.push(`  decision:       ${decision}`, '  because:');
  for (const reason of result.reasons) lines.push(`    - ${reason}`);
  return `${lines.join('\n')}\n`;
}
