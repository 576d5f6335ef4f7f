import type { Channel } from '../../channels/channel.ts';
import { maskEmail } from '../../channels/phone.ts';
import { refusal } from '../../core/errors.ts';
import type { CodeCheck, CodeSender, CodeVerdict, EnrollChoice, EnrollSetup, Factor } from '../factor.ts';
import type { OneTimeCodes } from '../one-time-codes.ts';
import { verifySentCode } from '../sent-code.ts';

/** Codes by email to the account's address from the directory (never one typed in: DESIGN §3). */
export class EmailFactor implements Factor {
  readonly method = 'email' as const;
  readonly sender: CodeSender;

  constructor(private readonly deps: { readonly channel: Channel; readonly codes: OneTimeCodes }) {
    this.sender = { channel: deps.channel, kind: 'email', allowed: () => true };
  }

  describe(destination: string | null): string | null {
    return destination === null ? null : maskEmail(destination);
  }

  offered(known: { readonly email: string | null }): boolean {
    return Boolean(known.email);
  }

  enroll(choice: EnrollChoice): Promise<EnrollSetup> {
    if (!choice.email) throw refusal('method_not_offered', { message: 'No email address is known for your account, so email codes cannot be used.' });
    return Promise.resolve({ kind: 'sent', material: { destination: choice.email, totp: null } });
  }

  verify(check: CodeCheck): Promise<CodeVerdict> {
    return verifySentCode(this.deps.codes, check);
  }
}
