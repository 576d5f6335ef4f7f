/**
 * The WebAuthn ceremonies (registration and authentication) for passkeys as a second factor. The
 * protocol is @simplewebauthn/server's; this module decides what the sidecar asks for and keeps:
 *
 * - Challenges are 32 bytes from the injected CSPRNG, held in the ephemeral store under a key bound
 *   to what started the ceremony (the session for registration and step-up, the pending sign-in for
 *   login), live 5 minutes, and are taken exactly once (compare-and-delete) before the answer is
 *   checked: a replayed assertion finds no challenge, a second tab's answer finds another one.
 * - The origin and RP ID are fixed by config (`webauthn`, else `public_url`), never by the request,
 *   except on `localhost` without either (development: `http://localhost:PORT` is a secure context).
 * - User verification "preferred" (a PIN or biometric when the authenticator has one; the password
 *   was already checked, so user presence is the floor); attestation "none": the sidecar keeps no
 *   list of allowed authenticator models, and asking for attestation would only add a privacy
 *   prompt (and identifying data) without a policy that uses it.
 * - The signature counter only moves forward. The library is given a stored counter of 0, so it
 *   checks the signature first; the counter rule is then applied atomically by the store (`use`),
 *   and a counter that did not increase is refused and audited as `passkey_clone_suspected`. A
 *   forged answer with a low counter therefore never raises a clone alarm: its signature fails first.
 */
import { createHash } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { lazyModule } from '../../core/lazy-module.ts';
import { fromContext, type AuditContext, type AuditRecorder } from '../../audit/audit.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Clock } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import type { EphemeralStore } from '../../store/ephemeral.ts';
import { PASSKEY_NAME_MAX, PASSKEY_TRANSPORTS, type PasskeyCredential, type PasskeyStore, type PasskeyTransport } from './store.ts';

export { relyingParty, webauthnSettings, type RelyingParty, type WebAuthnSettings } from './relying-party.ts';
import type { RelyingParty } from './relying-party.ts';

/** Loaded at the first ceremony: with its X.509/ASN.1 stack it is ~4 MB of heap a deployment without passkeys never needs. */
const webauthn = lazyModule<typeof import('@simplewebauthn/server')>('@simplewebauthn/server');

const CHALLENGE_TTL_MS = 5 * 60_000;
const CHALLENGE = (kind: 'reg' | 'auth', bind: string): string => `webauthn:${kind}:${bind}`;

interface StoredChallenge {
  readonly challenge: string;
  readonly user: string;
  readonly rpId: string;
  readonly origins: readonly string[];
}

export type RegisterResult =
  | { readonly ok: true; readonly credential: PasskeyCredential }
  | { readonly ok: false; readonly reason: 'no_challenge' | 'invalid' | 'duplicate' | 'invalid_name' };

export type AssertResult =
  | { readonly ok: true; readonly credential: PasskeyCredential; readonly userVerified: boolean }
  | { readonly ok: false; readonly reason: 'no_challenge' | 'unknown_credential' | 'invalid' | 'clone_suspected' };

export interface PasskeyCeremonyDeps {
  readonly store: PasskeyStore;
  readonly ephemeral: EphemeralStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly audit: AuditRecorder;
  readonly logger: Logger;
}

/** The person's name for a passkey: trimmed, 1-64 characters, no control characters. */
export function passkeyName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const name = value.trim().replace(/\s+/g, ' ');
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > PASSKEY_NAME_MAX || /[\u0000-\u001f\u007f]/.test(name)) return null;
  return name;
}

/** A user handle that is stable per account and names no one (WebAuthn §14.6.1: no PII in user.id). */
function userHandle(user: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(`smartpush-guard:webauthn-user:${user}`).digest());
}

export class PasskeyCeremonies {
  constructor(private readonly deps: PasskeyCeremonyDeps) {}

  list(user: string): Promise<PasskeyCredential[]> {
    return this.deps.store.list(user);
  }

  private challenge(): string {
    return this.deps.random.bytes(32).toString('base64url');
  }

