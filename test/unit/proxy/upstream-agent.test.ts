/**
 * The upstream pool's single-origin short ways (src/proxy/upstream-agent.ts): a free socket handed
 * out and taken back without Node's per-call option copies, with the same outcome as Node's agent:
 * the same socket reused, the pool's lists kept exact, a socket that fails while free taken out,
 * requests over maxSockets queued and served, and a new async id for a socket handed out again.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import { createUpstreamAgent } from '../../../src/proxy/upstream-agent.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** An upstream that answers every request with its connection's number, after `delayMs`. */
async function upstream(delayMs = 0): Promise<{ port: number; connections: net.Socket[] }> {
  const connections: net.Socket[] = [];
  const server = http.createServer((req, res) => {
    const n = connections.indexOf(req.socket);
    setTimeout(() => res.end(String(n)), delayMs);
  });
  server.on('connection', (socket: net.Socket) => connections.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { port: (server.address() as AddressInfo).port, connections };
}

function pool(port: number, maxSockets = 8): http.Agent {
  const { agent } = createUpstreamAgent({ secure: false, host: '127.0.0.1', port, maxSockets, connectTimeoutMs: 5_000, responseTimeoutMs: 30_000, onIdle: () => undefined });
  closers.push(async () => agent.destroy());
  return agent;
}

interface Answer {
  readonly body: string;
  readonly reused: boolean;
  readonly socket: net.Socket;
}

function get(agent: http.Agent, port: number, path = '/', onResponse?: () => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: '127.0.0.1', port, method: 'GET', path }, (res) => {
      onResponse?.();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ body, reused: req.reusedSocket, socket: req.socket as net.Socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Node's agent puts a socket back on the next tick after its answer ended. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const lists = (agent: http.Agent): { busy: number; free: number } => ({
  busy: Object.values(agent.sockets).reduce((n, list) => n + (list?.length ?? 0), 0),
  free: Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0),
});

test('sequential requests go out on one socket, handed out again, and the lists stay exact', async () => {
  const { port, connections } = await upstream();
  const agent = pool(port);
  const first = await get(agent, port);
  await settle();
  assert.deepEqual(lists(agent), { busy: 0, free: 1 });
  // As Node's agent marks a free socket: no async resource while it waits.
  const asyncId = Object.getOwnPropertySymbols(first.socket).find((symbol) => symbol.description === 'async_id_symbol');
  assert.ok(asyncId);
  assert.equal((first.socket as unknown as Record<symbol, number>)[asyncId], -1);
  for (let i = 0; i < 50; i++) {
    const answer = await get(agent, port);
    assert.equal(answer.reused, true);
    assert.equal(answer.socket, first.socket);
    assert.equal(answer.body, '0');
    await settle();
    assert.deepEqual(lists(agent), { busy: 0, free: 1 });
  }
  assert.equal(connections.length, 1);
});

test('a free socket that fails is taken out of the pool, and the next request opens a new one', async () => {
  const { port, connections } = await upstream();
  const agent = pool(port);
  const first = await get(agent, port);
  await settle();
  first.socket.emit('error', new Error('reset while free'));
  await settle();
  assert.equal(first.socket.destroyed, true);
  assert.deepEqual(lists(agent), { busy: 0, free: 0 });
  const next = await get(agent, port);
  assert.equal(next.reused, false);
  assert.notEqual(next.socket, first.socket);
  assert.equal(next.body, '1');
  assert.equal(connections.length, 2);
});

test('a socket in use again carries the error listeners a new one does (the one for a free socket is gone)', async () => {
  const { port } = await upstream();
  const agent = pool(port);
  const errorListeners = (): number => Object.values(agent.sockets)[0]?.[0]?.listenerCount('error') ?? -1;
  let fresh = -1;
  await get(agent, port, '/', () => (fresh = errorListeners()));
  await settle();
  let reused = -1;
  const again = await get(agent, port, '/', () => (reused = errorListeners()));
  assert.equal(again.reused, true);
  assert.ok(fresh > 0);
  assert.equal(reused, fresh);
});

