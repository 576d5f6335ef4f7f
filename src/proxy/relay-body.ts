import type http from 'node:http';

/**
 * The answer's body to the client with backpressure: what `pipe` does for one source and one
 * destination that end together (the upstream stops while the client's socket is full and goes on
 * when it drains), without pipe's bookkeeping for many destinations, about eight listeners added and
 * removed per answer. A client that leaves ends the exchange through `Upstream.web()`'s close handler (forward.ts); an
 * upstream that breaks off, through the body's error handler.
 */
export function relayBody(body: http.IncomingMessage, res: http.ServerResponse): void {
  const resume = (): void => {
    body.resume();
  };
  body.on('data', (chunk: Buffer) => {
    if (res.write(chunk) || res.destroyed) return;
    body.pause();
    res.once('drain', resume);
  });
  body.once('end', () => res.end());
}
