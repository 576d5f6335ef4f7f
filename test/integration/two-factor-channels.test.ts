import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import {
  GENEROUS_BUDGETS,
  MASKED_MERCHANT_PHONE,
  MERCHANT,
  MERCHANT_PHONE,
  OWNER,
  PASSWORD,
  enableEmail,
  enableSms,
  enrollDirectly,
  expectStatus,
  factorsConfig,
  lastCode,
  verifyIdentity,
  settleOwnerMessages,
  withClockedStack,
  type ClockedStack,
  type EnrollOptions,
} from '../helpers/two-factor.ts';

/**
 * The 2FA flows over real delivery channels: an SMS gateway (the signed JSON webhook) that fails,
 * hangs or works, and a real SMTP server (smtp-server) on a loopback port as the email channel.
 * A failed send shows a plain message and leaves no live code; a resend once the channel works
 * delivers a fresh code that works.
 */

const SMS_TRANSIENT = 'The text message could not be sent. Please try again in a moment.';
const EMAIL_TRANSIENT = 'The email could not be sent. Please try again in a moment.';
const COOLDOWN = 61_000;

// ---------------------------------------------------------------------------------------------
// A fake SMS gateway

type GatewayMode = 'ok' | 'fail' | 'echo' | 'hang';

interface GatewayMessage {
  readonly to: string;
  readonly text: string;
  readonly purpose: string;
}

interface Gateway {
  readonly url: string;
  readonly received: GatewayMessage[];
  mode: GatewayMode;
  /** The newest code the gateway received for `to`. */
  lastCode(to: string): string;
  close(): Promise<void>;
}

