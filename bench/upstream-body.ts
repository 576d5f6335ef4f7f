/** The fixed response body of the benchmark upstream (shared by upstream.ts and the checks in run.ts). */
export const STATIC_BODY_BYTES = 1024;

export function staticBody(): Buffer {
  const body = Buffer.alloc(STATIC_BODY_BYTES, 'a');
  body.write('/* smartpush-guard bench asset */\n');
  return body;
}
