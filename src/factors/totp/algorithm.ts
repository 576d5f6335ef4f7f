/**
 * TOTP (RFC 6238) for authenticator apps, computed with otplib 13.
 *
 * - The time always comes from the caller (an injected Clock), never from Date.now(): otplib's
 *   functions default `epoch` to the current time when it is missing, so every call here passes it.
 * - Secrets are raw bytes (otplib accepts a Uint8Array as the secret; a string would be taken as
 *   Base32). They are 20 random bytes from the injected Random (RFC 4226 §4 recommends 160 bits).
 * - Verification checks every step of the window with a constant-time comparison and no early exit,
 *   and returns the matched step so the caller can refuse a step that was already used (replay
 *   guard in the ephemeral store; THREATS T8).
 */
import { timingSafeEqual } from 'node:crypto';
import type { HashAlgorithm } from 'otplib';
import { lazyModule } from '../../core/lazy-module.ts';
import type { Random } from '../../core/random.ts';
import type { TotpParameters } from '../../store/durable.ts';

/** What authenticator apps (Google Authenticator, Authy, Microsoft, 1Password…) honour. */
export const DEFAULT_TOTP: TotpParameters = Object.freeze({ algorithm: 'SHA1', digits: 6, period: 30 });

/** RFC 4226 §4 R6: a shared secret of 160 bits. */
const TOTP_SECRET_BYTES = 20;

/** Largest accepted verification window (steps either side); ±1 is the usual choice. */
const MAX_TOTP_WINDOW = 10;

const ALGORITHMS: Readonly<Record<TotpParameters['algorithm'], HashAlgorithm>> = {
  SHA1: 'sha1',
  SHA256: 'sha256',
  SHA512: 'sha512',
};

// otplib (with @noble/hashes and @scure/base) is loaded on the first TOTP use, not at start: a
// deployment whose users never use an authenticator app does not hold it (docs/PERFORMANCE.md, memory).
type Otplib = typeof import('otplib');
const otplibModule = lazyModule<Otplib>('otplib');
interface Otp {
  readonly generateSync: Otplib['generateSync'];
  // otplib's audited default plugins (@noble/hashes, @scure/base), passed explicitly.
  readonly crypto: InstanceType<Otplib['NobleCryptoPlugin']>;
  readonly base32: InstanceType<Otplib['ScureBase32Plugin']>;
}
let loadedOtp: Otp | undefined;
function otp(): Otp {
  if (loadedOtp === undefined) {
    const { generateSync, NobleCryptoPlugin, ScureBase32Plugin } = otplibModule();
    loadedOtp = { generateSync, crypto: new NobleCryptoPlugin(), base32: new ScureBase32Plugin() };
  }
  return loadedOtp;
}

function checkParameters(params: TotpParameters): HashAlgorithm {
  const algorithm = ALGORITHMS[params.algorithm];
  if (algorithm === undefined) throw new RangeError(`unsupported TOTP algorithm: ${String(params.algorithm)}`);
  if (params.digits !== 6 && params.digits !== 8) throw new RangeError(`unsupported TOTP digits: ${String(params.digits)}`);
  if (!Number.isSafeInteger(params.period) || params.period < 1 || params.period > 3600) {
    throw new RangeError(`unsupported TOTP period: ${String(params.period)}`);
  }
  return algorithm;
}

function unixSeconds(timeMs: number): number {
  if (!Number.isFinite(timeMs) || timeMs < 0) throw new RangeError(`invalid time: ${String(timeMs)}`);
  return Math.floor(timeMs / 1000);
}

/** A fresh TOTP secret: 20 bytes from the injected randomness source. */
export function generateTotpSecret(random: Random): Buffer {
  const secret = random.bytes(TOTP_SECRET_BYTES);
  if (secret.length !== TOTP_SECRET_BYTES) throw new Error('random source returned the wrong number of bytes');
  return Buffer.from(secret);
}

/** The RFC 6238 time step (counter) that `timeMs` falls in. */
export function totpStep(timeMs: number, period: number = DEFAULT_TOTP.period): number {
  if (!Number.isSafeInteger(period) || period < 1) throw new RangeError(`invalid TOTP period: ${String(period)}`);
  return Math.floor(unixSeconds(timeMs) / period);
}

