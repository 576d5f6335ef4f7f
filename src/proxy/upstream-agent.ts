import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

export interface UpstreamAgentOptions {
  readonly secure: boolean;
  /** The upstream's host and port, as every request of this agent names them (the pool's one origin). */
  readonly host: string;
  readonly port: number;
  readonly maxSockets: number;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** A pooled connection unused this long is closed; none: kept until the upstream closes it. */
  readonly idleTimeoutMs?: number | undefined;
  /** A socket's timeout fired while it carried a request (the caller decides: cut, or wait on the client). */
  readonly onIdle: (socket: Socket) => void;
}

export interface UpstreamAgent {
  readonly agent: http.Agent;
  /** The answer a socket carries said `Keep-Alive: …`: its `timeout=N` shortens the socket's time in the pool. */
  noteKeepAlive(socket: Socket, header: string): void;
}

/**
 * The keep-alive agent of the upstream pool (LIFO), with the upstream timeouts set where sockets
 * are made and handed out rather than per request: a new socket gets the connect timer and (once)
 * the idle listener; every request, on a new or a reused socket, re-arms the response timeout. In
 * the pool a socket has the idle timeout (idleTimeoutMs), or the upstream's shorter keep-alive
 * hint less a second (as Node's agent would do, but header hygiene removes the header before the
 * agent reads it). A timeout destroys the socket, which fails the request in flight (504) or takes
 * the idle one out of the pool: before the app's own keep-alive timeout closes it under a request,
 * and before a load balancer or NAT drops it without a word.
 */
export function createUpstreamAgent(options: UpstreamAgentOptions): UpstreamAgent {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: 64,
    scheduling: 'lifo' as const,
    // No `timeout` here: an agent with one makes Node add and remove a timeout listener on the
    // socket of every request. The pooled connections' idle timeout is set in keepSocketAlive.
  };
  const agent = options.secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  /** Per socket, ms to keep it in the pool after the answer it just carried (the hint N − 1 s). */
  const hints = new WeakMap<Socket, number>();
  const { responseTimeoutMs, connectTimeoutMs } = options;

  const armNewSocket = (socket: Socket): void => {
    if (socket.connecting) {
      const timer = setTimeout(() => {
        socket.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'UPSTREAM_CONNECT_TIMEOUT' }));
      }, connectTimeoutMs);
      timer.unref();
      const clear = (): void => clearTimeout(timer);
      socket.once('connect', clear);
      socket.once('close', clear);
    }
    socket.on('timeout', () => options.onIdle(socket));
    socket.setTimeout(responseTimeoutMs);
  };

  const create = agent.createConnection;
  agent.createConnection = (connectOptions, callback) => {
    const socket = create.call(agent, connectOptions, callback);
    if (socket) armNewSocket(socket as Socket);
    return socket;
  };
  const reuse = agent.reuseSocket;
  agent.reuseSocket = (socket, request) => {
    reuse.call(agent, socket, request);
    (socket as Socket).setTimeout(responseTimeoutMs);
  };
  const poolIdleMs = options.idleTimeoutMs ?? 0;
  const keepAliveMsecs = (agent as { keepAliveMsecs?: number }).keepAliveMsecs ?? 1000;
  // Node's keepSocketAlive (TCP keep-alive, the pool not holding the process open), with the idle
  // timeout and the upstream's hint applied in one step. Returns whether the socket may be kept
  // (Node's typings say void).
  const keepSocketAlive = (socket: Socket): boolean => {
    socket.setKeepAlive(true, keepAliveMsecs);
    socket.unref();
    let timeoutMs = poolIdleMs;
    const keepMs = hints.get(socket);
    if (keepMs !== undefined) {
      hints.delete(socket);
      // Less than a second left by the upstream's own count: not worth the race.
      if (keepMs <= 0) return false;
      if (timeoutMs === 0 || keepMs < timeoutMs) timeoutMs = keepMs;
    }
    if (socket.timeout !== timeoutMs) socket.setTimeout(timeoutMs);
    return true;
  };
  agent.keepSocketAlive = keepSocketAlive as unknown as http.Agent['keepSocketAlive'];
  if (!options.secure) singleOriginFastPaths(agent, options.host, options.port);

  // An upstream sends the same header on every answer (a Node app: `timeout=5`): parsed once per value.
  let lastHeader: string | undefined;
  let lastKeepMs: number | undefined;
  const idleMs = options.idleTimeoutMs ?? Number.POSITIVE_INFINITY;
  return {
    agent,
    noteKeepAlive(socket, header) {
      if (header !== lastHeader) {
        lastHeader = header;
        const seconds = /(?:^|[\s,;])timeout\s*=\s*(\d+)/i.exec(header)?.[1];
        lastKeepMs = seconds === undefined ? undefined : Number(seconds) * 1000 - 1000;
      }
      // A hint that leaves the socket at least the agent's own idle limit changes nothing: not noted.
      if (lastKeepMs !== undefined && lastKeepMs < idleMs) hints.set(socket, lastKeepMs);
    },
  };
}

/** Node's own per-socket async id, reset when a pooled socket is handed out again (as Node's agent does). */
let asyncIdSymbol: symbol | undefined;

interface PooledSocket extends Socket {
  _httpMessage?: (http.ClientRequest & { shouldKeepAlive?: boolean }) | null;
  _handle?: { asyncReset?(resource: object): void; getProviderType?(): number; getAsyncId?(): number } | null;
}

