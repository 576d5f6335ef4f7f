import type { AuditContext, AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import type { DurableStore, FactorMethod } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import type { UpstreamAccount } from './upstream-account.ts';
import type { Regulation, Subject } from './regulation.ts';
import type { SecondFactor, SendResult } from './second-factor.ts';
import type { RiskService } from '../risk/service.ts';
import type { Contacts } from '../directory/index.ts';
import { type IdentityRules } from '../directory/identity.ts';
import type { AccountGenerations } from './account-generation.ts';
import type { RememberedBrowsers } from './remember-browser.ts';
import type { PasskeyCeremonies } from '../factors/passkey/ceremony.ts';

/**
 * What the login flow takes and answers (src/flows/login.ts), and the pending sign-in it keeps
 * server-side between the password and the second step.
 */

export type LoginResult =
  | {
      readonly kind: 'authenticated';
      readonly session: SessionRecord;
      readonly cookieValue: string;
      /** The upstream's Set-Cookie headers, withheld until now. */
      readonly upstreamSetCookies: readonly string[];
      /** A new signed device cookie to set (the browser had none that verified). */
      readonly deviceCookie: string | null;
      /** The "remember this browser" cookie: a value to set, null to clear it, absent to leave it. */
      readonly rememberCookie?: string | null;
    }
  | {
      readonly kind: 'verification_required';
      /** '2fa': the user's second factor; 'risk': an email code because the sign-in looked risky. */
      readonly reason: '2fa' | 'risk';
      readonly pendingId: string;
      readonly method: FactorMethod;
      /** Masked phone or address the code went to; null for an authenticator app. */
      readonly destination: string | null;
      /** For sms/email: how sending the first code went. */
      readonly send: SendResult | null;
      /** null: the browser's "remember" cookie did not serve and is cleared. */
      readonly rememberCookie?: null;
    }
  | {
      readonly kind: 'invalid_credentials';
      /** Failures still allowed from here (this address, or this known device) before it is paused. */
      readonly attemptsLeft: number;
      /** Set when this failure paused sign-in from here: for how long. */
      readonly lockedForMs: number | null;
    }
  | {
      readonly kind: 'too_many_attempts';
      readonly retryAfterMs: number;
      /** 'throttle': the account is being slowed down (a short wait); otherwise sign-in from here is paused. */
      readonly subject: Subject;
    }
  | { readonly kind: 'unavailable' }
  /** The upstream answered with neither the success nor the failure signal (never a wrong password). */
  | { readonly kind: 'upstream_error' }
  /**
   * The password was right but this sign-in needs an email code and no address is known for the
   * account (or the directory cannot say right now: `lookupFailed`). Nothing was sent.
   */
  | { readonly kind: 'no_email'; readonly lookupFailed: boolean };

export type Authenticated = Extract<LoginResult, { kind: 'authenticated' }>;

export type LoginVerifyResult =
  | Authenticated
  | { readonly kind: 'invalid_code'; readonly attemptsLeft: number }
  | { readonly kind: 'code_expired' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'too_many_attempts'; readonly retryAfterMs: number }
  /** No pending login (never started, finished, or expired): start again with the password. */
  | { readonly kind: 'no_pending_login' }
  /**
   * The account's factors, destination or lock state changed after the password step (THREATS
   * T18): this sign-in has ended, and a new one is decided from the account as it is now.
   */
  | { readonly kind: 'account_changed' };

/** A pending login looked up for a page: still going, gone, or ended by a change of the account. */
export type PendingLookup =
  | { readonly kind: 'pending'; readonly pending: PendingLogin }
  | { readonly kind: 'no_pending_login' }
  | { readonly kind: 'account_changed' };

export interface LoginAttempt {
  readonly email: string;
  readonly password: string;
  readonly client: ClientFacts;
  readonly requestId: string;
  readonly userAgent?: string | undefined;
  /** The browser's device cookie, if any (verified by the risk service). */
  readonly deviceCookie?: string | undefined;
  /** The page's language (en, zh-CN): kept with the sign-in for the security alerts. */
  readonly lang?: string | undefined;
  /** The browser's "remember this browser" cookie, if any (src/flows/remember-browser.ts). */
  readonly rememberCookie?: string | undefined;
  /** Where the sign-in returns to (a safe same-origin path): the policy's remember_browser.except_rules look at it. */
  readonly returnTo?: string | undefined;
}

/** The browser presenting the code (same one that sent the password, normally). */
export interface Presenter {
  readonly client: ClientFacts;
  readonly requestId: string;
  readonly userAgent?: string | undefined;
  readonly deviceCookie?: string | undefined;
  /** The page's language (en, zh-CN): kept with the sign-in for the security alerts. */
  readonly lang?: string | undefined;
}

/** Password done, second factor not yet. Kept server-side only; the browser holds its random id. */
export interface PendingLogin {
  readonly id: string;
  readonly reason: '2fa' | 'risk';
  readonly user: string;
  readonly method: FactorMethod;
  readonly destination: string | null;
  readonly passwordAt: number;
  readonly upstreamSetCookies: readonly string[];
  readonly upstreamCookies: Record<string, string>;
  /**
   * The sign-in attempt's correlation id for the audit trail (`details.login` of every event of
   * this attempt, both steps). Random and separate from `id`, which is a bearer secret.
   */
  readonly loginId?: string;
  /** The account's generation when the password step passed (see account-generation.ts). */
  readonly generation: string;
  /** `factorState` of the enrollment this sign-in was decided on; null: the account had no 2FA. */
  readonly factors: string | null;
}

export interface LoginFlowDeps {
  readonly regulation: Regulation;
  readonly account: UpstreamAccount;
  readonly sessions: SessionService;
  readonly durable: DurableStore;
  readonly factor: SecondFactor;
  readonly risk: RiskService;
  readonly store: EphemeralStore;
  readonly generations: AccountGenerations;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly minResponseMs: number;
  readonly pendingMs: number;
  /** Waits in real time; injected so tests of the padding need not sleep. */
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * A monotonic millisecond reading (performance.now in production) that times the work to pad;
   * injected so the padding test does not depend on how fast a loaded machine runs the flow.
   */
  readonly elapsed: () => number;
  /** How identifiers become account keys (default: email addresses). */
  readonly identity?: IdentityRules;
  /** Where an account's email comes from (default: the identifier, when it is an address). */
  readonly contacts?: Contacts;
  /** "Don't ask again on this browser" (issue 17); absent: never offered. */
  readonly remembered?: RememberedBrowsers | undefined;
  /** Passkeys as the second factor (src/factors/passkey/); absent: codes only. */
  readonly passkeys?: PasskeyCeremonies | undefined;
}

export const PENDING = (id: string): string => `pending:${id}`;

/** The audit context of a sign-in attempt: who presents, and the attempt's correlation id. */
export function attemptContext(presenter: Presenter, loginId: string | undefined): AuditContext {
  return {
    client: presenter.client.address,
    userAgent: presenter.userAgent,
    requestId: presenter.requestId,
    // `lang`: the page's language, so an alert about any step of this sign-in is worded in it.
    ...(loginId !== undefined || presenter.lang !== undefined
      ? { details: { ...(loginId !== undefined ? { login: loginId } : {}), ...(presenter.lang !== undefined ? { lang: presenter.lang } : {}) } }
      : {}),
  };
}
