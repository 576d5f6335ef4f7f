import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDemoApp } from '../../demo/app.ts';
import { signIn, startStack, type Stack } from '../helpers/stack.ts';

/**
 * OpenTelemetry tracing against an OTLP/HTTP receiver running in this process, with a recording
 * hop in front of the demo app that keeps the headers the upstream received. What must hold: one
 * server span per request with its rule and decision, children for canonicalisation, the session
 * lookup, risk and the upstream call (a client span whose id is the traceparent the upstream got),
 * a client's traceparent believed only from a trusted proxy, and no secret in any exported byte.
 */

const PASSWORD = 'smartpush-demo';
const QUERY_SECRET = 'query-secret-token-5f1c9a';
const FOREIGN_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const FOREIGN_SPAN = '00f067aa0ba902b7';
const FOREIGN_PARENT = `00-${FOREIGN_TRACE}-${FOREIGN_SPAN}-01`;

interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  readonly status?: { code?: number };
}

const SERVER = 2;
const CLIENT = 3;

interface Receiver {
  readonly url: string;
  readonly bodies: string[];
  readonly resources: Array<Record<string, unknown>>;
  readonly spans: ExportedSpan[];
}

type OtlpValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number; arrayValue?: { values?: OtlpValue[] } };
type OtlpAttribute = { key: string; value: OtlpValue };

function value(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.arrayValue?.values?.map(value);
}

const attributes = (list: readonly OtlpAttribute[] | undefined): Record<string, unknown> => Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));

const servers: Server[] = [];
const stacks: Stack[] = [];
const demos: Array<{ close(): Promise<void> }> = [];
after(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  await Promise.all(demos.map((d) => d.close()));
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An OTLP/HTTP receiver taking the JSON encoding on /v1/traces. */
async function otlpReceiver(): Promise<Receiver> {
  const bodies: string[] = [];
  const resources: Array<Record<string, unknown>> = [];
  const spans: ExportedSpan[] = [];
  const url = await listen(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
          res.writeHead(415).end();
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        bodies.push(body);
        const parsed = JSON.parse(body) as {
          resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ spans?: Array<Omit<ExportedSpan, 'attributes'> & { attributes?: OtlpAttribute[] }> }> }>;
        };
        for (const rs of parsed.resourceSpans ?? []) {
          resources.push(attributes(rs.resource?.attributes));
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ ...s, attributes: attributes(s.attributes) });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    }),
  );
  return { url, bodies, resources, spans };
}

/** The demo app behind a hop that records what the upstream received. */
async function recordedUpstream(): Promise<{ url: string; received: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> }> {
  const demo = await startDemoApp({ host: '127.0.0.1', port: 0 });
  demos.push(demo);
  const target = new URL(demo.url);
  const received: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  const url = await listen(
    createServer((req, res) => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
      const hop = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      hop.on('error', () => res.destroy());
      req.pipe(hop);
    }),
  );
  return { url, received };
}

async function tracedStack(receiver: Receiver, tracing: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const upstream = await recordedUpstream();
  const stack = await startStack({
    upstreamUrl: upstream.url,
    config: { tracing: { otlp_endpoint: receiver.url, service_name: 'guard-under-test', ...tracing }, ...extra } as never,
  });
  stacks.push(stack);
  return { stack, received: upstream.received };
}

/** Closing the stack shuts the tracer provider down, which exports every finished span. */
async function closeAndCollect(stack: Stack): Promise<void> {
  stacks.splice(stacks.indexOf(stack), 1);
  await stack.close();
}

const childrenOf = (spans: readonly ExportedSpan[], parent: ExportedSpan): ExportedSpan[] =>
  spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

/** The one server span of a request to this path with this decision. */
function serverSpan(spans: readonly ExportedSpan[], path: string, decision: string): ExportedSpan {
  const found = spans.filter((s) => s.kind === SERVER && s.attributes['url.path'] === path && s.attributes['guard.decision'] === decision);
  assert.equal(found.length, 1, `one server span for ${path} (${decision}): ${JSON.stringify(spans.filter((s) => s.kind === SERVER).map((s) => s.attributes))}`);
  assert.match(String(found[0]?.attributes['guard.request_id']), /^[0-9a-f]+-[0-9a-z]+$/);
  return found[0] as ExportedSpan;
}

