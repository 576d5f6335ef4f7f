import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type { Logger } from './logger.ts';

/**
 * OpenTelemetry tracing (README "Tracing"), off by default. Only `import type` at the top: the SDK
 * and the OTLP exporter are loaded by startTracing, and only when an endpoint is configured, so a
 * sidecar without tracing never has them in memory. The request path sees this file through the
 * `Tracing` and `RequestSpan` interfaces, and pays one null check per hook when tracing is off.
 *
 * What a span may hold: the method, the canonical path (never the query), the matched rule, the
 * decision, status codes, phase timings and failure kinds. Never a header value, a cookie, a body,
 * an error message (store and upstream errors can quote what they were sent) or a user name.
 */

interface TracingSettings {
  /** The collector's OTLP/HTTP URL; `/v1/traces` is added unless the path already ends with it. */
  readonly endpoint: string;
  readonly serviceName: string;
  /** Share of new traces (started here) that are recorded; a trusted parent's decision is kept. */
  readonly sampleRatio: number;
  /** Sent with every export (e.g. the collector's Authorization), already resolved. */
  readonly headers: Readonly<Record<string, string>>;
  /** False: spans name the rule only, not the request path (apps with secrets in paths). */
  readonly recordPath: boolean;
  readonly timeoutMs: number;
  /** Where the proxied requests go (server.address/port and url.full of the upstream span). */
  readonly upstreamUrl: URL;
  readonly serviceVersion?: string;
}

/** The facts of the client that tracing reads (from ClientFacts). */
interface TracedClient {
  readonly address: string;
  readonly proto: string;
  /** The direct peer is a configured trusted proxy: only then is its traceparent believed. */
  readonly peerTrusted: boolean;
}

/** A finished-on-demand child span; ending it twice is harmless. */
interface Phase {
  end(attributes?: Attributes): void;
  /** Ends the phase as failed, recording only the kind of failure (never its message). */
  fail(error: unknown): void;
}

interface UpstreamCall {
  end(status: number): void;
  /** `failure`: connect, timeout, reset, client_timeout, or an error's kind. */
  fail(failure: string): void;
}

/**
 * What the request span records of the routing and of the decision, in the shape of `Routing`
 * (src/access/routing.ts) and `Explanation` (src/policy/types.ts): declared here because
 * observability sits below the layers that produce them (test/unit/architecture/layers.test.ts).
 */
export type TracedRouting =
  | { readonly kind: 'reject'; readonly reason: string; readonly status: number }
  | {
      readonly kind: 'routed';
      readonly target: { readonly path: string };
      readonly match: { readonly rule: { readonly name: string } };
      readonly internal: boolean;
    };

export interface TracedDecision {
  readonly rule: { readonly name: string };
  readonly decision: { readonly kind: string; readonly action?: string; readonly intercept?: string };
}

/** The server span of one request. It ends by itself when the response closes. */
interface RequestSpan {
  /** The canonical target and matched rule are known (ends the canonicalisation phase). */
  routed(routing: TracedRouting): void;
  decided(explanation: TracedDecision): void;
  begin(name: 'guard.session' | 'guard.risk'): Phase;
  /**
   * The request is about to be sent upstream: starts the client span and writes its traceparent
   * (and a trusted parent's tracestate) into the headers, replacing whatever the client sent.
   */
  upstream(req: IncomingMessage, path: string): UpstreamCall;
}

export interface Tracing {
  startRequest(req: IncomingMessage, res: ServerResponse, client: TracedClient, requestId: string, started: bigint): RequestSpan;
  spanOf(req: IncomingMessage): RequestSpan | undefined;
  /** Exports every finished span now (tests; shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);
/** An error's kind for `error.type`: its code or class name, never its message. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? name : 'Error';
}

export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith('/v1/traces')) url.pathname = `${url.pathname.replace(/\/$/, '')}/v1/traces`;
  return url.href;
}

/**
 * Loads the SDK and starts exporting. Export failures never reach a request: the batch processor
 * drops what the collector does not take, and they are logged at most once a minute.
 */
export async function startTracing(settings: TracingSettings, logger: Logger): Promise<Tracing> {
  const [api, core, sdk, exporterModule, resources, semconv] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace, defaultTextMapGetter, defaultTextMapSetter } = api;

  let lastComplaint = -Infinity;
  core.setGlobalErrorHandler((error) => {
    // Tracing measures the process (monotonic time), never the domain's injected clock.
    const now = performance.now();
    if (now - lastComplaint < 60_000) return;
    lastComplaint = now;
    logger.warn({ error: errorType(error) }, 'tracing: spans could not be exported (collector unreachable or refusing); requests go on');
  });

