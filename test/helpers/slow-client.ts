import net from 'node:net';
import { once } from 'node:events';
import { addressOf, parseResponses, type ParsedResponse } from './raw-http.ts';

/**
 * A client that holds its connection open and writes when the test says so (slowloris, slow POST,
 * slow reader). Every wait is bounded: a server that never answers fails the test, never hangs it.
 */
export interface SlowClient {
  readonly socket: net.Socket;
  write(data: string | Buffer): void;
  /** Everything received so far. */
  received(): Buffer;
  isClosed(): boolean;
  /** The first complete response, once the server closed the connection or sent one (bounded). */
  response(maxWaitMs?: number): Promise<{ response: ParsedResponse | undefined; closed: boolean }>;
  /** Resolves true once the server closed the connection, false after maxWaitMs. */
  closed(maxWaitMs?: number): Promise<boolean>;
  destroy(): void;
}

export async function openSlowClient(url: string, first?: string | Buffer): Promise<SlowClient> {
  const { host, port } = addressOf(url);
  const socket = net.connect({ host, port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closing = new Promise<void>((resolve) => socket.once('close', () => {
    closed = true;
    resolve();
  }));
  if (first !== undefined) socket.write(first);
  const bounded = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void closing.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  return {
    socket,
    write: (data) => {
      if (!socket.destroyed) socket.write(data);
    },
    received: () => Buffer.concat(chunks),
    isClosed: () => closed,
    closed: (maxWaitMs = 5_000) => bounded(maxWaitMs),
    response: async (maxWaitMs = 5_000) => {
      const wasClosed = await bounded(maxWaitMs);
      const { responses } = parseResponses(Buffer.concat(chunks), wasClosed);
      return { response: responses[0], closed: wasClosed };
    },
    destroy: () => socket.destroy(),
  };
}

/** Polls `check` every 20 ms until it holds; fails after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${what} did not happen within ${ms} ms`);
}

/** The value of one sample of the sidecar's /metrics (0 when absent). */
export async function metricValue(adminUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}
