/**
 * An open-loop, evenly paced load (what wrk2 does): request i is due at start + i / rate, whether
 * or not earlier answers came back, and its latency is measured from when it was *due*, not from
 * when a free connection sent it (the correction for coordinated omission). So a stall shows up in
 * every request it delayed, and at a moderate rate the percentiles are the server's latency, not
 * queueing inside bursts (autocannon's `overallRate` sends each connection's quota for a second
 * back to back, then waits).
 *
 * It must cost the shared cores little, or it becomes the bottleneck it measures: raw keep-alive
 * sockets, one pre-serialised GET, one request in flight per connection, and a parser that only
 * reads the status and Content-Length (every bench answer has one; chunked answers are refused).
 */
import { connect, type Socket } from 'node:net';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { LoadResult } from './load.ts';

export interface OpenLoopOptions {
  readonly rate: number;
  readonly seconds: number;
  /** Keep-alive connections the requests are spread over (more are never opened). */
  readonly connections: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Each latency is also recorded here (µs), to merge several runs into one distribution. */
  readonly record?: RecordableHistogram;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export function openLoop(url: string, options: OpenLoopOptions): Promise<LoadResult> {
  const target = new URL(url);
  const headerLines = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  const request = Buffer.from(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: */*\r\n${headerLines}\r\n`, 'latin1');
  const histogram = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const intervalMs = 1000 / options.rate;
  const waiting: number[] = []; // due times of requests no connection has taken yet
  const idle: Conn[] = [];
  let sent = 0;
  let finished = 0;
  let ok = 0;
  let errors = 0;
  let non2xx = 0;
  const start = performance.now();

  interface Conn {
    socket: Socket;
    due: number;
    buffer: Buffer;
    bodyLeft: number;
    status: number;
    inHead: boolean;
    inFlight: boolean;
  }

  return new Promise((resolve) => {
    const conns: Conn[] = [];
    let resolved = false;
    const finish = (): void => {
      finished++;
      if (finished < total || resolved) return;
      resolved = true;
      clearInterval(timer);
      for (const c of conns) c.socket.destroy();
      const seconds = (performance.now() - start) / 1000;
      resolve({ rps: ok / seconds, p50Ms: histogram.percentile(50) / 1000, p99Ms: histogram.percentile(99) / 1000, meanMs: histogram.mean / 1000, requests: ok, errors, non2xx, seconds });
    };
    const dispatch = (conn: Conn): void => {
      const due = waiting.shift();
      if (due === undefined) {
        idle.push(conn);
        return;
      }
      conn.due = due;
      conn.inHead = true;
      conn.buffer = Buffer.alloc(0);
      conn.inFlight = true;
      conn.socket.write(request);
    };
    const answered = (conn: Conn): void => {
      conn.inFlight = false;
      if (conn.status >= 200 && conn.status < 300) {
        ok++;
        const latencyUs = Math.max(1, Math.round((performance.now() - conn.due) * 1000));
        histogram.record(latencyUs);
        options.record?.record(latencyUs);
      } else {
        non2xx++;
      }
      finish();
      dispatch(conn);
    };
    const onData = (conn: Conn, chunk: Buffer): void => {
      let data = chunk;
      while (data.length > 0) {
        if (conn.inHead) {
          conn.buffer = conn.buffer.length > 0 ? Buffer.concat([conn.buffer, data]) : data;
          const end = conn.buffer.indexOf(HEAD_END);
          if (end === -1) return;
          const head = conn.buffer.toString('latin1', 0, end);
          const rest = conn.buffer.subarray(end + 4);
          conn.status = Number(head.slice(9, 12));
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          if (!length) {
            // Not a bench answer (chunked or close-delimited): count it as an error and drop the connection.
            conn.socket.destroy();
            return;
          }
          conn.inHead = false;
          conn.bodyLeft = Number(length[1]);
          data = rest;
          if (conn.bodyLeft === 0) {
            answered(conn);
            continue;
          }
        } else {
          const take = Math.min(conn.bodyLeft, data.length);
          conn.bodyLeft -= take;
          data = data.subarray(take);
          if (conn.bodyLeft === 0) answered(conn);
        }
      }
    };
    for (let i = 0; i < options.connections; i++) {
      const socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
      const conn: Conn = { socket, due: 0, buffer: Buffer.alloc(0), bodyLeft: 0, status: 0, inHead: true, inFlight: false };
      conns.push(conn);
      socket.once('connect', () => dispatch(conn));
      socket.on('data', (chunk: Buffer) => onData(conn, chunk));
      socket.once('error', () => undefined);
      socket.once('close', () => {
        if (resolved) return;
        // A request in flight on a closed connection is lost; the remaining schedule continues on the others.
        const at = idle.indexOf(conn);
        if (at !== -1) idle.splice(at, 1);
        if (conn.inFlight) {
          conn.inFlight = false;
          errors++;
          finish();
        }
      });
    }
    // A 1 ms timer queues everything that has come due (timers cannot fire more finely).
    const timer = setInterval(() => {
      const now = performance.now();
      while (sent < total && start + sent * intervalMs <= now) {
        waiting.push(start + sent * intervalMs);
        sent++;
      }
      while (idle.length > 0 && waiting.length > 0) dispatch(idle.pop() as Conn);
    }, 1);
  });
}
