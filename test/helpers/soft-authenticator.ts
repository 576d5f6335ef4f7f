import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A software WebAuthn authenticator for tests (fmt "none", ES256, a signature counter that the
 * test can set). It answers the JSON options @simplewebauthn/server makes with the JSON a browser
 * would send back, built byte by byte as the WebAuthn spec lays it out, so the server's checks
 * (challenge, origin, RP ID hash, flags, signature, counter) all run for real.
 */

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  const parts = [head(5, value.size)];
  for (const [k, v] of value) parts.push(cbor(k), cbor(v));
  return Buffer.concat(parts);
}

const b64u = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');

interface Credential {
  readonly id: Buffer;
  readonly rpId: string;
  readonly userHandle: string;
  readonly privateKey: KeyObject;
  readonly cosePublicKey: Buffer;
  counter: number;
}

export interface CreateOptionsJSON {
  readonly challenge: string;
  readonly rp: { readonly id?: string; readonly name: string };
  readonly user: { readonly id: string };
  readonly excludeCredentials?: ReadonlyArray<{ readonly id: string }>;
}

export interface GetOptionsJSON {
  readonly challenge: string;
  readonly rpId?: string;
  readonly allowCredentials?: ReadonlyArray<{ readonly id: string }>;
}

export class SoftAuthenticator {
  readonly credentials: Credential[] = [];

  constructor(
    /** How much the counter moves per assertion; 0 makes an authenticator without a counter. */
    private readonly counterStep = 1,
    private readonly userVerified = true,
  ) {}

  private flags(attested: boolean): number {
    return 0x01 | (this.userVerified ? 0x04 : 0) | (attested ? 0x40 : 0);
  }

  /** navigator.credentials.create(): a RegistrationResponseJSON. */
  create(options: CreateOptionsJSON, origin: string, overrides: { rpId?: string; challenge?: string; type?: string } = {}): Record<string, unknown> {
    const rpId = overrides.rpId ?? options.rp.id ?? new URL(origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cosePublicKey = cbor(
      new Map<Cbor, Cbor>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x as string, 'base64url')],
        [-3, Buffer.from(jwk.y as string, 'base64url')],
      ]),
    );
    const id = randomBytes(16);
    const credential: Credential = { id, rpId, userHandle: options.user.id, privateKey, cosePublicKey, counter: 0 };
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.flags(true)]), u32(0), Buffer.alloc(16), idLength, id, cosePublicKey]);
    const clientData = JSON.stringify({ type: overrides.type ?? 'webauthn.create', challenge: overrides.challenge ?? options.challenge, origin, crossOrigin: false });
    const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    this.credentials.push(credential);
    return {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key',
      response: { clientDataJSON: b64u(clientData), attestationObject: b64u(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get(): an AuthenticationResponseJSON (the counter moves unless `counter` is given). */
  get(options: GetOptionsJSON, origin: string, overrides: { rpId?: string; challenge?: string; counter?: number; credential?: Credential } = {}): Record<string, unknown> {
    const allowed = new Set((options.allowCredentials ?? []).map((c) => c.id));
    const credential = overrides.credential ?? this.credentials.find((c) => allowed.size === 0 || allowed.has(b64u(c.id)));
    if (!credential) throw new Error('SoftAuthenticator: no credential for these options');
    if (overrides.counter !== undefined) credential.counter = overrides.counter;
    else credential.counter += this.counterStep;
    const rpId = overrides.rpId ?? options.rpId ?? credential.rpId;
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.flags(false)]), u32(credential.counter)]);
    const clientData = JSON.stringify({ type: 'webauthn.get', challenge: overrides.challenge ?? options.challenge, origin, crossOrigin: false });
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), credential.privateKey);
    return {
      id: b64u(credential.id),
      rawId: b64u(credential.id),
      type: 'public-key',
      response: { clientDataJSON: b64u(clientData), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: credential.userHandle },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}

function sha256(data: string | Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
