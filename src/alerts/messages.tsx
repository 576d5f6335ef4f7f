import { formatTime, renderEmailLayout } from '../channels/templates.tsx';
import { catalogue, type Lang } from '../i18n/language.ts';
import { networkPrefix } from '../risk/network.ts';
import { userAgentFamily } from '../risk/user-agent.ts';
import type { AlertIntent } from './table.ts';

/**
 * The words of one alert, in the account's language: what happened (the row's topic), when, and
 * from where for a new sign-in, then the "this wasn't me" advice (change the password at the app,
 * sign out the other sessions on the sidecar's Login & Security page, contact support). Built only
 * from the table's topic and a few non-secret facts of the audit record (masked network, browser
 * family, a count, a method name): never a code, a secret, a token or a full address.
 */

interface AlertWords {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** The short form for a text message. */
  readonly sms: string;
}

interface AlertContext {
  readonly lang: Lang;
  readonly product: string;
  readonly support: string;
  /** The Login & Security page. */
  readonly securityUrl: string;
}

const P = 'margin:0 0 16px;font-size:15px;line-height:1.5;color:#1f2933;';

/** The facts lines of an alert (time, origin, method, codes left), already in the language. */
function factLines(intent: AlertIntent, t: ReturnType<typeof catalogue>['alerts']): string[] {
  const lines = [t.time(formatTime(new Date(intent.event.time)))];
  const details = intent.event.details ?? {};
  if (intent.topic === 'new_sign_in') {
    const family = userAgentFamily(intent.event.userAgent ?? '');
    const network = intent.event.client !== undefined ? networkPrefix(intent.event.client) : null;
    const name = (value: string): string => (value === 'other' ? t.unknownFamily : value);
    lines.push(t.from(`${name(family.browser)} / ${name(family.os)}`, network ?? t.unknownFamily));
  }
  const method = details['method'];
  if ((intent.topic === 'two_factor_on' || intent.topic === 'support_destination') && (method === 'totp' || method === 'sms' || method === 'email')) {
    lines.push(t.byMethod(t.methods[method]));
  }
  const left = details['remaining'];
  if ((intent.topic === 'recovery_code_used' || intent.topic === 'recovery_codes_low') && typeof left === 'number') lines.push(t.recoveryCodesLeft(left));
  return lines;
}

export function alertWords(intent: AlertIntent, context: AlertContext): AlertWords {
  const t = catalogue(context.lang).alerts;
  const title = t.titles[intent.topic];
  const sentence = t.texts[intent.topic];
  const subject = t.subject(context.product, title);
  const facts = factLines(intent, t);
  const steps = [t.stepPassword(context.product), t.stepSessions(context.securityUrl), t.stepSupport(context.support)];
  const text = [sentence, '', ...facts, '', t.ifYou, t.notYou, ...steps.map((step) => `- ${step}`), '', t.footer(context.product)].join('\n') + '\n';
  const html = renderEmailLayout(
    context.lang,
    subject,
    <>
      <p style={P}>{sentence}</p>
      {facts.map((line) => (
        <p style={P}>{line}</p>
      ))}
      <p style={P}>{t.ifYou}</p>
      <p style={P}>
        <strong>{t.notYou}</strong>
      </p>
      <ul style={P}>
        {steps.map((step) => (
          <li>{step}</li>
        ))}
      </ul>
    </>,
    t.footer(context.product),
  );
  return { subject, text, html, sms: t.sms(context.product, title, context.securityUrl) };
}
