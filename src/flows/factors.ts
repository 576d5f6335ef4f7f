import type { DurableStore } from '../store/durable.ts';

/**
 * Whether an account has at least one second factor enrolled. The one place that answers it, so
 * every rule about "the last factor" (require_2fa: the disable flow refuses to remove it; the
 * enforcement point lets an enrolled account through) counts the same factors. A new factor type
 * (passkeys…) is added here, and every such rule follows.
 */
export async function hasAnyFactor(durable: Pick<DurableStore, 'getEnrollment'>, user: string): Promise<boolean> {
  return (await durable.getEnrollment(user)) !== null;
}
