import type http from 'node:http';
import { isIP } from 'node:net';

/* The heads of proxied messages as node:http takes them: flat header lists, the TLS server name, body framing. */

/**
 * Headers as the flat `[name, value, name, value, …]` list `http.request` and `res.writeHead` take
 * as they are (Node validates and frames them while writing the head, without building a header
 * map first). Removed headers (left undefined by the hygiene) are skipped; a multi-valued one
 * (Set-Cookie) becomes one line per value, as `setHeader` would have written it.
 */
export function headerList(headers: http.IncomingHttpHeaders): string[] {
  const list: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') list.push(name, value);
    else for (const one of value) list.push(name, one);
  }
  return list;
}

/**
 * The TLS server name for an https upstream: Node's agent derives it from the request's Host
 * header when headers are set one by one, and not at all from a header list, so it is worked out
 * here the same way (port and IPv6 brackets dropped; an IP address sends no SNI).
 */
export function serverNameFor(host: string): string {
  let name: string;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    name = end === -1 ? host : host.slice(1, end);
  } else {
    name = host.split(':', 1)[0] ?? '';
  }
  return isIP(name) === 0 ? name : '';
}

/**
 * Writes the cleaned upstream head. The common case (nothing set on `res` yet) hands Node the flat
 * list, which it validates and frames as it writes the head. When the sidecar already set headers
 * on `res`, Node's writeHead would fold a list's repeated names (Set-Cookie) into the last one, so
 * the headers are set one by one instead (a multi-valued one as its array), as before.
 */
export function writeResponseHead(res: http.ServerResponse, status: number, message: string | undefined, headers: http.IncomingHttpHeaders): void {
  if (res.getHeaderNames().length === 0) {
    if (message) res.writeHead(status, message, headerList(headers));
    else res.writeHead(status, headerList(headers));
    return;
  }
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
  if (message) res.writeHead(status, message);
  else res.writeHead(status);
}

/** Whether the request carries a body to forward (its framing was already checked by Node's parser). */
export function carriesBody(headers: http.IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}
