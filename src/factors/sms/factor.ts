import type { Channel } from '../../channels/channel.ts';
import { maskPhone, normalisePhone } from '../../channels/phone.ts';
import { refusal } from '../../core/errors.ts';
import type { CodeCheck, CodeSender, CodeVerdict, EnrollChoice, EnrollSetup, Factor } from '../factor.ts';
import type { OneTimeCodes } from '../one-time-codes.ts';
import { verifySentCode } from '../sent-code.ts';

/** Codes by text message to the phone on file (or, without one, the number typed when enabling). */
export class SmsFactor implements Factor {
  readonly method = 'sms' as const;
  readonly sender: CodeSender;

  constructor(
    private readonly deps: {
      readonly channel: Channel;
      readonly codes: OneTimeCodes;
      /** The country allow-list (and whether an SMS channel exists at all). */
      readonly countryAllowed: (e164: string) => boolean;
    },
  ) {
    this.sender = { channel: deps.channel, kind: 'sms', allowed: deps.countryAllowed };
  }

  describe(destination: string | null): string | null {
    return destination === null ? null : maskPhone(destination);
  }

  offered(known: { readonly phone: string | null }): boolean {
    return known.phone === null || this.deps.countryAllowed(known.phone);
  }

  enroll(choice: EnrollChoice): Promise<EnrollSetup> {
    // The phone on file wins: a different number can only be set by support (DESIGN §3).
    const typed = typeof choice.given === 'string' && choice.given.length > 0 ? choice.given : null;
    const given = typed === null ? null : normalisePhone(typed);
    if (typed !== null && given === null) throw refusal('invalid_phone');
    if (choice.phone && given && given.e164 !== choice.phone) throw refusal('phone_mismatch');
    const chosen = choice.phone ?? given?.e164 ?? null;
    if (!chosen) throw refusal('phone_required');
    if (!this.deps.countryAllowed(chosen)) throw refusal('sms_country_not_allowed', { message: 'Text messages cannot be sent to this country. Choose another method.' });
    return Promise.resolve({ kind: 'sent', material: { destination: chosen, totp: null } });
  }

  verify(check: CodeCheck): Promise<CodeVerdict> {
    return verifySentCode(this.deps.codes, check);
  }
}