  const exporter = new exporterModule.OTLPTraceExporter({
    url: tracesUrl(settings.endpoint),
    headers: { ...settings.headers },
    timeoutMillis: settings.timeoutMs,
  });
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: settings.serviceName,
      ...(settings.serviceVersion ? { [semconv.ATTR_SERVICE_VERSION]: settings.serviceVersion } : {}),
    }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new sdk.BatchSpanProcessor(exporter)],
  });
  const tracer: Tracer = provider.getTracer('smartpush-guard', settings.serviceVersion);
  const propagator = new core.W3CTraceContextPropagator();
  const upstreamOrigin = settings.upstreamUrl.origin;
  const upstreamBase = settings.upstreamUrl.pathname.replace(/\/$/, '');
  const upstreamHost = settings.upstreamUrl.hostname.replace(/^\[|\]$/g, '');
  const upstreamPort = Number(settings.upstreamUrl.port || (settings.upstreamUrl.protocol === 'https:' ? 443 : 80));

  // Request start times are process.hrtime.bigint() readings; the SDK takes performance.now()
  // numbers. Both count from the same monotonic clock, so one offset converts them.
  const hrBase = process.hrtime.bigint();
  const perfBase = performance.now();
  const perfTime = (hr: bigint): number => perfBase + Number(hr - hrBase) / 1e6;

  const spans = new WeakMap<IncomingMessage, RequestSpan>();

  function phase(span: Span): Phase {
    let open = true;
    return {
      end(attributes) {
        if (!open) return;
        open = false;
        if (attributes) span.setAttributes(attributes);
        span.end();
      },
      fail(error) {
        if (!open) return;
        open = false;
        span.setAttribute('error.type', errorType(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }

  function startRequest(req: IncomingMessage, res: ServerResponse, client: TracedClient, requestId: string, started: bigint): RequestSpan {
    // A traceparent is believed only from a trusted proxy: anyone else could join their requests
    // to another trace, or force every request to be sampled (a flood at the collector).
    const parent: Context = client.peerTrusted ? propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter) : ROOT_CONTEXT;
    const method = req.method && KNOWN_METHODS.has(req.method) ? req.method : '_OTHER';
    const startTime = perfTime(started);
    const server = tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        startTime,
        attributes: {
          'http.request.method': method,
          'url.scheme': client.proto,
          'client.address': client.address,
          'guard.request_id': requestId,
        },
      },
      parent,
    );
    const context = trace.setSpan(parent, server);
    const child = (name: string, kind = SpanKind.INTERNAL, attributes?: Attributes, at?: number): Span =>
      tracer.startSpan(name, { kind, ...(at !== undefined ? { startTime: at } : {}), ...(attributes ? { attributes } : {}) }, context);

    const request: RequestSpan = {
      routed(routing) {
        const canonical = child('guard.canonicalise', SpanKind.INTERNAL, undefined, startTime);
        if (routing.kind === 'reject') {
          canonical.setAttributes({ 'guard.reject': routing.reason, 'http.response.status_code': routing.status });
          canonical.end();
          server.setAttribute('guard.decision', 'reject');
          return;
        }
        const rule = routing.match.rule.name;
        canonical.setAttribute('guard.rule', rule);
        canonical.end();
        server.updateName(`${method} ${rule}`);
        server.setAttributes({
          'guard.rule': rule,
          'guard.internal': routing.internal,
          ...(settings.recordPath ? { 'url.path': routing.target.path } : {}),
        });
      },
      decided(explanation) {
        const decision = explanation.decision;
        server.setAttributes({
          'guard.rule': explanation.rule.name,
          'guard.decision': decision.kind,
          ...(decision.kind === 'step_up_required' ? { 'guard.step_up': decision.action } : {}),
          ...(decision.kind === 'intercept' ? { 'guard.intercept': decision.intercept } : {}),
        });
      },
      begin(name) {
        return phase(child(name));
      },
      upstream(incoming, path) {
        const method = incoming.method && KNOWN_METHODS.has(incoming.method) ? incoming.method : '_OTHER';
        const span = child(method, SpanKind.CLIENT, {
          'http.request.method': method,
          'server.address': upstreamHost,
          'server.port': upstreamPort,
          ...(settings.recordPath ? { 'url.full': `${upstreamOrigin}${upstreamBase}${path}` } : {}),
        });
        const headers: IncomingHttpHeaders = incoming.headers;
        delete headers.traceparent;
        delete headers.tracestate;
        propagator.inject(trace.setSpan(context, span), headers, defaultTextMapSetter);
        let open = true;
        return {
          end(status) {
            if (!open) return;
            open = false;
            span.setAttribute('http.response.status_code', status);
            if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          },
          fail(failure) {
            if (!open) return;
            open = false;
            span.setAttribute('error.type', failure);
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          },
        };
      },
    };
    spans.set(req, request);
    res.once('close', () => {
      // Not left to the map's weakness: a young key kept alive by its own value outlives
      // young-generation collections (src/entry/proxy.ts, bodyWatches).
      spans.delete(req);
      const status = res.statusCode;
      server.setAttribute('http.response.status_code', status);
      if (status >= 500) server.setStatus({ code: SpanStatusCode.ERROR });
      // The client went away before the whole answer was written.
      if (!res.writableFinished) server.setAttribute('guard.aborted', true);
      server.end();
    });
    return request;
  }

  return {
    startRequest,
    spanOf: (req) => spans.get(req),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
