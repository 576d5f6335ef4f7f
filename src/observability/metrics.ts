import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { AuditEvent } from '../audit/audit.ts';

/**
 * Prometheus metrics of one sidecar, on its own registry (never prom-client's global one: tests
 * start many sidecars in one process, and a library must not collide with its host's metrics).
 * Everything is prefixed `spg_`. Security counters (logins, codes, verifications, bans, step-ups,
 * policy reloads) are counted from the audit events, so they and the audit log cannot disagree.
 */

export interface MetricsOutput {
  readonly contentType: string;
  readonly body: string;
}

/** One (rule, decision) pair's children, looked up once and kept: the hot path only calls them. */
interface RequestChildren {
  readonly count: Counter.Internal;
  readonly duration: Histogram.Internal<'rule' | 'decision'>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'rule' | 'decision'>;
  private readonly requestDuration: Histogram<'rule' | 'decision'>;
  private readonly children = new Map<string, Map<string, RequestChildren>>();
  private readonly upstreamErrors: Counter<'failure'>;
  private readonly logins: Counter<'outcome' | 'reason'>;
  private readonly codesSent: Counter<'channel' | 'purpose'>;
  private readonly verificationFailures: Counter<'purpose' | 'reason'>;
  private readonly bans: Counter<'subject' | 'scope'>;
  private readonly stepUps: Counter<'category'>;
  private readonly policyReloads: Counter<'outcome'>;
  private readonly storeErrors: Counter<'where'>;
  private readonly auditWriteFailures: Counter<'sink'>;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;

  constructor(options: { readonly defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'spg_requests_total', help: 'Requests by policy rule and decision', labelNames: ['rule', 'decision'], registers });
    this.requestDuration = new Histogram({
      name: 'spg_request_duration_seconds',
      help: 'Time from the request to the end of the response, by policy rule and decision',
      labelNames: ['rule', 'decision'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.upstreamErrors = new Counter({ name: 'spg_upstream_errors_total', help: 'Proxied requests the upstream failed (before answering)', labelNames: ['failure'], registers });
    this.logins = new Counter({ name: 'spg_logins_total', help: 'Sign-in attempts by outcome (success, failure, verification_required) and reason', labelNames: ['outcome', 'reason'], registers });
    this.codesSent = new Counter({ name: 'spg_codes_sent_total', help: 'One-time codes sent, by channel (sms, email) and purpose', labelNames: ['channel', 'purpose'], registers });
    this.verificationFailures = new Counter({ name: 'spg_verification_failures_total', help: 'Codes refused, by purpose and reason', labelNames: ['purpose', 'reason'], registers });
    this.bans = new Counter({ name: 'spg_bans_total', help: 'Bans after too many failures, by subject (account, address) and scope (password, second_factor)', labelNames: ['subject', 'scope'], registers });
    this.stepUps = new Counter({ name: 'spg_step_ups_total', help: 'Step-up verifications passed, by category', labelNames: ['category'], registers });
    this.policyReloads = new Counter({ name: 'spg_policy_reloads_total', help: 'Policy reloads by outcome', labelNames: ['outcome'], registers });
    this.storeErrors = new Counter({ name: 'spg_store_errors_total', help: 'Requests failed by an unreachable store', labelNames: ['where'], registers });
    this.auditWriteFailures = new Counter({ name: 'spg_audit_write_failures_total', help: 'Audit records a sink could not write', labelNames: ['sink'], registers });
    this.cacheHits = new Counter({ name: 'spg_session_cache_hits_total', help: 'Session cookies found in the verified-cookie cache (no unsealing)', registers });
    this.cacheMisses = new Counter({ name: 'spg_session_cache_misses_total', help: 'Session cookies that had to be unsealed', registers });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'spg_' });
  }

  /** A finished request (hot path: two cached children, no label object, no string building). */
  observeRequest(rule: string, decision: string, seconds: number): void {
    let byDecision = this.children.get(rule);
    if (byDecision === undefined) {
      byDecision = new Map();
      this.children.set(rule, byDecision);
    }
    let children = byDecision.get(decision);
    if (children === undefined) {
      children = { count: this.requests.labels(rule, decision), duration: this.requestDuration.labels(rule, decision) };
      byDecision.set(decision, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  }

  upstreamError(failure: string): void {
    this.upstreamErrors.labels(failure).inc();
  }

  storeError(where: string): void {
    this.storeErrors.labels(where).inc();
  }

  auditWriteFailure(sink: string): void {
    this.auditWriteFailures.labels(sink).inc();
  }

  /** For the session service's verified-cookie cache. */
  readonly sessionCache = {
    hit: (): void => this.cacheHits.inc(),
    miss: (): void => this.cacheMisses.inc(),
  };

  /** The security counters, from the audit trail (an audit sink). */
  countAuditEvent(event: AuditEvent): void {
    const details = event.details ?? {};
    const text = (key: string): string => {
      const value = details[key];
      return value === undefined ? '' : String(value);
    };
    switch (event.event) {
      case 'login_success':
        this.logins.labels('success', '').inc();
        return;
      case 'login_failure':
        this.logins.labels('failure', event.reason ?? '').inc();
        return;
      case 'login_verification_required':
        this.logins.labels('verification_required', event.reason ?? '').inc();
        return;
      case 'code_sent':
        this.codesSent.labels(text('channel'), text('purpose')).inc();
        return;
      case 'verification_failure':
        this.verificationFailures.labels(text('purpose'), event.reason ?? '').inc();
        return;
      case 'ban':
        this.bans.labels(text('subject'), text('scope')).inc();
        return;
      case 'step_up':
        this.stepUps.labels(text('category')).inc();
        return;
      case 'policy_reload':
        this.policyReloads.labels(event.outcome).inc();
        return;
      default:
        return;
    }
  }

  async render(): Promise<MetricsOutput> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
