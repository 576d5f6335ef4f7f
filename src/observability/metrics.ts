// Over 300 lines: every metric the sidecar exports is declared here, so /metrics reads as one list.
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { AuditEventType } from '../config/audit-events.ts';

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

/** Upper bounds (seconds) of the request duration histogram. */
const REQUEST_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One (rule, decision) pair's numbers: plain fields, updated in place. */
interface RequestSeries {
  readonly rule: string;
  readonly decision: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets: Float64Array;
}

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * Requests by rule and decision, counted and timed on the hot path. prom-client's labelled
 * children hash and validate their labels on every call (~2 µs a request, measured); here a request
 * costs two map lookups and a few additions, and the exposition is built when Prometheus scrapes.
 * Registered in the registry as two ordinary metrics (a counter and a histogram).
 */
class RequestStats {
  private readonly series = new Map<string, Map<string, RequestSeries>>();

  observe(rule: string, decision: string, seconds: number): void {
    let byDecision = this.series.get(rule);
    if (byDecision === undefined) {
      byDecision = new Map();
      this.series.set(rule, byDecision);
    }
    let series = byDecision.get(decision);
    if (series === undefined) {
      series = { rule, decision, count: 0, sum: 0, buckets: new Float64Array(REQUEST_BUCKETS.length + 1) };
      byDecision.set(decision, series);
    }
    series.count += 1;
    series.sum += seconds;
    let i = 0;
    while (i < REQUEST_BUCKETS.length && seconds > (REQUEST_BUCKETS[i] as number)) i++;
    series.buckets[i] = (series.buckets[i] as number) + 1;
  }

  private *all(): Iterable<RequestSeries> {
    for (const byDecision of this.series.values()) yield* byDecision.values();
  }

  clear(): void {
    this.series.clear();
  }

  counterSamples(): Sample[] {
    return [...this.all()].map((s) => ({ labels: { rule: s.rule, decision: s.decision }, value: s.count }));
  }

  histogramSamples(name: string): Sample[] {
    const out: Sample[] = [];
    for (const s of this.all()) {
      let cumulative = 0;
      REQUEST_BUCKETS.forEach((bound, i) => {
        cumulative += s.buckets[i] as number;
        out.push({ metricName: `${name}_bucket`, labels: { rule: s.rule, decision: s.decision, le: String(bound) }, value: cumulative });
      });
      out.push({ metricName: `${name}_bucket`, labels: { rule: s.rule, decision: s.decision, le: '+Inf' }, value: s.count });
      out.push({ metricName: `${name}_sum`, labels: { rule: s.rule, decision: s.decision }, value: s.sum });
      out.push({ metricName: `${name}_count`, labels: { rule: s.rule, decision: s.decision }, value: s.count });
    }
    return out;
  }
}

/** A metric whose samples are computed at scrape time, in the shape prom-client's registry renders. */
function scrapedMetric(name: string, help: string, type: 'counter' | 'histogram', samples: () => Sample[], reset: () => void): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: samples() }),
    reset,
  };
  return metric as unknown as Metric;
}

/**
 * The fields of an audit event (src/audit/audit.ts) the security counters read: declared here
 * because observability sits below the audit layer, which reports through it.
 */
export interface CountedAuditEvent {
  readonly event: AuditEventType;
  readonly outcome: string;
  readonly reason?: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new RequestStats();
  private readonly upstreamErrors: Counter<'failure'>;
  private readonly upstreamRetries: Counter;
  private readonly logins: Counter<'outcome' | 'reason'>;
  private readonly codesSent: Counter<'channel' | 'purpose'>;
  private readonly verificationFailures: Counter<'purpose' | 'reason'>;
  private readonly bans: Counter<'subject' | 'scope'>;
  private readonly stepUps: Counter<'category'>;
  private readonly policyReloads: Counter<'outcome'>;
  private readonly storeErrors: Counter<'where'>;
  private readonly auditWriteFailures: Counter<'sink'>;
  private readonly eventDeliveries: Counter<'sink' | 'outcome'>;
  private readonly eventQueueDepth: Gauge<'sink'>;
  private readonly cacheHits: Counter;
  private readonly clientLimits: Counter<'limit'>;
  private readonly cacheMisses: Counter;
  private readonly codeSendFailures: Counter<'channel' | 'reason'>;
  private readonly alerts: Counter<'kind' | 'outcome'>;
  /** Responses by status class (1xx…5xx), counted on the hot path like `requests`. */
  private readonly responseClasses = new Float64Array(5);
  private readiness: (() => Promise<{ ready: boolean }>) | undefined;

