import { ChannelError, type Channel, type Message } from './channel.ts';
import { SMS_PERMANENT, checkStatus, endpointUrl, postWithDeadline } from './http.ts';

/**
 * SMS through Twilio's Programmable Messaging REST API (the "Create a Message" call):
 *
 *   POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json
 *   Authorization: Basic base64(AccountSid:AuthToken)
 *   Content-Type: application/x-www-form-urlencoded
 *   To=+15555550189&Body=…&From=+1…   (or MessagingServiceSid=MG…)
 *
 * 2xx (Twilio answers 201) is success. 429 and 5xx and network failures are transient; any other
 * answer is permanent. Twilio's JSON error `{code, message, more_info, status}` is kept in the
 * ChannelError's cause (a ProviderResponseError), never in the message users see.
 */
interface TwilioOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** Sender number (E.164) or alphanumeric sender id. One of `from` / `messagingServiceSid` is required. */
  readonly from?: string;
  /** Messaging Service SID (`MG…`); Twilio then picks the sender from the service's pool. */
  readonly messagingServiceSid?: string;
  /** Defaults to `https://api.twilio.com`; http is accepted only for loopback (tests). */
  readonly baseUrl?: string;
  readonly timeoutMs: number;
}

export class TwilioChannel implements Channel {
  readonly name = 'twilio';
  readonly #url: URL;
  readonly #authorization: string;
  readonly #sender: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(options: TwilioOptions) {
    if (!options.accountSid || !options.authToken) throw new Error('twilio: accountSid and authToken are required');
    if (!options.from && !options.messagingServiceSid) throw new Error('twilio: set from or messagingServiceSid');
    if (!(options.timeoutMs > 0)) throw new Error('twilio: timeoutMs must be positive');
    const base = endpointUrl(options.baseUrl ?? 'https://api.twilio.com', 'twilio baseUrl');
    const basePath = base.pathname.replace(/\/+$/, '');
    this.#url = new URL(`${basePath}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`, base);
    this.#authorization = 'Basic ' + Buffer.from(`${options.accountSid}:${options.authToken}`, 'utf8').toString('base64');
    this.#sender = {
      ...(options.from ? { From: options.from } : {}),
      ...(options.messagingServiceSid ? { MessagingServiceSid: options.messagingServiceSid } : {}),
    };
    this.#timeoutMs = options.timeoutMs;
  }

  async send(message: Message): Promise<void> {
    if (message.kind !== 'sms') {
      throw new ChannelError(SMS_PERMANENT, false, { cause: new Error('twilio channel only sends sms messages') });
    }
    const body = new URLSearchParams({ To: message.to, Body: message.text, ...this.#sender }).toString();
    const result = await postWithDeadline(
      'twilio',
      this.#url,
      {
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body,
      },
      this.#timeoutMs,
    );
    checkStatus('twilio', result, twilioErrorCode(result.body));
  }

  async close(): Promise<void> {}
}

function twilioErrorCode(body: string): number | string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && 'code' in parsed) {
      const code = (parsed as { code: unknown }).code;
      if (typeof code === 'number' || typeof code === 'string') return code;
    }
  } catch {
    // not JSON: the raw body stays in the cause
  }
  return undefined;
}