async function startGateway(): Promise<Gateway> {
  const received: GatewayMessage[] = [];
  const hanging: ServerResponse[] = [];
  const state: { mode: GatewayMode } = { mode: 'ok' };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(raw) as GatewayMessage;
      received.push({ to: body.to, text: body.text, purpose: body.purpose });
      switch (state.mode) {
        case 'ok':
          res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"queued"}');
          return;
        case 'fail':
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
          return;
        case 'echo':
          // Some gateways put the rejected request into their error answer.
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'rejected', request: body }));
          return;
        case 'hang':
          hanging.push(res);
          return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sms`,
    received,
    get mode() {
      return state.mode;
    },
    set mode(mode: GatewayMode) {
      state.mode = mode;
    },
    lastCode(to) {
      const last = received.filter((m) => m.to === to).at(-1);
      const match = last ? /\b(\d{6})\b/.exec(last.text) : null;
      if (!match?.[1]) throw new Error(`the gateway has no code for ${to}`);
      return match[1];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface ChannelStack extends ClockedStack {
  readonly outbox: string;
  readonly enrollVia: EnrollOptions;
}

/** A stack whose SMS channel is the webhook `gateway` (email: the outbox). */
async function withGateway<T>(
  gateway: Gateway,
  options: { timeout?: string; factors?: Record<string, unknown> },
  fn: (s: ChannelStack) => Promise<T>,
): Promise<T> {
  const outbox = join(mkdtempSync(join(tmpdir(), 'spg-2fa-channels-')), 'outbox.jsonl');
  const config = {
    factors: factorsConfig({ send_budget: GENEROUS_BUDGETS, ...options.factors }).factors,
    channels: {
      outbox_file: outbox,
      email: { kind: 'outbox' as const },
      sms: { kind: 'webhook' as const, url: gateway.url, timeout: options.timeout ?? '5s' },
    },
  };
  return withClockedStack({ config }, (s) =>
    fn({
      ...s,
      outbox,
      enrollVia: { clock: s.clock, readCode: (to) => (to.startsWith('+') ? gateway.lastCode(to) : lastCode(outbox, to)) },
    }),
  );
}

async function usingGateway<T>(fn: (gateway: Gateway) => Promise<T>): Promise<T> {
  const gateway = await startGateway();
  try {
    return await fn(gateway);
  } finally {
    await gateway.close();
  }
}

function assertPlain(message: unknown): void {
  assert.equal(typeof message, 'string');
  assert.doesNotMatch(message as string, /HTTP|\b5\d\d\b|webhook|gateway|127\.0\.0\.1|timeout|ECONN|abort/i, `a message for people: ${String(message)}`);
}

// ---------------------------------------------------------------------------------------------

describe('SMS through a webhook gateway that fails', () => {
  test('500: the login says the text could not be sent, the code the gateway saw is dead, and a resend once it works delivers a working code', () =>
    usingGateway((gateway) =>
      withGateway(gateway, {}, async (s) => {
        const client = await s.signedIn();
        await enableSms(client, s.enrollVia);
        assert.equal(gateway.received.filter((m) => m.purpose === 'code').length, 1, 'the enable code went through the gateway');
        await client.logout();

        gateway.mode = 'fail';
        const login = await client.login();
        assert.equal(login.status, 200, login.text);
        assert.equal(login.body['status'], 'verification_required');
        assert.equal(login.body['method'], 'sms');
        assert.equal(login.body['destination'], MASKED_MERCHANT_PHONE);
        assert.equal(login.body['delivery_error'], SMS_TRANSIENT);
        assertPlain(login.body['delivery_error']);
        assert.equal(login.body['resend_after'], undefined, 'no countdown for a code that was not sent');

        // The gateway received the request (and the code) although it answered 500.
        const seen = gateway.lastCode(MERCHANT_PHONE);
        const withSeen = await client.verify(seen);
        assert.equal(withSeen.status, 410, `the code of a failed send is alive: ${withSeen.text}`);
        assert.equal(withSeen.body['error'], 'code_expired');
        const guessed = await client.verify(seen === '000000' ? '111111' : '000000');
        assert.equal(guessed.status, 410, guessed.text);

        const resendFailing = await client.resend();
        assert.equal(resendFailing.status, 502, resendFailing.text);
        assert.equal(resendFailing.body['error'], 'delivery_failed');
        assert.equal(resendFailing.body['message'], SMS_TRANSIENT);

        gateway.mode = 'ok';
        const resend = await client.resend();
        assert.equal(resend.status, 200, `a failed send leaves no cooldown: ${resend.text}`);
        const fresh = gateway.lastCode(MERCHANT_PHONE);
        const ok = await client.verify(fresh);
        assert.equal(ok.status, 200, ok.text);
        assert.equal((await client.me()).status, 200);

        const failures = s.stack.logs.filter((l) => l['msg'] === 'code delivery failed');
        assert.ok(failures.length >= 2, 'each failed delivery is logged for operators');
      }),
    ));

  test('a gateway that never answers: after the (short) timeout the same plain message, no live code; a resend works once it answers', () =>
    usingGateway((gateway) =>
      withGateway(gateway, { timeout: '300ms' }, async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        gateway.mode = 'hang';
        const client = s.client();
        const login = await client.login();
        assert.equal(login.status, 200, login.text);
        assert.equal(login.body['delivery_error'], SMS_TRANSIENT);
        const seen = gateway.lastCode(MERCHANT_PHONE);
        const withSeen = await client.verify(seen);
        assert.equal(withSeen.status, 410, `the code of a timed-out send is alive: ${withSeen.text}`);

        gateway.mode = 'ok';
        expectStatus(await client.resend(), 200, 'resend');
        expectStatus(await client.verify(gateway.lastCode(MERCHANT_PHONE)), 200, 'the resent code');
      }),
    ));

  test('a gateway that echoes the rejected request: the code does not reach the logs', () =>
    usingGateway((gateway) =>
      withGateway(gateway, {}, async (s) => {
        await enrollDirectly(s.stack, MERCHANT, 'sms', MERCHANT_PHONE, s.clock.now());
        gateway.mode = 'echo';
        const client = s.client();
        const login = await client.login();
        assert.equal(login.body['delivery_error'], SMS_TRANSIENT, login.text);
        const code = gateway.lastCode(MERCHANT_PHONE);
        const logged = s.stack.logs.filter((l) => JSON.stringify(l).includes(code));
        assert.deepEqual(logged, [], 'the one-time code reached the structured logs through the provider error');
      }),
    ));

  test('a country outside factors.sms_countries is refused before the gateway is called (owner without a phone names +44)', () =>
    usingGateway((gateway) =>
      withGateway(gateway, { factors: { sms_countries: ['US'] } }, async (s) => {
        const owner = await s.signedIn(OWNER);
        await verifyIdentity(owner, s.enrollVia);
        const reply = await owner.enableMethod('sms', '+44 20 7946 0958');
        assert.equal(reply.status, 400, reply.text);
        assert.equal(reply.body['error'], 'sms_country_not_allowed');
        assert.equal(gateway.received.length, 0, 'nothing reached the gateway');
        assert.equal((await owner.status()).body['enabled'], false);
      }),
    ));
});

// ---------------------------------------------------------------------------------------------
// A real SMTP server

interface Mail {
  readonly mailFrom: string;
  readonly rcptTo: string[];
  readonly raw: string;
}

interface Smtp {
  readonly port: number;
  readonly delivered: Mail[];
  refuse: boolean;
  close(): Promise<void>;
}

async function startSmtp(): Promise<Smtp> {
  const delivered: Mail[] = [];
  const state = { refuse: false };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (state.refuse) {
          callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
          return;
        }
        const from = session.envelope.mailFrom;
        delivered.push({
          mailFrom: from ? from.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    delivered,
    get refuse() {
      return state.refuse;
    },
    set refuse(value: boolean) {
      state.refuse = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The text of a raw message with quoted-printable soft breaks and escapes undone. */
function decoded(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}: (.*)$`, 'mi').exec(unfolded);
  return match?.[1]?.trim();
}

function smtpCode(smtp: Smtp, to: string): string {
  const mail = smtp.delivered.filter((m) => m.rcptTo.includes(to) && /is your/.test(decoded(m.raw))).at(-1);
  const match = mail ? /SmartPush: (\d{6}) is your/.exec(decoded(mail.raw)) : null;
  if (!match?.[1]) throw new Error(`no code mailed to ${to}`);
  return match[1];
}

