import type { Random } from './random.ts';

/**
 * A random (version 4) UUID drawn from the injected Random, in the form `crypto.randomUUID` gives
 * (RFC 9562 §5.4): ids other systems see (idempotency keys, event ids, request ids) stay UUIDs, and
 * tests that fix the Random get fixed ids.
 */
export function randomUuid(random: Random): string {
  const bytes = random.bytes(16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
