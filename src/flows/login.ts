import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import type { Clock } from '../server/providers.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import type { UpstreamAccount } from './upstream-account.ts';
import type { Regulation } from './regulation.ts';

/**
 * The login state machine: regulation → the upstream's password check → a new session. Every
 * answer is padded to the same minimum duration and none says whether the account exists.
 */

export type LoginResult =
  | {
      readonly kind: 'authenticated';
      readonly session: SessionRecord;
      readonly cookieValue: string;
      /** The upstream's Set-Cookie headers, withheld until now. */
      readonly upstreamSetCookies: readonly string[];
    }
  | { readonly kind: 'invalid_credentials' }
  | { readonly kind: 'too_many_attempts'; readonly retryAfterMs: number }
  | { readonly kind: 'unavailable' };

export interface LoginAttempt {
  readonly email: string;
  readonly password: string;
  readonly client: ClientFacts;
  readonly requestId: string;
  readonly userAgent?: string | undefined;
}

export interface LoginFlowDeps {
  readonly regulation: Regulation;
  readonly account: UpstreamAccount;
  readonly sessions: SessionService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly minResponseMs: number;
  /** Waits in real time; injected so tests of the padding need not sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export function normaliseAccount(email: string): string {
  return email.trim().toLowerCase();
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class LoginFlow {
  constructor(private readonly deps: LoginFlowDeps) {}

  async attempt(input: LoginAttempt): Promise<LoginResult> {
    const started = performance.now();
    const result = await this.run(input);
    const left = this.deps.minResponseMs - (performance.now() - started);
    if (left > 0) await (this.deps.sleep ?? realSleep)(left);
    return result;
  }

  private async run(input: LoginAttempt): Promise<LoginResult> {
    const account = normaliseAccount(input.email);
    const log = this.deps.logger;
    const reservation = await this.deps.regulation.reserve(account, input.client.address);
    if (!reservation.ok) {
      log.warn({ event: 'login_refused', user: account, client: input.client.address, subject: reservation.subject, requestId: input.requestId }, 'login refused: too many attempts');
      return { kind: 'too_many_attempts', retryAfterMs: reservation.retryAfterMs };
    }
    // Absurd input is a failed attempt like any other (counted), not a different answer.
    if (account.length === 0 || account.length > 254 || input.password.length === 0 || input.password.length > 1024) {
      await reservation.settle('failure');
      return { kind: 'invalid_credentials' };
    }
    const check = await this.deps.account.checkPassword(input.email.trim(), input.password, {
      forwardedFor: input.client.forwardedFor,
      userAgent: input.userAgent,
      requestId: input.requestId,
    });
    if (!check.ok) {
      if (check.reason === 'unavailable') {
        await reservation.settle('neutral');
        log.error({ event: 'login_unavailable', detail: check.detail, requestId: input.requestId }, 'upstream login check failed');
        return { kind: 'unavailable' };
      }
      await reservation.settle('failure');
      log.info({ event: 'login_failure', user: account, client: input.client.address, requestId: input.requestId }, 'login failed');
      return { kind: 'invalid_credentials' };
    }
    await reservation.settle('success');
    const now = this.deps.clock.now();
    const { record, cookieValue } = await this.deps.sessions.create({
      user: account,
      factors: { password: now },
      upstreamCookies: check.upstreamCookies,
    });
    log.info({ event: 'login_success', user: account, client: input.client.address, requestId: input.requestId }, 'login succeeded');
    return { kind: 'authenticated', session: record, cookieValue, upstreamSetCookies: check.setCookies };
  }
}