describe('email through a real SMTP server', () => {
  test('identity, enable and login codes and the enable notification arrive over SMTP with From and Subject; a refused send shows a plain message and a resend works', async () => {
    const smtp = await startSmtp();
    const outbox = join(mkdtempSync(join(tmpdir(), 'spg-2fa-smtp-')), 'outbox.jsonl');
    try {
      const config = {
        factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors,
        channels: {
          outbox_file: outbox,
          email: {
            kind: 'smtp' as const,
            host: '127.0.0.1',
            port: smtp.port,
            secure: false,
            starttls: 'opportunistic' as const,
            from: 'SmartPush Security <security@smartpush.example>',
            timeout: '5s',
          },
          sms: { kind: 'outbox' as const },
        },
      };
      await withClockedStack({ config }, async (s) => {
        const client = await s.signedIn();
        // The identity code goes by text message (the outbox): the address that gets the email codes
        // cannot also prove who this is (src/flows/same-channel.ts); the enable code comes over SMTP.
        const enrolled = await enableEmail(client, { clock: s.clock, readCode: (to) => (to.startsWith('+') ? lastCode(outbox, to) : smtpCode(smtp, to)) });
        assert.equal(enrolled.recoveryCodes.length, 10);

        // One message about the change (README "What the owner is told"): the factor_changed alert.
        await settleOwnerMessages(s.stack.guard);
        const notes = smtp.delivered.filter((m) => /turned on/.test(header(m.raw, 'Subject') ?? ''));
        assert.equal(notes.length, 1, `one message about the change: ${smtp.delivered.map((m) => header(m.raw, 'Subject')).join(' | ')}`);
        const note = notes[0];
        assert.ok(note);
        assert.equal(header(note.raw, 'Subject'), 'SmartPush security alert: two-factor authentication turned on');
        assert.equal(header(note.raw, 'From'), 'SmartPush Security <security@smartpush.example>');
        assert.equal(header(note.raw, 'To'), MERCHANT);
        assert.equal(note.mailFrom, 'security@smartpush.example');
        assert.deepEqual(note.rcptTo, [MERCHANT]);
        assert.match(decoded(note.raw), /Two-factor authentication was turned on for your account\./);
        assert.match(decoded(note.raw), /Method: email/);
        assert.match(note.raw, /^Content-Type: text\/html/m);
        for (const mail of smtp.delivered) assert.equal(header(mail.raw, 'From'), 'SmartPush Security <security@smartpush.example>');

        await client.logout();
        const login = await client.login();
        assert.equal(login.body['method'], 'email');
        assert.equal(login.body['destination'], 'm•••@example.com');
        const loginMail = smtp.delivered.at(-1) as Mail;
        assert.equal(header(loginMail.raw, 'Subject'), 'Your SmartPush sign-in code');
        expectStatus(await client.verify(smtpCode(smtp, MERCHANT)), 200, 'the code from the SMTP server');
        await client.logout();

        smtp.refuse = true;
        const refused = await client.login();
        assert.equal(refused.status, 200, refused.text);
        assert.equal(refused.body['delivery_error'], EMAIL_TRANSIENT);
        assertPlain(refused.body['delivery_error']);
        const guess = await client.verify('123456');
        assert.equal(guess.status, 410, `no live code after a refused send: ${guess.text}`);
        smtp.refuse = false;
        s.clock.advance(COOLDOWN);
        expectStatus(await client.resend(), 200, 'resend');
        expectStatus(await client.verify(smtpCode(smtp, MERCHANT)), 200, 'the resent code');
      });
    } finally {
      await smtp.close();
    }
  });

  test('the disable notification goes over SMTP too, and the password is never mailed', async () => {
    const smtp = await startSmtp();
    const outbox = join(mkdtempSync(join(tmpdir(), 'spg-2fa-smtp-')), 'outbox.jsonl');
    try {
      const config = {
        factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors,
        channels: {
          outbox_file: outbox,
          email: { kind: 'smtp' as const, host: '127.0.0.1', port: smtp.port, starttls: 'opportunistic' as const, from: 'SmartPush <no-reply@smartpush.example>' },
          sms: { kind: 'outbox' as const },
        },
      };
      await withClockedStack({ config }, async (s) => {
        const client = await s.signedIn();
        await enableSms(client, { clock: s.clock, readCode: (to) => (to.startsWith('+') ? lastCode(outbox, to) : smtpCode(smtp, to)) });
        expectStatus(await client.disableStart(PASSWORD), 200, 'disable/start');
        expectStatus(await client.disableVerify(lastCode(outbox, MERCHANT_PHONE)), 200, 'disable/verify');
        expectStatus(await client.disableConfirm(), 200, 'disable/confirm');
        await settleOwnerMessages(s.stack.guard);
        const subjects = smtp.delivered.map((m) => header(m.raw, 'Subject'));
        assert.deepEqual(subjects.filter((subject) => /turned off/.test(subject ?? '')), ['SmartPush security alert: two-factor authentication turned off'], subjects.join(' | '));
        for (const mail of smtp.delivered) assert.ok(!mail.raw.includes(PASSWORD));
      });
    } finally {
      await smtp.close();
    }
  });
});