describe('OpenTelemetry tracing to an OTLP receiver', () => {
  test('spans per request with rule, decision, phases and the upstream call; traceparent upstream; no secret exported', { timeout: 60_000 }, async () => {
    const receiver = await otlpReceiver();
    const { stack, received } = await tracedStack(receiver);
    const cookie = await signIn(stack.url, 'merchant@example.com', PASSWORD);
    const cookieValues = cookie.split('; ').map((pair) => pair.slice(pair.indexOf('=') + 1));
    assert.ok(cookieValues.length >= 1 && cookieValues.every((v) => v.length >= 16), cookie);

    // A client's traceparent from an untrusted peer starts nothing: a new trace begins here.
    const dashboard = await fetch(`${stack.url}/dashboard?token=${QUERY_SECRET}`, { headers: { cookie, traceparent: FOREIGN_PARENT, tracestate: 'vendor=client-said' } });
    assert.equal(dashboard.status, 200);
    await dashboard.text();
    const exportCall = await fetch(`${stack.url}/api/contacts/export`, { headers: { cookie, accept: 'application/json' } });
    await exportCall.text();
    const anonymous = await fetch(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } });
    assert.equal(anonymous.status, 401);
    await closeAndCollect(stack);

    const spans = receiver.spans;
    assert.ok(receiver.resources.every((r) => r['service.name'] === 'guard-under-test'), JSON.stringify(receiver.resources));

    // The proxied, signed-in request.
    const server = serverSpan(spans, '/dashboard', 'pass');
    assert.notEqual(server.traceId, FOREIGN_TRACE, 'an untrusted traceparent is not joined');
    assert.equal(server.parentSpanId || undefined, undefined, 'the server span is a root');
    assert.equal(server.name, 'GET default');
    assert.equal(server.attributes['guard.rule'], 'default');
    assert.equal(server.attributes['http.request.method'], 'GET');
    assert.equal(server.attributes['url.path'], '/dashboard');
    assert.equal(server.attributes['http.response.status_code'], 200);
    const children = childrenOf(spans, server);
    const names = children.map((c) => c.name).sort();
    assert.deepEqual(names, ['GET', 'guard.canonicalise', 'guard.session'], names.join(' '));
    const session = children.find((c) => c.name === 'guard.session') as ExportedSpan;
    assert.equal(session.attributes['guard.authenticated'], true);
    const client = children.find((c) => c.kind === CLIENT) as ExportedSpan;
    assert.equal(client.attributes['http.response.status_code'], 200);
    assert.equal(client.attributes['url.full'], `${new URL(stack.upstreamUrl).origin}/dashboard`);
    const upstreamSaw = received.find((r) => r.url.startsWith('/dashboard?token='));
    assert.ok(upstreamSaw, 'the upstream got the dashboard request');
    assert.equal(upstreamSaw.headers.traceparent, `00-${server.traceId}-${client.spanId}-01`, 'the upstream continues the client span');
    assert.equal(upstreamSaw.headers.tracestate, undefined, 'the client tracestate is not passed on');

    // A sensitive rule: the risk assessment is a phase of its own.
    const sensitive = serverSpan(spans, '/api/contacts/export', 'step_up_required');
    assert.equal(sensitive.attributes['guard.rule'], 'contact-export');
    assert.equal(sensitive.attributes['guard.step_up'], 'email_code');
    const risk = childrenOf(spans, sensitive).find((c) => c.name === 'guard.risk');
    assert.ok(risk, childrenOf(spans, sensitive).map((c) => c.name).join(' '));
    assert.ok(typeof risk.attributes['guard.risk.level'] === 'string');

    // Refused before the upstream: no client span.
    const refused = serverSpan(spans, '/dashboard', 'login_required');
    assert.equal(refused.attributes['http.response.status_code'], 401);
    assert.ok(!childrenOf(spans, refused).some((c) => c.kind === CLIENT));

    // The sign-in itself is traced too, as the sidecar's own route.
    const login = spans.find((s) => s.kind === SERVER && s.attributes['guard.rule'] === 'guard:api/login');
    assert.ok(login, spans.map((s) => s.attributes['guard.rule']).join(' '));
    assert.equal(login.attributes['guard.decision'], 'pass');

    // Nothing secret in any byte that left for the collector.
    const exported = receiver.bodies.join('\n');
    assert.ok(!exported.includes(PASSWORD), 'no password');
    for (const v of cookieValues) assert.ok(!exported.includes(v), 'no cookie value');
    assert.ok(!exported.includes(QUERY_SECRET) && !exported.includes('token='), 'no query string');
  });

  test('a trusted proxy’s traceparent is continued, its tracestate passed on', { timeout: 30_000 }, async () => {
    const receiver = await otlpReceiver();
    const { stack, received } = await tracedStack(receiver, {}, { trusted_proxies: ['127.0.0.1/32'] });
    const answer = await fetch(`${stack.url}/favicon.ico`, { redirect: 'manual', headers: { traceparent: FOREIGN_PARENT, tracestate: 'vendor=ingress' } });
    await answer.text();
    await closeAndCollect(stack);

    const server = serverSpan(receiver.spans, '/favicon.ico', 'pass');
    assert.equal(server.traceId, FOREIGN_TRACE);
    assert.equal(server.parentSpanId, FOREIGN_SPAN);
    const client = childrenOf(receiver.spans, server).find((c) => c.kind === CLIENT);
    assert.ok(client);
    const upstreamSaw = received.find((r) => r.headers.traceparent !== undefined);
    assert.ok(upstreamSaw);
    assert.equal(upstreamSaw.headers.traceparent, `00-${FOREIGN_TRACE}-${client.spanId}-01`);
    assert.equal(upstreamSaw.headers.tracestate, 'vendor=ingress');
  });

  test('sample_ratio 0: nothing is exported, the upstream still gets a (not sampled) traceparent', { timeout: 30_000 }, async () => {
    const receiver = await otlpReceiver();
    const { stack, received } = await tracedStack(receiver, { sample_ratio: 0 });
    const answer = await fetch(`${stack.url}/favicon.ico`, { redirect: 'manual', headers: { traceparent: FOREIGN_PARENT } });
    await answer.text();
    await closeAndCollect(stack);
    assert.equal(receiver.spans.length, 0);
    const upstreamSaw = received.find((r) => r.url === '/favicon.ico');
    assert.ok(upstreamSaw);
    assert.match(String(upstreamSaw.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.ok(!String(upstreamSaw.headers.traceparent).includes(FOREIGN_TRACE));
  });

  test('a collector that is down fails no request and holds no shutdown back; it is logged', { timeout: 30_000 }, async () => {
    const closed = createServer();
    const port = Number(new URL(await listen(closed)).port);
    servers.splice(servers.indexOf(closed), 1);
    await new Promise((resolve) => closed.close(resolve));
    const upstream = await recordedUpstream();
    const stack = await startStack({
      upstreamUrl: upstream.url,
      config: { tracing: { otlp_endpoint: `http://127.0.0.1:${port}`, timeout: '2s' } } as never,
    });
    stacks.push(stack);
    for (let i = 0; i < 3; i++) {
      const answer = await fetch(`${stack.url}/favicon.ico`, { redirect: 'manual' });
      await answer.text();
      assert.equal(answer.status, 302);
    }
    await closeAndCollect(stack);
    assert.ok(stack.logs.some((l) => l.level === 40 && String(l.msg).startsWith('tracing:')), JSON.stringify(stack.logs.filter((l) => Number(l.level) >= 40)));
  });

  test('tracing off (the default): trace headers pass untouched and nothing is sent', { timeout: 30_000 }, async () => {
    const receiver = await otlpReceiver();
    const upstream = await recordedUpstream();
    const stack = await startStack({ upstreamUrl: upstream.url });
    stacks.push(stack);
    const answer = await fetch(`${stack.url}/favicon.ico`, { redirect: 'manual', headers: { traceparent: FOREIGN_PARENT } });
    await answer.text();
    await closeAndCollect(stack);
    assert.equal(receiver.bodies.length, 0);
    assert.equal(upstream.received.find((r) => r.url === '/favicon.ico')?.headers.traceparent, FOREIGN_PARENT);
  });
});
