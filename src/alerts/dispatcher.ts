// Over 300 lines: the alerts' queue, per-kind rate limit and delivery are one state machine, kept together.
import type { AuditEvent } from '../audit/audit.ts';
import type { AuditSink } from '../audit/record.ts';
import type { Channel } from '../channels/channel.ts';
import type { Logger } from '../observability/logger.ts';
import { isLang, type Lang } from '../i18n/language.ts';
import type { Clock } from '../core/clock.ts';
import type { DurableStore, Enrollment, FactorMethod } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { alertWords } from './messages.tsx';
import { attackMarkKey } from './owner-message.ts';
import type { AlertsConfig } from '../config/schema/alerts.ts';
import { alertsFor, type AlertIntent, type AlertRule } from './table.ts';

/**
 * Security alerts as a consumer of the audit trail. Each record goes through the table
 * (table.ts); what it calls for is queued and sent later, one at a time, on the configured email
 * channel (and SMS to the enrolled phone when SMS is the method). Recording never waits for it and
 * nothing here can fail or slow a sign-in: the queue is bounded (full: the new alert is dropped),
 * every alert is rate-limited per account and kind on the ephemeral store's counters, and every
 * failure is logged and counted (`spg_alerts_total{kind,outcome}`).
 *
 * The account's language is learnt from its sign-ins (`details.lang` of `login_success`, the
 * language of the sign-in page or the browser) and kept in the ephemeral store; until then the
 * configured default is used.
 */

export type AlertOutcome = 'sent' | 'failed' | 'rate_limited' | 'no_recipient' | 'unknown_account' | 'overflow' | 'dropped' | 'error';

/** The language an account last signed in with; a preference, kept a little over a year. */
const LANG_KEY = (user: string): string => `alerts:lang:${user}`;
const LANG_TTL_MS = 400 * 24 * 3600 * 1000;
const RATE_KEY = (kind: string, user: string): string => `alerts:rate:${kind}:${user}`;
/**
 * The address the directory last gave for an account (username deployments): a profile or HTML
 * directory reads the app's pages with the user's session, which an alert does not have.
 */
const EMAIL_KEY = (user: string): string => `alerts:email:${user}`;
/** How long the enrollment an account had before a change is kept for the change's alert. */
const PREVIOUS_TTL_MS = 10 * 60 * 1000;
const PREVIOUS_MAX = 10_000;

export interface AlertContacts {
  of(user: string, context: { upstreamCookies: Record<string, string> }): Promise<{ ok: true; email: string | null } | { ok: false }>;
}

/** What the dispatcher needs to send; connected once the channels and the directory exist. */
export interface AlertConnections {
  readonly store: EphemeralStore;
  readonly durable: Pick<DurableStore, 'getEnrollment'>;
  /** Whether an account is a real one (a sign-in on record): lock-outs of guessed names alert no one. */
  readonly accountSeen: (user: string) => Promise<boolean>;
  readonly contacts: AlertContacts;
  readonly email: Channel;
  /** Null when no SMS channel is configured. */
  readonly sms: Channel | null;
}

interface AlertDispatcherOptions {
  readonly config: AlertsConfig;
  readonly product: string;
  readonly support: string;
  readonly securityUrl: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onOutcome?: (kind: string, outcome: AlertOutcome) => void;
  /**
   * `regulation.notify_every`: a `lockout` alert goes out at most once per this time per account
   * and family (wrong passwords; the right password then wrong codes), on the mark the attack
   * notice used (THREATS T21: an attack tells the owner once, not at every ban). Absent: only the rate limit.
   */
  readonly attackEveryMs?: number;
  /** The table (tests may pass their own rows). */
  readonly rules?: readonly AlertRule[];
}

interface Previous {
  readonly method: FactorMethod;
  readonly destination: string | null;
  readonly at: number;
}

export class AlertDispatcher {
  readonly #options: AlertDispatcherOptions;
  #connections: AlertConnections | null = null;
  readonly #queue: AuditEvent[] = [];
  #running = false;
  #closed = false;
  #idle: Array<() => void> = [];
  /** user → the enrollment before a change of destination or a turn-off (see watchDurable). */
  readonly #previous = new Map<string, Previous>();

  constructor(options: AlertDispatcherOptions) {
    this.#options = options;
  }

  /** The audit sink: only queues (never waits, never throws), so it is outside the audit's settle(). */
  sink(): AuditSink {
    return { name: 'alerts', write: (event) => this.push(event) };
  }

  connect(connections: AlertConnections): void {
    this.#connections = connections;
    this.#pump();
  }