  constructor(options: { readonly defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const reset = (): void => this.requests.clear();
    this.registry.registerMetric(scrapedMetric('spg_requests_total', 'Requests by policy rule and decision', 'counter', () => this.requests.counterSamples(), reset));
    this.registry.registerMetric(
      scrapedMetric(
        'spg_request_duration_seconds',
        'Time from the request to the end of the response, by policy rule and decision',
        'histogram',
        () => this.requests.histogramSamples('spg_request_duration_seconds'),
        reset,
      ),
    );
    this.upstreamErrors = new Counter({ name: 'spg_upstream_errors_total', help: 'Proxied requests the upstream failed (before answering)', labelNames: ['failure'], registers });
    this.upstreamRetries = new Counter({
      name: 'spg_upstream_retries_total',
      help: 'Bodiless GET/HEAD/OPTIONS/TRACE requests sent again because the pooled upstream connection they went out on had just been closed',
      registers,
    });
    this.logins = new Counter({ name: 'spg_logins_total', help: 'Sign-in attempts by outcome (success, failure, verification_required) and reason', labelNames: ['outcome', 'reason'], registers });
    this.codesSent = new Counter({ name: 'spg_codes_sent_total', help: 'One-time codes sent, by channel (sms, email) and purpose', labelNames: ['channel', 'purpose'], registers });
    this.verificationFailures = new Counter({ name: 'spg_verification_failures_total', help: 'Codes refused, by purpose and reason', labelNames: ['purpose', 'reason'], registers });
    this.bans = new Counter({ name: 'spg_bans_total', help: 'Bans after too many failures, by subject (account: from one address, device: from one known device, address, throttle: account slowed) and scope (password, second_factor)', labelNames: ['subject', 'scope'], registers });
    this.stepUps = new Counter({ name: 'spg_step_ups_total', help: 'Step-up verifications passed, by category', labelNames: ['category'], registers });
    this.policyReloads = new Counter({ name: 'spg_policy_reloads_total', help: 'Policy reloads by outcome', labelNames: ['outcome'], registers });
    this.storeErrors = new Counter({ name: 'spg_store_errors_total', help: 'Requests failed by an unreachable store', labelNames: ['where'], registers });
    this.auditWriteFailures = new Counter({ name: 'spg_audit_write_failures_total', help: 'Audit records a sink could not write', labelNames: ['sink'], registers });
    this.eventDeliveries = new Counter({
      name: 'spg_event_deliveries_total',
      help: 'Security events pushed to a receiver (events.webhook, events.syslog), by outcome: delivered, retried, dropped (given up), overflow (queue full)',
      labelNames: ['sink', 'outcome'],
      registers,
    });
    this.alerts = new Counter({
      name: 'spg_alerts_total',
      help: 'Security alerts to account owners (config alerts), by kind and outcome: sent, failed, rate_limited, no_recipient, unknown_account, overflow, dropped, error',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.eventQueueDepth = new Gauge({ name: 'spg_event_queue_depth', help: 'Security events waiting for a receiver', labelNames: ['sink'], registers });
    this.clientLimits = new Counter({
      name: 'spg_client_limits_total',
      help: 'Requests and connections refused or cut by a client limit (headers_timeout, body_timeout, send_timeout, connections_per_address, upstream_requests_per_address, upstream_queue)',
      labelNames: ['limit'],
      registers,
    });
    this.registry.registerMetric(
      scrapedMetric(
        'spg_responses_total',
        'Responses of the public listener by status class (2xx, 3xx, 4xx, 5xx; the sidecar\'s own and the upstream\'s)',
        'counter',
        () => [...this.responseClasses].map((value, i) => ({ labels: { class: `${i + 1}xx` }, value })),
        () => this.responseClasses.fill(0),
      ),
    );
    this.codeSendFailures = new Counter({
      name: 'spg_code_send_failures_total',
      help: 'One-time codes not sent, by channel and reason (delivery_failed: the provider refused or was unreachable; cooldown, send_budget_exhausted, country_not_allowed, no_email_on_file)',
      labelNames: ['channel', 'reason'],
      registers,
    });
    const metrics = this;
    // Registered on creation; its value is read at scrape time through `collect`.
    new Gauge({
      name: 'spg_ready',
      help: 'Whether this sidecar is ready (1) or not (0: draining, or a store cannot answer), as /readyz says; evaluated at scrape',
      registers,
      // With `serve --workers N` the workers' values are aggregated: ready only when every worker is.
      aggregator: 'min',
      async collect() {
        const check = metrics.readiness;
        if (check === undefined) return;
        this.set((await check()).ready ? 1 : 0);
      },
    });
    this.cacheHits = new Counter({ name: 'spg_session_cache_hits_total', help: 'Session cookies found in the verified-cookie cache (no unsealing)', registers });
    this.cacheMisses = new Counter({ name: 'spg_session_cache_misses_total', help: 'Session cookies that had to be unsealed', registers });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'spg_' });
  }

  /** A finished request (hot path: no label object, no string building, no allocation once seen). */
  observeRequest(rule: string, decision: string, seconds: number): void {
    this.requests.observe(rule, decision, seconds);
  }

  /** The status of a finished response (hot path: one array slot). */
  observeResponse(status: number): void {
    const i = Math.floor(status / 100) - 1;
    if (i >= 0 && i < 5) this.responseClasses[i] = (this.responseClasses[i] as number) + 1;
  }

  /** What `spg_ready` reports at scrape: the same check as /readyz. */
  setReadiness(check: () => Promise<{ ready: boolean }>): void {
    this.readiness = check;
  }

  upstreamError(failure: string): void {
    this.upstreamErrors.labels(failure).inc();
  }

  upstreamRetry(): void {
    this.upstreamRetries.inc();
  }

  storeError(where: string): void {
    this.storeErrors.labels(where).inc();
  }

  /** A client limit refused or cut something (THREATS T17). */
  clientLimit(limit: string): void {
    this.clientLimits.labels(limit).inc();
  }

  auditWriteFailure(sink: string): void {
    this.auditWriteFailures.labels(sink).inc();
  }

  /** For the event stream's delivery queues. */
  eventDelivery(sink: string, outcome: string, events: number): void {
    this.eventDeliveries.labels(sink, outcome).inc(events);
  }

  /** For the security alerts (src/alerts/). */
  alert(kind: string, outcome: string): void {
    this.alerts.labels(kind, outcome).inc();
  }

  eventQueue(sink: string, depth: number): void {
    this.eventQueueDepth.labels(sink).set(depth);
  }

  /** For the session service's verified-cookie cache. */
  readonly sessionCache = {
    hit: (): void => this.cacheHits.inc(),
    miss: (): void => this.cacheMisses.inc(),
  };

  /** The security counters, from the audit trail (an audit sink); generic so a whole AuditEvent is taken as it is. */
  countAuditEvent<Event extends CountedAuditEvent>(event: Event): void {
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
        // A refused send (cooldown, budget, country, delivery) sent nothing.
        if (event.outcome === 'success') this.codesSent.labels(text('channel'), text('purpose')).inc();
        else this.codeSendFailures.labels(text('channel'), event.reason ?? '').inc();
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
