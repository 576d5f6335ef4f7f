import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

/** The listening sockets: where they listen, and how a request that cannot be parsed is answered. */

export function listen(server: http.Server, host: string, port: number): Promise<string> {
  server.listen(port, host);
  return once(server, 'listening').then(() => {
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${shown}:${address.port}`;
  });
}

/** Answers malformed requests (smuggling attempts, bad framing, oversized headers) and closes the socket. */
export function onClientError(logger: Logger, metrics: Metrics) {
  return (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void => {
    const code = error.code ?? '';
    const timedOut = code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : timedOut ? 408 : 400;
    if (timedOut) {
      // Node's headersTimeout: the request head (or nothing at all) came too slowly (THREATS T17).
      metrics.clientLimit('headers_timeout');
      logger.warn({ code, client: socket.remoteAddress, limit: 'headers_timeout' }, 'client limit reached: request head too slow');
    } else {
      logger.info({ code, client: socket.remoteAddress }, 'malformed request refused');
    }
    // A response may still be streaming on this connection (pipelining): writing a 400 now would
    // splice it into that body, so the connection is only cut (as Node itself does).
    const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !socket.destroyed && !current?.headersSent) {
      const body = JSON.stringify(
        timedOut
          ? { error: 'request_timeout', message: 'The request did not arrive in time and was refused. Please try again.' }
          : { error: 'bad_request', message: 'The request could not be parsed.' },
      );
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
