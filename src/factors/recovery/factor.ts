import type { Clock } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import type { Logger } from '../../observability/logger.ts';
import type { DurableStore } from '../../store/durable.ts';
import type { CodeVerdict } from '../factor.ts';
import { generateRecoveryCodes, hashRecoveryCode, normaliseRecoveryCode } from './codes.ts';

/**
 * Recovery codes: the way in when the enrolled factor is lost. Not a method of its own (it is
 * issued with every enrollment and never enrolled alone), so it sits next to the registry's
 * factors rather than among them; the flows say where one may stand in for a code.
 */
export class RecoveryCodes {
  constructor(
    private readonly deps: {
      readonly durable: Pick<DurableStore, 'consumeRecoveryCode'>;
      readonly clock: Clock;
      readonly random: Random;
      readonly logger: Logger;
      /** Keys recovery-code hashes are made with, by id; the highest id hashes new codes. */
      readonly hashKeys: ReadonlyMap<string, Buffer>;
    },
  ) {}

  private newestHashKey(): [string, Buffer] {
    const ids = [...this.deps.hashKeys.keys()].sort((a, b) => Number(b) - Number(a));
    const id = ids[0] as string;
    return [id, this.deps.hashKeys.get(id) as Buffer];
  }

  /** Recovery-code hashes carry the id of the key that made them, so the keys can rotate. */
  hash(code: string): string {
    const [id, key] = this.newestHashKey();
    return `${id}:${hashRecoveryCode(key, code)}`;
  }

  /** A new set: the codes to show once, and the hashes to keep. */
  issue(): { readonly codes: string[]; readonly hashes: string[] } {
    const codes = generateRecoveryCodes(this.deps.random);
    return { codes, hashes: codes.map((c) => this.hash(c)) };
  }

  /** Whether `input` looks like a recovery code at all (letters and digits, not a 6–8 digit code). */
  normalise(input: string): string | null {
    return normaliseRecoveryCode(input);
  }

  /** Uses up a recovery code of the account (each works once). */
  async use(account: string, normalised: string): Promise<CodeVerdict> {
    const now = this.deps.clock.now();
    for (const [id, key] of this.deps.hashKeys) {
      if (await this.deps.durable.consumeRecoveryCode(account, `${id}:${hashRecoveryCode(key, normalised)}`, now)) {
        this.deps.logger.warn({ event: 'recovery_code_used', user: account }, 'recovery code used');
        return { ok: true };
      }
    }
    return { ok: false, reason: 'invalid', attemptsLeft: -1 };
  }
}