/** RFC 4226 HOTP value for `counter` (the computation TOTP is built on). */
export function hotpCode(
  secret: Uint8Array,
  counter: number,
  params: Pick<TotpParameters, 'algorithm' | 'digits'> = DEFAULT_TOTP,
): string {
  const algorithm = checkParameters({ ...params, period: DEFAULT_TOTP.period });
  const { generateSync, crypto } = otp();
  return generateSync({ strategy: 'hotp', secret, counter, algorithm, digits: params.digits, crypto });
}

/** The TOTP code at `timeMs` (milliseconds since the epoch, from the caller's clock). */
export function totpCode(secret: Uint8Array, timeMs: number, params: TotpParameters = DEFAULT_TOTP): string {
  const algorithm = checkParameters(params);
  return codeForStep(secret, totpStep(timeMs, params.period), params, algorithm);
}

function codeForStep(secret: Uint8Array, step: number, params: TotpParameters, algorithm: HashAlgorithm): string {
  const { generateSync, crypto } = otp();
  return generateSync({
    strategy: 'totp',
    secret,
    algorithm,
    digits: params.digits,
    period: params.period,
    // The start of the step, so otplib's floor((epoch - t0) / period) is exactly `step`.
    epoch: step * params.period,
    t0: 0,
    crypto,
  });
}

export type TotpVerification = { ok: true; step: number } | { ok: false };

/**
 * Checks `code` against the steps `current - window … current + window`. Anything other than a
 * string of exactly `digits` ASCII digits fails before any HMAC is computed. Every step in the
 * window is computed and compared in constant time (no early exit); the matched step is returned so
 * the caller can refuse its reuse.
 */
export function verifyTotp(
  secret: Uint8Array,
  code: unknown,
  timeMs: number,
  params: TotpParameters = DEFAULT_TOTP,
  window = 1,
): TotpVerification {
  if (!Number.isSafeInteger(window) || window < 0 || window > MAX_TOTP_WINDOW) {
    throw new RangeError(`invalid TOTP window: ${String(window)}`);
  }
  const algorithm = checkParameters(params);
  const current = totpStep(timeMs, params.period);
  if (typeof code !== 'string' || code.length !== params.digits || !/^[0-9]+$/.test(code)) return { ok: false };
  const submitted = Buffer.from(code, 'ascii');
  let matched: number | null = null;
  for (let step = current - window; step <= current + window; step++) {
    if (step < 0) continue;
    const expected = Buffer.from(codeForStep(secret, step, params, algorithm), 'ascii');
    const equal = expected.length === submitted.length && timingSafeEqual(expected, submitted);
    if (equal && matched === null) matched = step;
  }
  return matched === null ? { ok: false } : { ok: true, step: matched };
}

/** RFC 4648 Base32 without padding, the form authenticator apps take for manual entry. */
export function base32(secret: Uint8Array): string {
  return otp().base32.encode(secret, { padding: false });
}

/** `GEZD GNBV GY3T …`: Base32 in groups of four for a person to type. */
export function formatKeyForDisplay(base32Key: string): string {
  return (base32Key.replace(/\s+/g, '').match(/.{1,4}/g) ?? []).join(' ');
}

export interface OtpauthUriInput {
  readonly issuer: string;
  readonly account: string;
  readonly secret: Uint8Array;
  readonly params?: TotpParameters;
}

function checkLabelPart(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0) throw new RangeError(`${name} must be a non-empty string`);
  // Key Uri Format: "Neither issuer nor account name may themselves contain a colon."
  if (value.includes(':')) throw new RangeError(`${name} must not contain a colon`);
}

/**
 * `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30` (Google's Key
 * Uri Format). Issuer and account are percent-encoded (space → %20, never '+'); the parameters are
 * always written out, even at their defaults, so no app has to guess.
 */
export function otpauthUri(input: OtpauthUriInput): string {
  const params = input.params ?? DEFAULT_TOTP;
  checkParameters(params);
  checkLabelPart('issuer', input.issuer);
  checkLabelPart('account', input.account);
  const issuer = encodeURIComponent(input.issuer);
  const label = `${issuer}:${encodeURIComponent(input.account)}`;
  const query = [
    `secret=${base32(input.secret)}`,
    `issuer=${issuer}`,
    `algorithm=${params.algorithm}`,
    `digits=${params.digits}`,
    `period=${params.period}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}

/** The provisioning QR code as an SVG document. */
export async function qrSvg(uri: string): Promise<string> {
  // Loaded on first use: only enrollment draws QR codes, and the library costs ~10 MiB resident.
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}