test('a free socket closed by the upstream is skipped; the request goes out on a live one', async () => {
  const { port, connections } = await upstream();
  const agent = pool(port);
  const [a, b] = await Promise.all([get(agent, port, '/a'), get(agent, port, '/b')]);
  await settle();
  assert.deepEqual(lists(agent), { busy: 0, free: 2 });
  // The older free socket (first in the list) is destroyed; the newest one (LIFO) is handed out.
  const older = agent.freeSockets[Object.keys(agent.freeSockets)[0] ?? '']?.[0];
  assert.ok(older);
  older.destroy();
  await settle();
  const next = await get(agent, port);
  assert.equal(next.reused, true);
  assert.notEqual(next.socket, older);
  assert.ok(next.socket === a.socket || next.socket === b.socket);
  await settle();
  assert.deepEqual(lists(agent), { busy: 0, free: 1 });
  assert.equal(connections.length, 2);
});

test('over maxSockets, requests wait for a socket and are all served on the pool', async () => {
  const { port, connections } = await upstream(20);
  const agent = pool(port, 2);
  const answers = await Promise.all(Array.from({ length: 7 }, (_, i) => get(agent, port, `/${i}`)));
  assert.equal(answers.length, 7);
  assert.equal(connections.length, 2);
  assert.equal(new Set(answers.map((answer) => answer.socket)).size, 2);
  assert.ok(answers.every((answer) => answer.body === '0' || answer.body === '1'));
  await settle();
  assert.deepEqual(lists(agent), { busy: 0, free: 2 });
  assert.deepEqual(Object.keys(agent.requests), []);
});

test('a socket handed out again gets a new async id, as with Node\'s agent (async hooks see a new resource)', async () => {
  const { port } = await upstream();
  const agent = pool(port);
  const inits: number[] = [];
  const hook = createHook({
    init(id, type) {
      if (type === 'TCPWRAP') inits.push(id);
    },
  }).enable();
  try {
    const first = await get(agent, port);
    const firstId = handleAsyncId(first.socket);
    await settle();
    inits.length = 0;
    const second = await get(agent, port);
    assert.equal(second.socket, first.socket);
    assert.notEqual(handleAsyncId(second.socket), firstId);
    assert.deepEqual(inits, [handleAsyncId(second.socket)]);
  } finally {
    hook.disable();
  }
});

function handleAsyncId(socket: net.Socket): number {
  return (socket as net.Socket & { _handle: { getAsyncId(): number } })._handle.getAsyncId();
}

test('a socket waiting in the pool does not keep the process running (as with Node\'s agent)', async () => {
  const { port, connections } = await upstream();
  const agent = pool(port);
  const answer = await get(agent, port);
  await settle();
  for (const connection of connections) connection.unref();
  const open = (): number => process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap').length;
  const whilePooled = open();
  answer.socket.ref();
  assert.equal(open(), whilePooled + 1);
  answer.socket.unref();
});

test('a pooled socket gets the idle timeout; in use, the response timeout', async () => {
  const { port } = await upstream();
  const { agent } = createUpstreamAgent({ secure: false, host: '127.0.0.1', port, maxSockets: 8, connectTimeoutMs: 5_000, responseTimeoutMs: 30_000, idleTimeoutMs: 4_000, onIdle: () => undefined });
  closers.push(async () => agent.destroy());
  let inUse = -1;
  const first = await get(agent, port, '/', () => (inUse = (Object.values(agent.sockets)[0]?.[0] as (net.Socket & { timeout?: number }) | undefined)?.timeout ?? -2));
  await settle();
  assert.equal(inUse, 30_000);
  assert.equal((first.socket as net.Socket & { timeout?: number }).timeout, 4_000);
  const second = await get(agent, port, '/', () => (inUse = (Object.values(agent.sockets)[0]?.[0] as (net.Socket & { timeout?: number }) | undefined)?.timeout ?? -2));
  assert.equal(second.reused, true);
  assert.equal(inUse, 30_000);
});
