import type { Clock } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import type { DurableStore } from '../../store/durable.ts';
import type { SecretBox } from '../secret-box.ts';
import type { CodeCheck, CodeVerdict, EnrollChoice, EnrollSetup, Factor } from '../factor.ts';
import { base32, DEFAULT_TOTP, generateTotpSecret, otpauthUri, qrSvg, verifyTotp } from './algorithm.ts';

export interface TotpFactorDeps {
  readonly box: SecretBox;
  readonly clock: Clock;
  readonly random: Random;
  /** Records used time steps (the replay guard). */
  readonly durable: Pick<DurableStore, 'useTotpStep'>;
  /** The issuer shown in the authenticator app. */
  readonly issuer: string;
}

/** The secret is sealed for its account, so a sealed secret copied to another account does not open. */
const sealedFor = (account: string): string => `totp:${account}`;

/** An authenticator app (RFC 6238): codes are read off the device, nothing is sent. */
export class TotpFactor implements Factor {
  readonly method = 'totp' as const;
  readonly sender = undefined;

  constructor(private readonly deps: TotpFactorDeps) {}

  describe(): string | null {
    return null;
  }

  offered(): boolean {
    return true;
  }

  async enroll(choice: EnrollChoice): Promise<EnrollSetup> {
    const secret = generateTotpSecret(this.deps.random);
    const sealed = this.deps.box.seal(secret, sealedFor(choice.account));
    const uri = otpauthUri({ issuer: this.deps.issuer, account: choice.account, secret, params: DEFAULT_TOTP });
    const key = base32(secret);
    secret.fill(0);
    return {
      kind: 'shown',
      material: { destination: null, totp: { secret: sealed, parameters: DEFAULT_TOTP } },
      shown: { secret: key, otpauth_uri: uri, qr_svg: await qrSvg(uri) },
    };
  }

  async verify(check: CodeCheck): Promise<CodeVerdict> {
    const totp = check.material.totp;
    if (totp === null) return { ok: false, reason: 'invalid', attemptsLeft: -1 };
    const secret = this.deps.box.open(totp.secret, sealedFor(check.account));
    const now = this.deps.clock.now();
    const result = verifyTotp(secret, check.code, now, totp.parameters);
    secret.fill(0);
    if (!result.ok) return { ok: false, reason: 'invalid', attemptsLeft: -1 };
    // A code is good for one use: its time step is recorded, and a replay (or a second tab) fails.
    const keepUntil = now + 3 * totp.parameters.period * 1000;
    if (!(await this.deps.durable.useTotpStep(check.account, result.step, keepUntil))) return { ok: false, reason: 'invalid', attemptsLeft: -1 };
    return { ok: true };
  }
}
