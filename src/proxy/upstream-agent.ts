import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

export interface UpstreamAgentOptions {
  readonly secure: boolean;
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
 * the pool a socket has the agent's timeout (idleTimeoutMs), or the upstream's shorter keep-alive
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
    // The agent's timeout applies to the pooled connections only: those in use get responseTimeoutMs below.
    ...(options.idleTimeoutMs !== undefined ? { timeout: options.idleTimeoutMs } : {}),
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
  // Node's agent returns whether the socket may be kept (its typings say void).
  const keepAlive = agent.keepSocketAlive as unknown as (this: http.Agent, socket: Socket) => boolean;
  const keepSocketAlive = (socket: Socket): boolean => {
    if (!keepAlive.call(agent, socket)) return false;
    const keepMs = hints.get(socket);
    if (keepMs === undefined) return true;
    hints.delete(socket);
    // Less than a second left by the upstream's own count: not worth the race.
    if (keepMs <= 0) return false;
    if (!socket.timeout || keepMs < socket.timeout) socket.setTimeout(keepMs);
    return true;
  };
  agent.keepSocketAlive = keepSocketAlive as unknown as http.Agent['keepSocketAlive'];

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
