import type { AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import { describeUserAgent, networkOf, type NetworkLabels } from '../session/session-origin.ts';
import type { SessionRecord, SessionService } from '../session/sessions.ts';
import type { LogoutResult, ReplayContext, UpstreamAccount } from './upstream-account.ts';

/**
 * "My sessions and devices" (Login & Security, the JSON API and the admin API): an account's live
 * sessions described for people, and ending one of them, or all but the current one, together with
 * the app's session each one holds.
 *
 * Ending a session deletes its record first (the session ends on the next request on every replica,
 * whatever the app does), then replays the app's configured logout with the upstream cookies that
 * session released (`login.logout`, as a sign-out does: UpstreamAccount.logout), and says truthfully
 * whether the app confirmed its session ended.
 */

export interface SessionView {
  /** The public handle (never the record id, never a cookie). */
  readonly handle: string;
  /** The session of the browser asking. */
  readonly current: boolean;
  readonly browser: string | null;
  readonly os: string | null;
  /** The sign-in address's network (IPv4 /24, IPv6 /48); null when unknown. */
  readonly network: string | null;
  /** The configured name of that network (`session.networks`), if any. */
  readonly place: string | null;
  readonly signedInAt: number;
  /** Within the 30 s granularity of the session touch. */
  readonly lastSeenAt: number;
}

/** What became of the app's session: ended (confirmed), none to end (no logout configured, no cookies), or not confirmed. */
export type UpstreamOutcome = 'ended' | 'nothing_to_end' | 'not_confirmed';

export interface Revoked {
  readonly handle: string;
  readonly upstream: UpstreamOutcome;
}

/** Who ends a session, for the audit record and the replayed request. */
export interface RevokeBy {
  readonly requestId: string;
  /** The address of whoever asked (user or support). */
  readonly client?: string | undefined;
  readonly userAgent?: string | undefined;
  /** Support: `admin:<token>` / `cli:<user>`, with the reason given; absent for the user. */
  readonly actor?: string | undefined;
  readonly reason?: string | undefined;
  /** The Host and scheme the user's browser used (the replay goes out as for that site). */
  readonly host?: string | undefined;
  readonly proto?: 'http' | 'https' | undefined;
}

export interface ActiveSessionsDeps {
  readonly sessions: Pick<SessionService, 'index'>;
  readonly account: Pick<UpstreamAccount, 'logout'>;
  readonly audit: AuditRecorder;
  readonly logger: Logger;
  readonly networks: NetworkLabels;
}

export class ActiveSessions {
  constructor(private readonly deps: ActiveSessionsDeps) {}

  describe(record: SessionRecord, currentId: string | undefined): SessionView {
    const origin = record.origin;
    const client = describeUserAgent(origin?.userAgent);
    return {
      handle: record.handle ?? '',
      current: record.id === currentId,
      browser: client.browser,
      os: client.os,
      network: origin ? networkOf(origin.address) : null,
      place: origin ? this.deps.networks.label(origin.address) : null,
      signedInAt: origin?.at ?? record.createdAt,
      lastSeenAt: record.lastSeenAt,
    };
  }

  /** The account's live sessions, the current one first, then the most recently seen. */
  async list(user: string, currentId?: string): Promise<SessionView[]> {
    const records = await this.deps.sessions.index.list(user);
    const views = records.filter((r) => r.handle !== undefined).map((r) => this.describe(r, currentId));
    return [...views.filter((v) => v.current), ...views.filter((v) => !v.current)];
  }

  /** Ends one session of `user` by handle; null when the account has no such live session. */
  async revoke(user: string, handle: unknown, by: RevokeBy): Promise<Revoked | null> {
    const record = await this.deps.sessions.index.end(user, handle);
    if (!record) return null;
    return this.afterEnd(record, by);
  }

  /** Ends every session of `user` except `current` (each one as `revoke` does). */
  async revokeOthers(user: string, current: SessionRecord, by: RevokeBy): Promise<Revoked[]> {
    const records = await this.deps.sessions.index.list(user);
    const done: Revoked[] = [];
    for (const other of records) {
      if (other.id === current.id || other.handle === undefined) continue;
      const ended = await this.deps.sessions.index.end(user, other.handle);
      if (ended) done.push(await this.afterEnd(ended, by));
    }
    return done;
  }

  /** The app's logout replayed with the ended session's cookies, logged and audited as it went. */
  private async afterEnd(record: SessionRecord, by: RevokeBy): Promise<Revoked> {
    const handle = record.handle ?? '';
    const context: ReplayContext = {
      // The app sees the request as coming from the ended session's browser, where it can tell.
      forwardedFor: record.origin?.address ?? by.client ?? '127.0.0.1',
      userAgent: record.origin?.userAgent || undefined,
      requestId: by.requestId,
      host: by.host,
      proto: by.proto,
    };
    let result: LogoutResult;
    try {
      result = await this.deps.account.logout(record.upstreamCookies, context);
    } catch (error) {
      result = { ok: false, detail: error instanceof Error ? error.message : String(error), status: null, location: null };
    }
    const upstream: UpstreamOutcome = result.ok ? (result.how === 'not_configured' ? 'nothing_to_end' : 'ended') : 'not_confirmed';
    const seen = result.ok
      ? { how: result.how }
      : { status: result.status === null ? '' : String(result.status), location: (result.location ?? '').slice(0, 300), detail: result.detail.slice(0, 300) };
    const who = by.actor === undefined ? 'user' : 'support';
    if (result.ok) this.deps.logger.info({ event: 'session_revoked', user: record.user, by: who, handle, requestId: by.requestId, ...seen }, 'session revoked');
    else this.deps.logger.error({ event: 'session_revoked', user: record.user, by: who, handle, requestId: by.requestId, ...seen }, 'session revoked; the app did not confirm the end of its session');
    const client = describeUserAgent(record.origin?.userAgent);
    this.deps.audit.record({
      event: 'session_revoked',
      outcome: result.ok ? 'success' : 'failure',
      user: record.user,
      ...(by.client !== undefined ? { client: by.client } : {}),
      ...(by.userAgent ? { userAgent: by.userAgent.slice(0, 512) } : {}),
      requestId: by.requestId,
      ...(by.actor !== undefined ? { actor: by.actor } : {}),
      ...(result.ok ? (by.reason !== undefined ? { reason: by.reason } : {}) : { reason: by.reason !== undefined ? `${by.reason} (upstream_logout_failed)` : 'upstream_logout_failed' }),
      details: {
        by: who,
        handle,
        upstream,
        ...(client.browser ? { browser: client.browser } : {}),
        ...(client.os ? { os: client.os } : {}),
        ...(record.origin ? { network: networkOf(record.origin.address) ?? '' } : {}),
        ...seen,
      },
    });
    return { handle, upstream };
  }
}

/** A view as the JSON APIs give it. */
export function sessionJson(view: SessionView): Record<string, unknown> {
  return {
    handle: view.handle,
    current: view.current,
    browser: view.browser,
    os: view.os,
    network: view.network,
    place: view.place,
    signed_in_at: new Date(view.signedInAt).toISOString(),
    last_seen_at: new Date(view.lastSeenAt).toISOString(),
  };
}
