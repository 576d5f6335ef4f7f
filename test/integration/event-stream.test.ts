import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { timingSafeEqual } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { eventBatchSchema, streamEventSchema, type StreamEvent } from '../../src/audit/stream/event-schema.ts';
import { webhookSignature } from '../../src/channels/webhook.ts';
import { signIn, startStack, type Stack } from '../helpers/stack.ts';

/**
 * The security event stream against receivers running in this process: a signed webhook, a
 * receiver that is down and comes back, one that never answers, and syslog over UDP and TCP.
 * What must hold: every event arrives once in the published shape with a valid signature, no
 * secret is in it, and a receiver's trouble never fails or holds back a sign-in.
 */

const SECRET = 'events-webhook-secret-0123456789';
const PASSWORD = 'smartpush-demo';

interface Delivery {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

async function listen(server: Server, port = 0): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function receiver(answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(204).end()): { server: Server; deliveries: Delivery[] } {
  const deliveries: Delivery[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(req, res);
    });
  });
  return { server, deliveries };
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  for (let waited = 0; waited < limitMs; waited += 50) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`never happened: ${what}`);
}

const events = (deliveries: readonly Delivery[]): StreamEvent[] => deliveries.flatMap((d) => eventBatchSchema.parse(JSON.parse(d.body)).events);

async function metric(stack: Stack, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
  return line ? Number(line.split(' ').pop()) : 0;
}

const stacks: Stack[] = [];
const servers: Server[] = [];
after(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  for (const server of servers) (server as Partial<Server>).closeAllConnections?.();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function stackWith(eventsConfig: Record<string, unknown>): Promise<Stack> {
  const stack = await startStack({ config: { events: eventsConfig } as never });
  stacks.push(stack);
  return stack;
}

function secretFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-events-')), 'webhook-secret');
  writeFileSync(file, SECRET, { mode: 0o600 });
  return file;
}