  push(event: AuditEvent): void {
    const { config } = this.#options;
    if (this.#closed || !config.enabled || event.user === undefined) return;
    // Only records the table (or the language memory) can use are queued at all.
    // (Failures under attack are many: only those the table turns into an alert take a place.)
    if (event.event !== 'login_success' && alertsFor(event, config, this.#options.rules).length === 0) return;
    if (this.#queue.length >= config.queue_size) {
      this.#countEvent(event, 'overflow');
      this.#options.logger.warn({ event: 'alert_dropped', auditEvent: event.event, user: event.user, reason: 'queue_full' }, 'security alert dropped: the alert queue is full');
      return;
    }
    this.#queue.push(event);
    this.#pump();
  }

  /** Resolves when nothing is queued or being sent (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#running && (this.#queue.length === 0 || this.#connections === null)) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Stops taking alerts and gives the queued ones at most `graceMs` to go out; what is still
   * queued then is dropped (logged, counted as `dropped`): a stopping sidecar never hangs on a channel.
   */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    const left = this.#queue.splice(0);
    for (const event of left) this.#countEvent(event, 'dropped');
    if (left.length > 0) this.#options.logger.warn({ event: 'alert_dropped', reason: 'shutdown', count: left.length }, 'security alerts dropped at shutdown');
  }

  /**
   * The enrollment an account had just before support or the user changes its destination or turns
   * 2FA off: the change's alert goes to the old destination (never only to the new one).
   */
  rememberPrevious(user: string, enrollment: Pick<Enrollment, 'method' | 'destination'> | null): void {
    if (!enrollment) return;
    this.#previous.delete(user);
    this.#previous.set(user, { method: enrollment.method, destination: enrollment.destination, at: this.#options.clock.now() });
    while (this.#previous.size > PREVIOUS_MAX) this.#previous.delete(this.#previous.keys().next().value as string);
  }

  /** An address the directory gave for an account, kept for alerts sent without its session. */
  rememberEmail(user: string, email: string): void {
    const store = this.#connections?.store;
    if (!store || this.#closed || email === user) return;
    void store.set(EMAIL_KEY(user), email, LANG_TTL_MS).catch((error: unknown) => {
      this.#options.logger.warn({ err: error, user }, 'the account address for security alerts could not be kept');
    });
  }

  #previousOf(user: string): Previous | null {
    const found = this.#previous.get(user);
    if (!found || this.#options.clock.now() - found.at > PREVIOUS_TTL_MS) return null;
    return found;
  }

  #count(kind: string, outcome: AlertOutcome): void {
    try {
      this.#options.onOutcome?.(kind, outcome);
    } catch {
      // A metrics failure must not stop the queue.
    }
  }

  /** Counts an outcome for each alert kind a record would have become (none: not counted). */
  #countEvent(event: AuditEvent, outcome: AlertOutcome): void {
    for (const intent of alertsFor(event, this.#options.config, this.#options.rules)) this.#count(intent.kind, outcome);
  }

  #pump(): void {
    if (this.#running || this.#connections === null) return;
    const next = this.#queue.shift();
    if (next === undefined) {
      for (const wake of this.#idle.splice(0)) wake();
      return;
    }
    this.#running = true;
    const connections = this.#connections;
    void this.#handle(next, connections)
      .catch((error: unknown) => {
        this.#countEvent(next, 'error');
        this.#options.logger.error({ err: error, auditEvent: next.event, user: next.user }, 'security alert could not be handled');
      })
      .finally(() => {
        this.#running = false;
        this.#pump();
      });
  }

  async #handle(event: AuditEvent, connections: AlertConnections): Promise<void> {
    const user = event.user as string;
    const given = event.details?.['lang'];
    if (event.event === 'login_success' && isLang(given)) {
      await connections.store.set(LANG_KEY(user), given, LANG_TTL_MS).catch((error: unknown) => {
        this.#options.logger.warn({ err: error, user }, 'the account language for security alerts could not be kept');
      });
    }
    for (const intent of alertsFor(event, this.#options.config, this.#options.rules)) {
      try {
        await this.#deliver(intent, connections);
      } catch (error) {
        this.#count(intent.kind, 'error');
        this.#options.logger.error({ err: error, alert: intent.kind, user }, 'security alert could not be sent');
      }
    }
  }

  async #deliver(intent: AlertIntent, connections: AlertConnections): Promise<void> {
    const { config, logger } = this.#options;
    const { user, kind } = intent;
    // A lock-out can be caused by anyone typing any name: only real accounts hear of it.
    if (kind === 'lockout' && !(await connections.accountSeen(user))) {
      this.#count(kind, 'unknown_account');
      return;
    }
    if (kind === 'lockout' && this.#options.attackEveryMs !== undefined) {
      const family = intent.topic === 'sign_in_paused' || intent.topic === 'sign_in_slowed' ? 'password' : 'code';
      if (!(await connections.store.setIfAbsent(attackMarkKey(family, user), '1', this.#options.attackEveryMs))) {
        this.#count(kind, 'rate_limited');
        logger.info({ event: 'alert_rate_limited', alert: kind, user }, 'security alert not sent: the owner was told of this attack recently');
        return;
      }
    }
    const used = await connections.store.increment(RATE_KEY(kind, user), 1, config.rate_limit.window, 'fixed');
    if (used > config.rate_limit.max) {
      this.#count(kind, 'rate_limited');
      logger.info({ event: 'alert_rate_limited', alert: kind, user }, 'security alert not sent: one was sent recently');
      return;
    }
    const lang = await this.#languageOf(intent, connections);
    const { email, phone } = await this.#recipients(intent, connections);
    if (email.length === 0 && phone === null) {
      this.#count(kind, 'no_recipient');
      logger.warn({ event: 'alert_no_recipient', alert: kind, user }, 'security alert not sent: no email address or phone is known for the account');
      return;
    }
    const words = alertWords(intent, { lang, product: this.#options.product, support: this.#options.support, securityUrl: this.#options.securityUrl });
    const tag = { kind, lang };
    const sends: Array<{ channel: Channel; run: () => Promise<void> }> = email.map((to) => ({
      channel: connections.email,
      run: () => connections.email.send({ kind: 'email', to, subject: words.subject, text: words.text, html: words.html, purpose: 'alert', alert: tag }),
    }));
    if (phone !== null && connections.sms !== null) {
      const sms = connections.sms;
      sends.push({ channel: sms, run: () => sms.send({ kind: 'sms', to: phone, text: words.sms, purpose: 'alert', alert: tag }) });
    }
    for (const send of sends) {
      try {
        await send.run();
        this.#count(kind, 'sent');
        logger.info({ event: 'alert_sent', alert: kind, user, channel: send.channel.name }, 'security alert sent');
      } catch (error) {
        this.#count(kind, 'failed');
        logger.error({ err: error, event: 'alert_failed', alert: kind, user, channel: send.channel.name }, 'security alert could not be sent');
      }
    }
  }

  async #languageOf(intent: AlertIntent, connections: AlertConnections): Promise<Lang> {
    const given = intent.event.details?.['lang'];
    if (isLang(given)) return given;
    const stored = await connections.store.get(LANG_KEY(intent.user)).catch(() => null);
    return isLang(stored) ? stored : this.#options.config.default_language;
  }

  /**
   * The account's email (its identifier when that is an address, else the directory's), the SMS
   * phone when SMS is the method, and for a destination change the old destination too. A new
   * destination alone is never alerted: whoever got it set may be the attacker.
   */
  async #recipients(intent: AlertIntent, connections: AlertConnections): Promise<{ email: string[]; phone: string | null }> {
    const { config } = this.#options;
    const contact = await connections.contacts.of(intent.user, { upstreamCookies: {} });
    // A directory that cannot answer without the user's session (profile, html): the address it
    // gave last time the user was there. An answer of "no address" is taken as it is.
    const accountEmail = contact.ok ? contact.email : await connections.store.get(EMAIL_KEY(intent.user)).catch(() => null);
    const current = await connections.durable.getEnrollment(intent.user);
    const previous = this.#previousOf(intent.user);
    const email = new Set<string>();
    if (accountEmail !== null) email.add(accountEmail.toLowerCase());
    let phone: string | null = null;
    if (intent.audience === 'old_destination') {
      if (previous?.method === 'email' && previous.destination) email.add(previous.destination.toLowerCase());
      if (previous?.method === 'sms' && previous.destination) phone = previous.destination;
      // The new destination hears nothing it is not already owed as the account's own address.
      const replacement = current?.destination?.toLowerCase();
      if (replacement !== undefined && replacement !== accountEmail?.toLowerCase()) email.delete(replacement);
    } else if (current?.method === 'sms' && current.destination) {
      phone = current.destination;
    } else if (!current && previous?.method === 'sms' && previous.destination) {
      // 2FA was just turned off: the phone it used is still the owner's.
      phone = previous.destination;
    }
    return { email: [...email], phone: config.sms ? phone : null };
  }
}
