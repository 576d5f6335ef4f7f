import { LEGACY_ONLY, sendLegacyNotice } from '../alerts/owner-message.ts';
import type { SecurityEvent } from '../channels/templates.tsx';
import { EMAIL_IDENTITY } from '../directory/identity.ts';
import type { FactorMethod } from '../store/durable.ts';
import type { AdminOperationsDeps } from './model.ts';

/**
 * The account's own address for a notification: from the directory (support has no upstream
 * session, so only kinds that need none answer), else the identifier when it is an address.
 */
export async function ownerAddresses(deps: AdminOperationsDeps, user: string, warnings: string[]): Promise<string[]> {
  const contact = deps.contacts ? await deps.contacts.of(user, { upstreamCookies: {} }) : null;
  const email = contact ? (contact.ok ? contact.email : null) : (deps.identity ?? EMAIL_IDENTITY).kind === 'email' ? user : null;
  if (email === null) warnings.push('no email address is known for this account (directory), so it was not told by email');
  return email === null ? [] : [email];
}

/** Tells the owner about a support change by email; false when a message could not be sent. */
export async function notifyOwner(deps: AdminOperationsDeps, recipients: readonly string[], event: SecurityEvent, method?: FactorMethod): Promise<boolean> {
  if (recipients.length === 0) return false;
  // One message per event: when the support_action alert covers it, the alert (queued from the
  // audit record) is the message; `notified` then says the owner's message was handed to it.
  if ((deps.ownerMessages ?? LEGACY_ONLY)(event) === 'alert') return true;
  let all = true;
  for (const to of recipients) all = (await sendLegacyNotice(deps, to, recipients[0] ?? to, event, method)) && all;
  return all;
}