  /** Takes the ceremony's challenge once; null when there is none (never asked, used, expired). */
  private async take(kind: 'reg' | 'auth', bind: string): Promise<StoredChallenge | null> {
    const key = CHALLENGE(kind, bind);
    const raw = await this.deps.ephemeral.get(key);
    if (raw === null || !(await this.deps.ephemeral.compareAndDelete(key, raw))) return null;
    return JSON.parse(raw) as StoredChallenge;
  }

  /** Forgets a ceremony's challenge (the flow it belonged to ended). */
  async discard(kind: 'reg' | 'auth', bind: string): Promise<void> {
    await this.deps.ephemeral.delete(CHALLENGE(kind, bind));
  }

  async registrationOptions(input: { user: string; bind: string; rp: RelyingParty }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.deps.store.list(input.user);
    const challenge = this.challenge();
    const options = await webauthn().generateRegistrationOptions({
      rpName: input.rp.name,
      rpID: input.rp.id,
      userName: input.user,
      userDisplayName: input.user,
      userID: userHandle(input.user),
      challenge: new Uint8Array(Buffer.from(challenge, 'base64url')),
      timeout: CHALLENGE_TTL_MS,
      attestationType: 'none',
      // The same authenticator is not registered twice for one account.
      excludeCredentials: existing.map((c) => ({ id: c.id, transports: [...c.transports] })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    const stored: StoredChallenge = { challenge: options.challenge, user: input.user, rpId: input.rp.id, origins: input.rp.origins };
    await this.deps.ephemeral.set(CHALLENGE('reg', input.bind), JSON.stringify(stored), CHALLENGE_TTL_MS);
    return options;
  }

  async register(input: { user: string; bind: string; response: unknown; name: unknown; context: AuditContext }): Promise<RegisterResult> {
    const name = passkeyName(input.name);
    // Checked before the challenge is taken: a bad name can be corrected without a new ceremony.
    if (name === null) return { ok: false, reason: 'invalid_name' };
    const stored = await this.take('reg', input.bind);
    if (!stored || stored.user !== input.user) return { ok: false, reason: 'no_challenge' };
    let info;
    try {
      const verified = await webauthn().verifyRegistrationResponse({
        response: input.response as RegistrationResponseJSON,
        expectedChallenge: stored.challenge,
        expectedOrigin: [...stored.origins],
        expectedRPID: stored.rpId,
        requireUserVerification: false,
      });
      if (!verified.verified) return { ok: false, reason: 'invalid' };
      info = verified.registrationInfo;
    } catch (error) {
      this.deps.logger.info({ event: 'passkey_registration_refused', user: input.user, err: (error as Error).message }, 'passkey registration refused');
      return { ok: false, reason: 'invalid' };
    }
    const credential: PasskeyCredential = {
      user: input.user,
      id: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: (info.credential.transports ?? []).filter((t): t is PasskeyTransport => (PASSKEY_TRANSPORTS as readonly string[]).includes(t)),
      name,
      createdAt: this.deps.clock.now(),
      lastUsedAt: null,
    };
    if (!(await this.deps.store.add(credential))) return { ok: false, reason: 'duplicate' };
    this.deps.audit.record({
      event: 'passkey_added',
      outcome: 'success',
      user: input.user,
      ...fromContext(input.context, { passkey: shortId(credential.id), user_verified: info.userVerified, backed_up: info.credentialBackedUp }),
    });
    return { ok: true, credential };
  }

  /** Options for an assertion by one of the account's passkeys; null when it has none. */
  async authenticationOptions(input: { user: string; bind: string; rp: RelyingParty }): Promise<PublicKeyCredentialRequestOptionsJSON | null> {
    const keys = await this.deps.store.list(input.user);
    if (keys.length === 0) return null;
    const challenge = this.challenge();
    const options = await webauthn().generateAuthenticationOptions({
      rpID: input.rp.id,
      allowCredentials: keys.map((c) => ({ id: c.id, transports: [...c.transports] })),
      challenge: new Uint8Array(Buffer.from(challenge, 'base64url')),
      timeout: CHALLENGE_TTL_MS,
      userVerification: 'preferred',
    });
    const stored: StoredChallenge = { challenge: options.challenge, user: input.user, rpId: input.rp.id, origins: input.rp.origins };
    await this.deps.ephemeral.set(CHALLENGE('auth', input.bind), JSON.stringify(stored), CHALLENGE_TTL_MS);
    return options;
  }

  /** Checks an assertion for the ceremony bound to `bind`; the challenge is used up either way. */
  async assert(input: { user: string; bind: string; response: unknown; context: AuditContext; purpose: string }): Promise<AssertResult> {
    const refused = (reason: string, details: Record<string, string | number> = {}): void =>
      this.deps.audit.record({ event: 'verification_failure', outcome: 'failure', user: input.user, reason, ...fromContext(input.context, { purpose: input.purpose, via: 'passkey', ...details }) });
    const stored = await this.take('auth', input.bind);
    if (!stored || stored.user !== input.user) {
      refused('passkey_no_challenge');
      return { ok: false, reason: 'no_challenge' };
    }
    const response = input.response as Partial<AuthenticationResponseJSON> | null;
    const id = typeof response === 'object' && response !== null && typeof response.id === 'string' ? response.id : null;
    const credential = id !== null && id.length <= 1024 ? await this.deps.store.get(input.user, id) : null;
    if (!credential) {
      refused('passkey_unknown_credential');
      return { ok: false, reason: 'unknown_credential' };
    }
    let counter: number;
    let userVerified: boolean;
    try {
      const verified = await webauthn().verifyAuthenticationResponse({
        response: input.response as AuthenticationResponseJSON,
        expectedChallenge: stored.challenge,
        expectedOrigin: [...stored.origins],
        expectedRPID: stored.rpId,
        // Counter 0 here: the library would judge the counter before the signature (see above).
        credential: { id: credential.id, publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')), counter: 0, transports: [...credential.transports] },
        requireUserVerification: false,
      });
      if (!verified.verified) {
        refused('passkey_invalid', { passkey: shortId(credential.id) });
        return { ok: false, reason: 'invalid' };
      }
      counter = verified.authenticationInfo.newCounter;
      userVerified = verified.authenticationInfo.userVerified;
    } catch (error) {
      this.deps.logger.info({ event: 'passkey_assertion_refused', user: input.user, err: (error as Error).message }, 'passkey assertion refused');
      refused('passkey_invalid', { passkey: shortId(credential.id) });
      return { ok: false, reason: 'invalid' };
    }
    const now = this.deps.clock.now();
    const use = await this.deps.store.use(input.user, credential.id, counter, now);
    if (use === 'missing') {
      refused('passkey_unknown_credential');
      return { ok: false, reason: 'unknown_credential' };
    }
    if (use === 'counter_not_increased') {
      const current = await this.deps.store.get(input.user, credential.id);
      this.deps.logger.warn({ event: 'passkey_clone_suspected', user: input.user, stored: current?.counter, presented: counter }, 'passkey signature counter did not increase: possible cloned authenticator');
      this.deps.audit.record({
        event: 'passkey_clone_suspected',
        outcome: 'failure',
        user: input.user,
        reason: 'counter_not_increased',
        ...fromContext(input.context, { purpose: input.purpose, passkey: shortId(credential.id), stored_counter: current?.counter ?? -1, presented_counter: counter }),
      });
      return { ok: false, reason: 'clone_suspected' };
    }
    this.deps.audit.record({
      event: 'passkey_used',
      outcome: 'success',
      user: input.user,
      ...fromContext(input.context, { purpose: input.purpose, passkey: shortId(credential.id), user_verified: userVerified }),
    });
    return { ok: true, credential: { ...credential, counter, lastUsedAt: now }, userVerified };
  }

  async remove(user: string, id: string, context: AuditContext): Promise<boolean> {
    const removed = await this.deps.store.remove(user, id);
    if (removed) this.deps.audit.record({ event: 'passkey_removed', outcome: 'success', user, ...fromContext(context, { passkey: shortId(id) }) });
    return removed;
  }

  async removeAll(user: string, context: AuditContext, reason: string): Promise<number> {
    const n = await this.deps.store.removeAll(user);
    if (n > 0) this.deps.audit.record({ event: 'passkey_removed', outcome: 'success', user, reason, ...fromContext(context, { count: n }) });
    return n;
  }
}

/** Enough of a credential id to tell a person's keys apart in the audit, no more. */
function shortId(id: string): string {
  return id.slice(0, 12);
}
