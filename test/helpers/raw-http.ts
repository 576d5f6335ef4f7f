import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';

/**
 * Byte-level HTTP/1.1 tools for the security tests: a raw-socket client (so requests can be as
 * malformed as an attacker likes), a strict little message parser, and a *recording upstream*: a
 * plain `net` server (not node:http, whose parser would hide what we want to see) that keeps every
 * byte it receives and frames requests itself, so a test can assert how many requests the upstream
 * saw and how each was framed.
 */

// ---------------------------------------------------------------------------------------------
// Message parsing

export interface ParsedHead {
  /** Request: [method, target, version]; response: [version, status, reason]. */
  readonly startLine: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Byte length of the head including the blank line. */
  readonly length: number;
}

export type Framing = 'chunked' | 'content-length' | 'none' | 'until-close';

export interface ParsedMessage extends ParsedHead {
  readonly framing: Framing;
  readonly body: Buffer;
  /** Every byte of the message as received. */
  readonly raw: Buffer;
}

export type ParseStep =
  | { readonly kind: 'message'; readonly message: ParsedMessage; readonly rest: Buffer }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'malformed'; readonly reason: string };

/** First value of a header (case-insensitive), or undefined. */
export function headerOf(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

export function headersNamed(headers: ReadonlyArray<readonly [string, string]>, name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a strict CRLF head; anything a careful server would refuse is `malformed`. */
export function parseHead(buf: Buffer): ParsedHead | 'incomplete' | { malformed: string } {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return buf.length > 64 * 1024 ? { malformed: 'head too long' } : 'incomplete';
  const text = buf.subarray(0, end).toString('latin1');
  const lines = text.split('\r\n');
  const startLine = lines.shift() ?? '';
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    if (line.includes('\n') || line.includes('\r')) return { malformed: `bare CR or LF in ${JSON.stringify(line)}` };
    if (line.startsWith(' ') || line.startsWith('\t')) return { malformed: `obs-fold line ${JSON.stringify(line)}` };
    const colon = line.indexOf(':');
    if (colon <= 0) return { malformed: `header line without name ${JSON.stringify(line)}` };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { malformed: `bad header name ${JSON.stringify(name)}` };
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  return { startLine, headers, length: end + 4 };
}

/** Decodes a chunked body starting at `offset`; returns the body and the offset after the trailers. */
function parseChunked(buf: Buffer, offset: number): { body: Buffer; end: number } | 'incomplete' | { malformed: string } {
  const parts: Buffer[] = [];
  let pos = offset;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', pos);
    if (lineEnd === -1) return 'incomplete';
    const sizeText = buf.subarray(pos, lineEnd).toString('latin1').split(';')[0]?.trim() ?? '';
    if (!/^[0-9A-Fa-f]{1,8}$/.test(sizeText)) return { malformed: `bad chunk size ${JSON.stringify(sizeText)}` };
    const size = parseInt(sizeText, 16);
    pos = lineEnd + 2;
    if (size === 0) {
      // trailers, then an empty line
      for (;;) {
        const tEnd = buf.indexOf('\r\n', pos);
        if (tEnd === -1) return 'incomplete';
        const line = buf.subarray(pos, tEnd);
        pos = tEnd + 2;
        if (line.length === 0) return { body: Buffer.concat(parts), end: pos };
      }
    }
    if (buf.length < pos + size + 2) return 'incomplete';
    parts.push(buf.subarray(pos, pos + size));
    if (buf[pos + size] !== 0x0d || buf[pos + size + 1] !== 0x0a) return { malformed: 'chunk data not followed by CRLF' };
    pos += size + 2;
  }
}

export interface ParseOptions {
  /** Parsing a response to a HEAD request (no body whatever the headers say). */
  readonly head?: boolean;
  /** Parsing a response: without CL or TE the body runs until the connection closes. */
  readonly response?: boolean;
  /** The connection has closed (lets an until-close body complete). */
  readonly closed?: boolean;
}

/** Parses one message from the front of `buf`. Requests must be unambiguous or they are malformed. */
export function parseMessage(buf: Buffer, options: ParseOptions = {}): ParseStep {
  const head = parseHead(buf);
  if (head === 'incomplete') return { kind: 'incomplete' };
  if ('malformed' in head) return { kind: 'malformed', reason: head.malformed };
  const te = headersNamed(head.headers, 'transfer-encoding');
  const cl = headersNamed(head.headers, 'content-length');
  const done = (framing: Framing, body: Buffer, end: number): ParseStep => ({
    kind: 'message',
    message: { ...head, framing, body, raw: buf.subarray(0, end) },
    rest: buf.subarray(end),
  });
  if (options.response) {
    const status = Number(head.startLine.split(' ')[1]);
    if (options.head || (status >= 100 && status < 200) || status === 204 || status === 304) {
      return done('none', Buffer.alloc(0), head.length);
    }
  }
  if (te.length > 0 && cl.length > 0) return { kind: 'malformed', reason: 'both Transfer-Encoding and Content-Length' };
  if (te.length > 1 || cl.length > 1) return { kind: 'malformed', reason: 'repeated framing header' };
  if (te.length === 1) {
    if ((te[0] ?? '').toLowerCase() !== 'chunked') return { kind: 'malformed', reason: `Transfer-Encoding ${JSON.stringify(te[0])}` };
    const chunked = parseChunked(buf, head.length);
    if (chunked === 'incomplete') return { kind: 'incomplete' };
    if ('malformed' in chunked) return { kind: 'malformed', reason: chunked.malformed };
    return done('chunked', chunked.body, chunked.end);
  }
  if (cl.length === 1) {
    if (!/^\d+$/.test(cl[0] ?? '')) return { kind: 'malformed', reason: `Content-Length ${JSON.stringify(cl[0])}` };
    const n = Number(cl[0]);
    if (buf.length < head.length + n) return { kind: 'incomplete' };
    return done('content-length', buf.subarray(head.length, head.length + n), head.length + n);
  }
  if (options.response) {
    if (!options.closed) return { kind: 'incomplete' };
    return done('until-close', buf.subarray(head.length), buf.length);
  }
  return done('none', Buffer.alloc(0), head.length);
}

export interface ParsedResponse extends ParsedMessage {
  readonly status: number;
  header(name: string): string | undefined;
  /** The body parsed as JSON (throws when it is not JSON). */
  json(): unknown;
}

function asResponse(message: ParsedMessage): ParsedResponse {
  return {
    ...message,
    status: Number(message.startLine.split(' ')[1]),
    header: (name) => headerOf(message.headers, name),
    json: () => JSON.parse(message.body.toString('utf8')) as unknown,
  };
}

/**
 * Every complete response in `data`. `headFlags[i]` says whether the i-th request was a HEAD.
 * Stops at the first incomplete or malformed message.
 */
export function parseResponses(data: Buffer, closed: boolean, headFlags: readonly boolean[] = []): { responses: ParsedResponse[]; rest: Buffer } {
  const responses: ParsedResponse[] = [];
  let rest = data;
  while (rest.length > 0) {
    const step = parseMessage(rest, { response: true, closed, head: headFlags[responses.length] === true });
    if (step.kind !== 'message') break;
    responses.push(asResponse(step.message));
    rest = step.rest;
  }
  return { responses, rest };
}

// ---------------------------------------------------------------------------------------------
// Raw client

export interface RawExchange {
  /** Every byte the server sent. */
  readonly data: Buffer;
  /** The server closed (or reset) the connection before we gave up waiting. */
  readonly closed: boolean;
  readonly responses: ParsedResponse[];
  /** Bytes after the last complete response. */
  readonly rest: Buffer;
  /** The first response (throws when there is none). */
  readonly first: ParsedResponse;
}

export interface RawOptions {
  /** Stop once this many complete responses have arrived (default: wait for the close). */
  readonly responses?: number;
  /** Upper bound on waiting, so a broken server fails the test instead of hanging it (default 3000 ms). */
  readonly maxWaitMs?: number;
  /** After the expected responses arrived, how long to keep listening for a close (default 0). */
  readonly lingerMs?: number;
  /** Which requests are HEAD requests (for response parsing). */
  readonly head?: readonly boolean[];
}

export function addressOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

/**
 * Writes `payload` (each element a separate write, in order) to a fresh TCP connection and
 * collects everything the server answers until it closes, or until `responses` complete
 * responses arrived, or until `maxWaitMs`.
 */
export async function rawExchange(url: string, payload: string | Buffer | ReadonlyArray<string | Buffer>, options: RawOptions = {}): Promise<RawExchange> {
  const { host, port } = addressOf(url);
  const socket = net.connect({ host, port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  let closed = false;
  const maxWait = options.maxWaitMs ?? 3000;
  const wanted = options.responses;
  await new Promise<void>((resolve) => {
    let lingering: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      if (lingering) clearTimeout(lingering);
      resolve();
    };
    const timer = setTimeout(finish, maxWait);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (wanted !== undefined && lingering === undefined) {
        const { responses } = parseResponses(Buffer.concat(chunks), false, options.head);
        if (responses.length >= wanted) {
          if (!options.lingerMs) finish();
          else lingering = setTimeout(finish, options.lingerMs);
        }
      }
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    const parts = typeof payload === 'string' || Buffer.isBuffer(payload) ? [payload] : payload;
    for (const part of parts) socket.write(part);
  });
  socket.destroy();
  const data = Buffer.concat(chunks);
  const { responses, rest } = parseResponses(data, closed, options.head);
  return {
    data,
    closed,
    responses,
    rest,
    get first(): ParsedResponse {
      const r = responses[0];
      if (!r) throw new Error(`no complete response; received ${JSON.stringify(data.toString('latin1'))}`);
      return r;
    },
  };
}

/** `GET <target> HTTP/1.1` with a Host header and the given extra header lines. */
export function rawGet(target: string, host: string, extra: readonly string[] = [], method = 'GET'): string {
  return [`${method} ${target} HTTP/1.1`, `Host: ${host}`, ...extra, '', ''].join('\r\n');
}

export function hostOf(url: string): string {
  return new URL(url).host;
}

// ---------------------------------------------------------------------------------------------
// Recording upstream

export interface RecordedRequest {
  /** Index in arrival order over all connections. */
  readonly index: number;
  /** Which upstream connection it arrived on. */
  readonly connection: number;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly framing: Framing;
  readonly body: Buffer;
  readonly raw: Buffer;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
}

export interface RecordedConnection {
  readonly id: number;
  /** Every byte received on this connection. */
  bytes: Buffer;
  /** Bytes received after the last complete request (an incomplete request, or garbage). */
  unparsed: Buffer;
  /** Why parsing stopped, when the bytes were not valid HTTP/1.1. */
  malformed: string | undefined;
  /** Bytes received after a 101 answer (the tunnel), not parsed as HTTP. */
  tunnel: Buffer;
  closed: boolean;
}

export type UpstreamReply =
  | string
  | Buffer
  | { readonly data: string | Buffer; readonly then: 'keep' | 'close' | 'tunnel' };

export interface RecordingUpstream {
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly connections: RecordedConnection[];
  /** Every request target seen. */
  targets(): string[];
  /** Forget everything recorded so far (open connections keep being recorded, from empty). */
  reset(): void;
  /** Waits until quiet: lets bytes still in flight (e.g. a smuggled tail) arrive. */
  settle(ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** A JSON 200 naming the request, with Content-Length, keep-alive (no body for HEAD). */
export function defaultReply(req: RecordedRequest): UpstreamReply {
  const body = JSON.stringify({ recorded: req.index, method: req.method, target: req.target });
  const head = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return req.method === 'HEAD' ? head : head + body;
}

export async function startRecordingUpstream(reply: (req: RecordedRequest) => UpstreamReply = defaultReply): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const connections: RecordedConnection[] = [];
  const sockets = new Set<net.Socket>();
  let nextConnection = 0;
  let lastActivity = Date.now();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const conn: RecordedConnection = { id: nextConnection++, bytes: Buffer.alloc(0), unparsed: Buffer.alloc(0), malformed: undefined, tunnel: Buffer.alloc(0), closed: false };
    connections.push(conn);
    let mode: 'http' | 'tunnel' | 'dead' = 'http';
    socket.on('data', (chunk: Buffer) => {
      lastActivity = Date.now();
      conn.bytes = Buffer.concat([conn.bytes, chunk]);
      if (mode === 'tunnel') {
        conn.tunnel = Buffer.concat([conn.tunnel, chunk]);
        return;
      }
      if (mode === 'dead') {
        conn.unparsed = Buffer.concat([conn.unparsed, chunk]);
        return;
      }
      let buf: Buffer = Buffer.concat([conn.unparsed, chunk]);
      for (;;) {
        if (buf.length === 0) break;
        const step = parseMessage(buf);
        if (step.kind === 'incomplete') break;
        if (step.kind === 'malformed') {
          conn.malformed = step.reason;
          mode = 'dead';
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
          break;
        }
        const m = step.message;
        const [method = '', target = '', version = ''] = m.startLine.split(' ');
        const recorded: RecordedRequest = {
          index: requests.length,
          connection: conn.id,
          method,
          target,
          version,
          headers: m.headers,
          framing: m.framing,
          body: Buffer.from(m.body),
          raw: Buffer.from(m.raw),
          header: (name) => headerOf(m.headers, name),
          headerAll: (name) => headersNamed(m.headers, name),
        };
        requests.push(recorded);
        buf = step.rest;
        const answer = reply(recorded);
        const { data, then } = typeof answer === 'string' || Buffer.isBuffer(answer) ? { data: answer, then: 'keep' as const } : answer;
        socket.write(data);
        if (then === 'close') {
          mode = 'dead';
          socket.end();
          break;
        }
        if (then === 'tunnel') {
          mode = 'tunnel';
          conn.tunnel = Buffer.from(buf);
          buf = Buffer.alloc(0);
          break;
        }
      }
      conn.unparsed = Buffer.from(buf);
    });
    socket.on('close', () => {
      conn.closed = true;
      lastActivity = Date.now();
      sockets.delete(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections,
    targets: () => requests.map((r) => r.target),
    reset: () => {
      requests.length = 0;
      // Closed connections are forgotten; open ones stay listed (the sidecar's agent reuses them) from empty.
      const open = connections.filter((c) => !c.closed);
      for (const c of open) {
        c.bytes = Buffer.alloc(0);
        c.tunnel = Buffer.alloc(0);
      }
      connections.length = 0;
      connections.push(...open);
    },
    settle: async (ms = 100) => {
      // Quiet for `ms`: the sidecar has had every chance to send what it was going to send.
      do {
        await new Promise((r) => setTimeout(r, ms));
      } while (Date.now() - lastActivity < ms);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
