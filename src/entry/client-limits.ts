import type { IncomingMessage } from 'node:http';
import type { BlockList, Socket } from 'node:net';
import { isIP } from 'node:net';
import { normaliseAddress } from '../proxy/client-address.ts';
import { addressKey } from '../flows/regulation.ts';
import { Counts } from '../core/counts.ts';

/**
 * What one client may hold on the public listener (THREATS T17): connections per address, and how
 * fast a request body must arrive. Node's headersTimeout bounds the head; nothing in Node bounds a
 * body without also cutting long uploads (requestTimeout is one deadline for the whole request), so
 * bodies are watched here: the sidecar's own routes (16 KiB bodies) get a deadline for the whole
 * body, proxied bodies a minimum rate per window (Apache mod_reqtimeout's model). No clock is read:
 * each window is a timer, and progress is the bytes the connection received in it.
 */

export interface ClientLimitOptions {
  readonly bodyTimeoutMs: number;
  /** Bytes per second a proxied body must average over each window. */
  readonly bodyMinRate: number;
  readonly connectionsPerAddress: number;
}

export type BodyWatchMode = 'deadline' | 'rate';

export interface BodyWatch {
  /** Proxied from now on: judge the body by its rate, not by one deadline. */
  toRate(): void;
  stop(): void;
  /** Whether the watch has ended (onStop has run). */
  stopped(): boolean;
}

/** Whether a request announces a body (a length above 0 or chunked framing). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

export class ClientLimits {
  private readonly connections = new Counts();
  private readonly overCap = new WeakSet<Socket>();

  constructor(
    private readonly options: ClientLimitOptions,
    private readonly trusted: BlockList,
    private readonly hasTrusted: boolean,
  ) {}

  /**
   * Counts a new connection against its peer's address. A trusted proxy's connections are not
   * counted (they carry many clients; those are capped per request by their forwarded address).
   * A connection over the cap is marked: its first request is answered 429 and it is closed.
   */
  accept(socket: Socket): void {
    const peer = normaliseAddress(socket.remoteAddress);
    if (this.hasTrusted && this.trusted.check(peer, isIP(peer) === 6 ? 'ipv6' : 'ipv4')) return;
    const key = addressKey(peer);
    const open = this.connections.get(key);
    if (open >= this.options.connectionsPerAddress) {
      this.overCap.add(socket);
      return;
    }
    this.connections.add(key);
    socket.once('close', () => this.connections.remove(key));
  }

  overConnectionCap(socket: Socket): boolean {
    return this.overCap.has(socket);
  }

  /** Open connections counted for an address (for tests). */
  openConnections(address: string): number {
    return this.connections.get(addressKey(normaliseAddress(address)));
  }

  /**
   * Watches a request's body from now on; `onStall` runs once if it arrives too slowly, `onStop`
   * once when the watch ends (the body is in, the request closed, or it stalled). In
   * 'deadline' mode the whole body must be in within bodyTimeout; in 'rate' mode every window of
   * bodyTimeout must bring bodyMinRate × window bytes, except while the request is not being read
   * (the upstream is the slow one then, or the request waits for an upstream socket).
   */
  watchBody(req: IncomingMessage, onStall: () => void, onStop?: () => void): BodyWatch {
    const { bodyTimeoutMs, bodyMinRate } = this.options;
    const minBytes = Math.max(1, Math.floor((bodyMinRate * bodyTimeoutMs) / 1000));
    const socket = req.socket;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let baseline = socket.bytesRead;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      req.off('end', stop);
      req.off('close', stop);
      onStop?.();
    };
    const stall = (): void => {
      stop();
      onStall();
    };
    const arm = (check: () => void): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(check, bodyTimeoutMs);
      timer.unref();
    };
    const deadline = (): void => {
      if (stopped || req.complete) return stop();
      stall();
    };
    const window = (): void => {
      if (stopped || req.complete) return stop();
      const received = socket.bytesRead - baseline;
      baseline = socket.bytesRead;
      const waitingOnUs = req.readableFlowing !== true || req.readableLength > 0;
      if (!waitingOnUs && received < minBytes) return stall();
      arm(window);
    };
    req.once('end', stop);
    req.once('close', stop);
    if (req.complete) stop();
    else arm(deadline);
    return {
      toRate: () => {
        if (stopped) return;
        baseline = socket.bytesRead;
        arm(window);
      },
      stop,
      stopped: () => stopped,
    };
  }
}
