import type http from 'node:http';
import type { Socket } from 'node:net';
import type { UpstreamOptions } from './forward.ts';

/** The send watch samples this many times per sendTimeout; a cut comes within sendTimeout + one tick. */
const SEND_WATCH_TICKS = 4;

interface ClientWatch {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly proxyRes: http.IncomingMessage;
  readonly upstreamSocket: Socket;
  readonly requestId: string;
  lastQueued: number;
  lastRead: number;
  stalledTicks: number;
}

/** The send watch of one Upstream: cuts off clients that stopped reading a proxied answer. */
export class SendWatch {
  /** Responses that had to wait for their client at least once (the send watch). */
  private readonly watched = new Set<ClientWatch>();
  /** The response an upstream socket carries while it waits for its client (keyed weakly: sockets are pooled). */
  private readonly waitingOnClient = new WeakMap<Socket, ClientWatch>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: Pick<UpstreamOptions, 'sendTimeoutMs' | 'onSendStall' | 'responseTimeoutMs'>) {}

  /**
   * The relay (relay-body.ts) pauses the upstream response while the client's socket is full and
   * resumes it on drain, which can happen on every chunk of a large body. So nothing here runs per
   * chunk: the first pause puts the response on a watch list, and one coarse timer (a quarter of
   * sendTimeout) samples what is on it. A client must make progress: within every sendTimeout
   * (+ one tick) either the bytes queued for it shrink or the upstream socket is read further
   * (the relay resumed because the client drained), or it is cut off. A client that keeps reading,
   * however slowly, keeps its download; one that stopped reading does not hold the upstream
   * socket for ever. The upstream's idle timeout stays armed: when it fires while its response
   * waits for the client, it is re-armed instead (a slow client is not a slow upstream).
   */
  watch(proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse, requestId: string): void {
    proxyRes.once('pause', () => {
      if (res.destroyed || proxyRes.destroyed) return;
      const upstreamSocket = proxyRes.socket;
      const watch: ClientWatch = { req, res, proxyRes, upstreamSocket, requestId, lastQueued: -1, lastRead: -1, stalledTicks: 0 };
      this.waitingOnClient.set(upstreamSocket, watch);
      const sendTimeoutMs = this.options.sendTimeoutMs;
      if (sendTimeoutMs === undefined) return;
      this.watched.add(watch);
      const forget = (): void => {
        this.watched.delete(watch);
      };
      res.once('close', forget);
      proxyRes.once('close', forget);
      if (!this.sweepTimer) {
        this.sweepTimer = setInterval(() => this.sweepClients(), Math.max(25, Math.floor(sendTimeoutMs / SEND_WATCH_TICKS)));
        this.sweepTimer.unref();
      }
    });
  }

  /** One tick of the send watch (see watch). */
  private sweepClients(): void {
    if (this.watched.size === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
      return;
    }
    for (const watch of this.watched) {
      const { res, proxyRes, upstreamSocket } = watch;
      if (res.destroyed || proxyRes.destroyed) {
        this.watched.delete(watch);
        continue;
      }
      const handle = (res.socket as (NonNullable<typeof res.socket> & { _handle?: { writeQueueSize?: number } }) | null)?._handle;
      const queued = res.writableLength + (handle?.writeQueueSize ?? 0);
      const read = upstreamSocket.bytesRead;
      const stalled = queued > 0 && proxyRes.isPaused() && queued >= watch.lastQueued && read === watch.lastRead;
      watch.lastQueued = queued;
      watch.lastRead = read;
      watch.stalledTicks = stalled ? watch.stalledTicks + 1 : 0;
      if (watch.stalledTicks >= SEND_WATCH_TICKS) {
        this.watched.delete(watch);
        this.options.onSendStall?.(watch.req, watch.requestId);
        res.destroy();
      }
    }
  }

  /** The upstream socket's idle timeout fired: an upstream failure, unless its response is waiting for the client. */
  onUpstreamIdle(socket: Socket): void {
    const watch = this.waitingOnClient.get(socket);
    if (watch && !watch.res.destroyed && !watch.proxyRes.complete && watch.proxyRes.isPaused()) {
      socket.setTimeout(this.options.responseTimeoutMs);
      return;
    }
    socket.destroy(Object.assign(new Error('upstream response timeout'), { code: 'UPSTREAM_TIMEOUT' }));
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }
}
