/** The fixed response body of the benchmark upstream and its account (shared by upstream.ts and run.ts). */
export const STATIC_BODY_BYTES = 1024;

/** The account the authenticated case signs in with; the upstream accepts any email with this password. */
export const BENCH_EMAIL = 'bench@example.com';
export const BENCH_PASSWORD = 'bench-password';

export function staticBody(): Buffer {
  const body = Buffer.alloc(STATIC_BODY_BYTES, 'a');
  body.write('/* smartpush-guard bench asset */\n');
  return body;
}