describe('security events pushed to a webhook', () => {
  test('a sign-in and a wrong password arrive signed, in the published shape, without secrets', async () => {
    const { server, deliveries } = receiver();
    servers.push(server);
    const port = await listen(server);
    const stack = await stackWith({ webhook: { url: `http://127.0.0.1:${port}/hook`, secret: { file: secretFile() }, headers: { authorization: 'Bearer collector-token' } } });
    const cookie = await signIn(stack.url);
    const wrong = await fetch(`${stack.url}/_guard/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'merchant@example.com', password: 'not-it-at-all' }) });
    assert.equal(wrong.status, 401);
    await eventually(() => events(deliveries).some((e) => e.event === 'login_failure'), 'the failure delivered');

    for (const d of deliveries) {
      const timestamp = String(d.headers['x-guard-timestamp']);
      const expected = Buffer.from(webhookSignature(SECRET, timestamp, d.body));
      const given = Buffer.from(String(d.headers['x-guard-signature']));
      assert.ok(given.length === expected.length && timingSafeEqual(given, expected), 'a valid HMAC over timestamp and raw body');
      assert.equal(d.headers['authorization'], 'Bearer collector-token');
      assert.equal(d.headers['content-type'], 'application/json');
      assert.ok(d.headers['idempotency-key']);
      assert.ok(!d.body.includes(PASSWORD) && !d.body.includes('not-it-at-all'), 'no password in an event');
      assert.ok(!cookie.split('; ').some((pair) => d.body.includes(pair.split('=')[1] ?? '\u0000')), 'no cookie value in an event');
    }
    const all = events(deliveries);
    const success = all.find((e) => e.event === 'login_success');
    assert.ok(success, all.map((e) => e.event).join(' '));
    assert.equal(success.user, 'merchant@example.com');
    assert.doesNotThrow(() => streamEventSchema.parse(success));
    assert.equal(new Set(all.map((e) => e.id)).size, all.length, 'every event has its own id');
    assert.ok((await metric(stack, 'spg_event_deliveries_total', 'sink="webhook",outcome="delivered"')) >= 2);
  });

  test('a receiver that is down: sign-ins go on, the events wait and arrive once it is back', async () => {
    // A port that refuses connections now, and the receiver started on it later.
    const probe = createHttpServer();
    const port = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    const stack = await stackWith({ webhook: { url: `http://127.0.0.1:${port}/hook`, timeout: '1s' } });
    await signIn(stack.url);
    await signIn(stack.url);
    await eventually(async () => (await metric(stack, 'spg_event_deliveries_total', 'sink="webhook",outcome="retried"')) >= 1, 'a retry counted');
    assert.ok((await metric(stack, 'spg_event_queue_depth', 'sink="webhook"')) >= 2, 'the events wait in the queue');

    const { server, deliveries } = receiver();
    servers.push(server);
    await listen(server, port);
    await eventually(() => events(deliveries).filter((e) => e.event === 'login_success').length >= 2, 'both sign-ins delivered after the receiver came back');
  });

  test('a receiver that never answers holds no sign-in back; its request times out and is retried', async () => {
    const { server, deliveries } = receiver(() => {
      // accepted, never answered
    });
    servers.push(server);
    const port = await listen(server);
    const stack = await stackWith({ webhook: { url: `http://127.0.0.1:${port}/hook`, timeout: '500ms' } });
    await signIn(stack.url);
    await eventually(() => deliveries.length >= 1, 'the receiver got the request');
    // While that request hangs, more sign-ins are answered.
    await signIn(stack.url);
    await signIn(stack.url);
    await eventually(async () => (await metric(stack, 'spg_event_deliveries_total', 'sink="webhook",outcome="retried"')) >= 1, 'the hung request counted as a retry');
  });
});

describe('security events as syslog messages', () => {
  const RFC5424 = /^<(\d{1,3})>1 \S+ \S+ smartpush-guard \d+ (\S+) \[spg@32473 [^\]]*\] \uFEFF(\{.*\})$/s;

  test('over UDP, one datagram per event', async () => {
    const socket = createSocket('udp4');
    const messages: string[] = [];
    socket.on('message', (m) => messages.push(m.toString('utf8')));
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    try {
      const stack = await stackWith({ syslog: { transport: 'udp', host: '127.0.0.1', port: socket.address().port, facility: 'local4' } });
      await signIn(stack.url);
      await eventually(() => messages.some((m) => RFC5424.exec(m)?.[2] === 'login_success'), 'a login_success message');
      const m = RFC5424.exec(messages.find((x) => x.includes(' login_success '))!)!;
      assert.equal(Number(m[1]), 20 * 8 + 5, 'local4.notice');
      assert.equal(streamEventSchema.parse(JSON.parse(m[3]!)).user, 'merchant@example.com');
    } finally {
      socket.close();
    }
  });

  test('over TCP with octet-counting frames (RFC 6587)', async () => {
    let buffered = Buffer.alloc(0);
    const frames: string[] = [];
    const server = createTcpServer((conn) => {
      conn.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          const space = buffered.indexOf(0x20);
          if (space < 0) break;
          const length = Number(buffered.subarray(0, space).toString('ascii'));
          if (buffered.length < space + 1 + length) break;
          frames.push(buffered.subarray(space + 1, space + 1 + length).toString('utf8'));
          buffered = buffered.subarray(space + 1 + length);
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server as unknown as Server);
    const stack = await stackWith({ syslog: { transport: 'tcp', host: '127.0.0.1', port: (server.address() as AddressInfo).port, events: ['login_success', 'logout'] } });
    await signIn(stack.url);
    await eventually(() => frames.length >= 1, 'a frame');
    for (const frame of frames) assert.match(frame, RFC5424);
    assert.deepEqual([...new Set(frames.map((f) => RFC5424.exec(f)![2]))], ['login_success'], 'only the events listed in events.syslog.events');
  });
});

test('config: a webhook URL over plain http to another host is refused with the key named', async () => {
  await assert.rejects(
    startStack({ config: { events: { webhook: { url: 'http://collector.example/hook' } } } as never }),
    /events\.webhook: events\.webhook\.url must use https/,
  );
});