type AgentInternals = http.Agent & {
  readonly freeSockets: Record<string, PooledSocket[] | undefined>;
  readonly sockets: Record<string, PooledSocket[] | undefined>;
  readonly requests: Record<string, unknown[] | undefined>;
  readonly totalSocketCount: number;
  readonly maxTotalSockets: number;
  readonly maxFreeSockets: number;
  readonly keepAlive: boolean;
};

/**
 * Node's agent serves any number of origins: every hand-out copies the request's options and the
 * agent's into a new object, works out a TLS server name from the Host header and builds the
 * origin's pool name, and every hand-back builds the name again and searches the pools (perf: ≈ 4 µs
 * of a proxied request, the largest single cost of the forwarding core in JavaScript). This agent
 * has one origin, a plain-HTTP one (an https agent's pool name includes the server name, which
 * follows the Host header), so its name is known once: a request for it on a free socket, and a
 * socket coming back with no request waiting, take the short way here with the same steps Node's
 * agent takes; every other case (a new socket, a queue, another origin) is Node's own code.
 */
function singleOriginFastPaths(agent: http.Agent, host: string, port: number): void {
  const pool = agent as AgentInternals;
  const name = agent.getName({ host, port });
  const sameOrigin = (options: http.RequestOptions): boolean =>
    options.host === host && options.port === port && !options.localAddress && !options.socketPath && options.family === undefined;

  const onFreeSocketError = function (this: PooledSocket): void {
    this.destroy();
    this.emit('agentRemove');
  };
  const nodeReuse = agent.reuseSocket;
  agent.reuseSocket = (socket, request) => {
    nodeReuse.call(agent, socket, request);
    socket.removeListener('error', onFreeSocketError);
  };

  const nodeAddRequest = (agent as unknown as { addRequest(req: http.ClientRequest, options: http.RequestOptions): void }).addRequest;
  (agent as unknown as { addRequest(req: http.ClientRequest, options: http.RequestOptions): void }).addRequest = function addRequest(req, options) {
    const free = pool.freeSockets[name];
    if (free !== undefined && sameOrigin(options)) {
      while (free.length > 0 && free[0]?.destroyed) free.shift();
      const socket = free.pop();
      if (free.length === 0) delete pool.freeSockets[name];
      if (socket !== undefined) {
        resetAsyncId(socket);
        agent.reuseSocket(socket, req);
        req.onSocket(socket);
        // As Node's setRequestSocket: a request's own timeout (none of the forwarder's have one) wins.
        const own = (req as { timeout?: number }).timeout;
        if (own !== undefined && own !== (agentTimeout(agent) ?? 0)) socket.setTimeout(own);
        (pool.sockets[name] ??= []).push(socket);
        return;
      }
    }
    nodeAddRequest.call(agent, req, options);
  };

  // Node's 'free' listener (installed by its constructor) stays for every case but the common one.
  const [nodeFree] = agent.listeners('free') as ((socket: PooledSocket, options: http.RequestOptions) => void)[];
  if (nodeFree === undefined) return;
  agent.removeListener('free', nodeFree);
  agent.on('free', (socket: PooledSocket, options: http.RequestOptions) => {
    const req = socket._httpMessage;
    const busy = pool.sockets[name];
    const common = socket.writable && req && req.shouldKeepAlive && pool.keepAlive && sameOrigin(options);
    if (!common || busy === undefined || hasWaiting(pool)) {
      nodeFree(socket, options);
      return;
    }
    const freeSockets = pool.freeSockets[name] ?? [];
    const freeLen = freeSockets.length;
    const keep = agent.keepSocketAlive as unknown as (s: Socket) => boolean;
    const over = pool.totalSocketCount > pool.maxTotalSockets || freeLen + busy.length > agent.maxSockets || freeLen >= pool.maxFreeSockets;
    if (over || !keep(socket)) {
      socket.destroy();
      return;
    }
    pool.freeSockets[name] = freeSockets;
    asyncIdSymbol ??= findAsyncIdSymbol(socket);
    if (asyncIdSymbol !== undefined) (socket as unknown as Record<symbol, number>)[asyncIdSymbol] = -1;
    socket._httpMessage = null;
    // Node's removeSocket for a writable socket with no request waiting: out of the busy list.
    const index = busy.lastIndexOf(socket);
    if (index !== -1) {
      busy.splice(index, 1);
      if (busy.length === 0) delete pool.sockets[name];
    }
    socket.once('error', onFreeSocketError);
    freeSockets.push(socket);
  });
}

function agentTimeout(agent: http.Agent): number | undefined {
  return (agent as unknown as { options: { timeout?: number } }).options.timeout;
}

function hasWaiting(pool: AgentInternals): boolean {
  for (const _ in pool.requests) return true;
  return false;
}

function findAsyncIdSymbol(socket: Socket): symbol | undefined {
  return Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'async_id_symbol');
}

/** What Node's agent does to a socket it hands out again: a new async id, so async hooks see a new resource. */
function resetAsyncId(socket: PooledSocket): void {
  const handle = socket._handle;
  if (!handle?.asyncReset || !handle.getProviderType || !handle.getAsyncId) return;
  handle.asyncReset({ type: handle.getProviderType(), handle });
  asyncIdSymbol ??= findAsyncIdSymbol(socket);
  if (asyncIdSymbol !== undefined) (socket as unknown as Record<symbol, number>)[asyncIdSymbol] = handle.getAsyncId();
}
