/**
 * The compiled form of the route policies and the decisions the enforcement point applies.
 * One pure evaluator produces these; the HTTP middleware, the websocket upgrade handler,
 * `policy explain` and `policy test` all consume the same values.
 */

import type { CanonicalQuery, QueryCondition, QueryParseResult } from './query.ts';
import type { RequireTwoFactorSpec } from './require-two-factor.ts';
import type { RememberBrowserPolicySpec } from './remember-browser-policy.ts';

export type Access = 'public' | 'authenticated' | 'deny';
export type RiskLevel = 'low' | 'medium' | 'high';
export type InterceptKind = 'login' | 'logout';

/** What a sensitive rule asks for at one risk level. Enforced by the step-up capability. */
export type StepUpAction = 'pass' | 'email_code' | 'fresh_code' | 'phishing_resistant' | 'deny';

export interface SensitiveSpec {
  /** Verifications are bound to a category: one for contact exports need not cover campaigns. */
  readonly category: string;
  /** How long a verification stays fresh, in milliseconds. */
  readonly freshForMs: number;
  readonly withoutTwoFactor: Readonly<Record<RiskLevel, StepUpAction>>;
  readonly withTwoFactor: Readonly<Record<RiskLevel, StepUpAction>>;
  /** After a verification without 2FA, invite the user to enable 2FA. */
  readonly nudgeEnableTwoFactor: boolean;
  /** The rule's description: what the person is about to do, in their words (per language when given so). */
  readonly description?: RuleDescription;
}

/** A rule's description: one text, or one per page language (`en`, `zh-cn`). */
export type RuleDescription = string | { readonly en?: string | undefined; readonly 'zh-cn'?: string | undefined };

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface CompiledRule {
  /** Position in first-match order (0 = first). */
  readonly index: number;
  readonly name: string;
  readonly access: Access;
  /** Upper-case methods; null means every known method. Never contains HEAD or OPTIONS (decided as GET). */
  readonly methods: ReadonlySet<string> | null;
  /** Lower-case host patterns ('*.example.com' allowed); null means any host. */
  readonly hosts: readonly string[] | null;
  readonly paths: readonly string[];
  /** Query conditions, all of which must hold; absent or null means any query. */
  readonly query?: readonly QueryCondition[] | null;
  readonly sensitive: SensitiveSpec | null;
  readonly intercept: InterceptKind | null;
  readonly source: SourceLocation | null;
  /** Covered by `require_2fa` (require-two-factor.ts): signed-in users need 2FA here once their grace period is over. */
  readonly requireTwoFactor?: boolean;
}

export interface PolicySettings {
  readonly caseSensitive: boolean;
  readonly pathParameters: 'reject' | 'allow';
  /** Upper-case methods the policy knows; any other method is denied before matching. */
  readonly knownMethods: ReadonlySet<string>;
  /** Lower-case host patterns the policy serves; null means every host. */
  readonly knownHosts: readonly string[] | null;
}

export interface PolicyMatch {
  readonly rule: CompiledRule;
  /** Named parameters (':id') captured from the path. */
  readonly params: Readonly<Record<string, string>>;
}

export interface CompiledPolicy {
  readonly settings: PolicySettings;
  readonly rules: readonly CompiledRule[];
  /** Used when no rule matches. */
  readonly defaultRule: CompiledRule;
  /** Used for methods outside settings.knownMethods. */
  readonly unknownMethodRule: CompiledRule;
  /** Where the policy came from (file or directory), for messages. */
  readonly origin: string;
  /** The `require_2fa` mandate; absent or null: none. */
  readonly requireTwoFactor?: RequireTwoFactorSpec | null;
  /** The `remember_browser` narrowing (remember-browser-policy.ts); absent or null: as configured. */
  readonly rememberBrowser?: RememberBrowserPolicySpec | null;
  /**
   * The canonical query of a raw query string (without '?'), holding the parameters this policy
   * consults; refused when a consulted parameter is ambiguous (see query.ts).
   */
  parseQuery(raw: string): QueryParseResult;
  /**
   * `path` is the canonical path (see proxy/canonical-target.ts); host canonical (proxy/host.ts);
   * `query` from parseQuery (omitted: no parameter present).
   */
  match(method: string, path: string, host?: string, query?: CanonicalQuery): PolicyMatch;
  /** False when settings.known_hosts is set and does not cover this canonical host name. */
  isKnownHost(hostname: string): boolean;
}

/** What the enforcement point knows about the requester when it decides. */
export interface UserState {
  readonly authenticated: boolean;
  readonly twoFactorEnabled?: boolean;
  readonly risk?: RiskLevel;
  /** A verification for the matched rule's category is still fresh in this session. */
  readonly fresh?: boolean;
  /** Such a verification was made with a passkey (what `phishing_resistant` asks for). */
  readonly freshPhishingResistant?: boolean;
  /**
   * Where a user without 2FA stands with `require_2fa` on a covered rule: `prompt` (grace period
   * open, not yet asked in this session), `skipped` (grace open, "Not now" chosen in this session),
   * `over` (grace period over: 2FA required), `exempt` (the account lacks every listed role).
   * Absent on a covered rule: decided as `over` (fail closed).
   */
  readonly twoFactorGrace?: TwoFactorGrace;
}

type TwoFactorGrace = 'prompt' | 'skipped' | 'over' | 'exempt';

export type Decision =
  | { readonly kind: 'pass' }
  | { readonly kind: 'login_required' }
  | { readonly kind: 'deny' }
  | { readonly kind: 'intercept'; readonly intercept: InterceptKind }
  | { readonly kind: 'step_up_required'; readonly action: Exclude<StepUpAction, 'pass' | 'deny'> }
  /** `require_2fa`: set up 2FA first. `grace`: "Not now" is still possible (pages only; the API passes). */
  | { readonly kind: 'two_factor_required'; readonly grace: boolean };

export interface Explanation {
  readonly rule: CompiledRule;
  readonly params: Readonly<Record<string, string>>;
  readonly decision: Decision;
  /** Plain sentences, in order, that say why. */
  readonly reasons: readonly string[];
}
