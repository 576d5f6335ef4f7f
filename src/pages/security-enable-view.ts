import type { SendView } from './send-status.tsx';
import type { PageMessage, PageMethod } from './security-parts.tsx';

/**
 * The "enable two-factor authentication" wizard, one view per step. The step a browser is on lives
 * in the URL; the flow (server-side) decides whether that step may happen now. Views that show a
 * secret (the TOTP key, the recovery codes) are only ever rendered as the answer to a POST.
 */

export type EnableView =
  /** `returnTo`: where the merchant came from ("Enable now" after a step-up), carried by the form. */
  | { readonly step: 'password'; readonly returnTo?: string | undefined }
  | { readonly step: 'identity'; readonly smsOffered: boolean; readonly maskedEmail: string }
  | { readonly step: 'code'; readonly channel: 'email' | 'sms'; readonly maskedEmail: string; readonly phoneOnFile: boolean }
  | { readonly step: 'method'; readonly methods: readonly PageMethod[]; readonly phoneOnFile: boolean; readonly askPhone: boolean }
  | { readonly step: 'totp'; readonly key: string; readonly qrSvg: string; readonly otpauthUri: string }
  | { readonly step: 'confirm'; readonly method: PageMethod; readonly maskedEmail: string; readonly phoneOnFile: boolean }
  | {
      readonly step: 'done';
      readonly method: PageMethod;
      readonly destination: string | null;
      readonly recoveryCodes: readonly string[];
      /** Where the merchant was when they chose "Enable now" (after a step-up), to go back to. */
      readonly back?: string | undefined;
    }
  /** A step that cannot go on (out of order, already on): the message and a way forward. */
  | { readonly step: 'restart'; readonly alreadyEnabled: boolean };

export type EnableProps = PageMessage & {
  readonly csrf: string;
  /** Seconds until another code may be sent, when known. */
  readonly resendAfter?: number | undefined;
  /** Sending as the server knows it now (the code and confirm steps of sms/email). */
  readonly send?: SendView | null | undefined;
  readonly view: EnableView;
};

export const ACTION = '/_guard/security/enable';
export const TOTAL = 5;
