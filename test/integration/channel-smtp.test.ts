import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { ChannelError, type Message } from '../../src/channels/channel.ts';
import { SmtpChannel, type SmtpOptions } from '../../src/channels/smtp.ts';
import { codeMessage } from '../../src/channels/templates.tsx';

interface Delivered {
  mailFrom: string;
  rcptTo: string[];
  user: string | undefined;
  raw: string;
}

type Cleanup = { after(fn: () => Promise<void> | void): void };
type Defer = (fn: () => Promise<void> | void) => void;

/** Cleanups run last-in first-out, so a channel closes its pooled connection before its server stops. */
function scope(t: Cleanup): Defer {
  const cleanups: Array<() => Promise<void> | void> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return (fn) => cleanups.push(fn);
}

/** A real SMTP server (smtp-server) on a loopback ephemeral port, recording what it accepts. */
async function smtpServer(defer: Defer, options: SMTPServerOptions) {
  const delivered: Delivered[] = [];
  const auths: Array<{ method: string; username: string | undefined }> = [];
  let connections = 0;
  let closed = 0;
  const closeWaiters: Array<() => void> = [];
  const server = new SMTPServer({
    logger: false,
    // No TLS certificate in the tests: plain connections only.
    disabledCommands: ['STARTTLS'],
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onClose() {
      closed++;
      for (const wake of closeWaiters.splice(0)) wake();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        delivered.push({
          mailFrom: from ? from.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
    ...options,
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.server.address() as AddressInfo;
  defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: address.port,
    delivered,
    auths,
    get connections() {
      return connections;
    },
    /** Resolves once `count` client connections have closed. */
    closedAtLeast(count: number): Promise<void> {
      return new Promise((resolve) => {
        const check = () => (closed >= count ? resolve() : closeWaiters.push(check));
        check();
      });
    },
  };
}

function channel(defer: Defer, options: Partial<SmtpOptions> & { port: number }): SmtpChannel {
  const smtp = new SmtpChannel({
    host: '127.0.0.1',
    secure: false,
    starttls: 'opportunistic',
    from: 'SmartPush <no-reply@smartpush.example>',
    timeoutMs: 2000,
    ...options,
  });
  defer(() => smtp.close());
  return smtp;
}

const rendered = codeMessage({ code: '482913', purpose: 'login', minutes: 5, product: 'SmartPush' });
const EMAIL: Message = {
  kind: 'email',
  to: 'merchant@example.com',
  subject: rendered.subject,
  text: rendered.text,
  html: rendered.html,
  purpose: 'code',
};

function isChannelError(transient: boolean | 'either') {
  return (error: unknown) => {
    assert.ok(error instanceof ChannelError, `expected a ChannelError, got ${String(error)}`);
    if (transient !== 'either') assert.equal(error.transient, transient, `transient should be ${transient}: ${String(error.cause)}`);
    assert.ok(error.cause instanceof Error, 'the nodemailer error is kept as the cause');
    assert.match(error.message, /^The email could not be sent\./);
    assert.doesNotMatch(error.message, /\d{3}|127\.0\.0\.1|smtp|auth|refused/i, 'no server details for people');
    return true;
  };
}

describe('SmtpChannel', () => {
  test('delivers From, To, Subject and both text and HTML parts carrying the code', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, { authOptional: true });
    const smtp = channel(defer, { port: server.port });
    assert.equal(smtp.name, 'smtp');
    await smtp.send(EMAIL);

    assert.equal(server.delivered.length, 1);
    const [mail] = server.delivered;
    assert.ok(mail);
    assert.equal(mail.mailFrom, 'no-reply@smartpush.example');
    assert.deepEqual(mail.rcptTo, ['merchant@example.com']);
    assert.match(mail.raw, /^From: SmartPush <no-reply@smartpush\.example>\r$/m);
    assert.match(mail.raw, /^To: merchant@example\.com\r$/m);
    assert.match(mail.raw, /^Subject: Your SmartPush sign-in code\r$/m);
    assert.match(mail.raw, /^Content-Type: multipart\/alternative;/m);
    assert.match(mail.raw, /^Content-Type: text\/plain; charset=utf-8\r$/m);
    assert.match(mail.raw, /^Content-Type: text\/html; charset=utf-8\r$/m);
    // The code appears in both parts (quoted-printable leaves digits alone).
    const parts = mail.raw.split(/^Content-Type: text\//m).slice(1);
    assert.equal(parts.length, 2);
    for (const part of parts) assert.ok(part.includes('482913'), part.slice(0, 80));
  });

  test('reuses one pooled connection and closes it on close()', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, { authOptional: true });
    const smtp = channel(defer, { port: server.port });
    await smtp.send(EMAIL);
    await smtp.send({ ...EMAIL, to: 'owner@example.com' });
    assert.equal(server.delivered.length, 2);
    assert.equal(server.connections, 1, 'pooled: the second message used the same connection');
    await smtp.close();
    await server.closedAtLeast(1);
  });

  test('authenticates with AUTH PLAIN when the server requires it', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, {
      authMethods: ['PLAIN'],
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        server.auths.push({ method: auth.method, username: auth.username });
        if (auth.username === 'mailer' && auth.password === 'right-password') callback(null, { user: 'mailer' });
        else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
    });
    const smtp = channel(defer, { port: server.port, user: 'mailer', password: 'right-password' });
    await smtp.send(EMAIL);
    assert.deepEqual(server.auths, [{ method: 'PLAIN', username: 'mailer' }]);
    assert.equal(server.delivered[0]?.user, 'mailer');
  });

  test('a wrong password fails with a permanent ChannelError and nothing is delivered', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, {
      authMethods: ['PLAIN'],
      allowInsecureAuth: true,
      onAuth(_auth, _session, callback) {
        callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
    });
    const smtp = channel(defer, { port: server.port, user: 'mailer', password: 'wrong-password' });
    await assert.rejects(smtp.send(EMAIL), isChannelError(false));
    assert.equal(server.delivered.length, 0);
  });

  test('a refused recipient (550) is permanent', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, {
      authOptional: true,
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      },
    });
    await assert.rejects(channel(defer, { port: server.port }).send(EMAIL), isChannelError(false));
    assert.equal(server.delivered.length, 0);
  });

  test('a temporarily refused recipient (450) is transient', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, {
      authOptional: true,
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('Mailbox busy, try later'), { responseCode: 450 }));
      },
    });
    await assert.rejects(channel(defer, { port: server.port }).send(EMAIL), isChannelError(true));
  });

  test('nothing listening fails transiently', { timeout: 10_000 }, async (t) => {
    const defer = scope(t);
    const port = await freePort();
    await assert.rejects(channel(defer, { port, timeoutMs: 500 }).send(EMAIL), isChannelError(true));
  });

  test('a server that never greets fails transiently once the timeout passes', { timeout: 10_000 }, async (t) => {
    const defer = scope(t);
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    defer(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const { port } = silent.address() as AddressInfo;
    await assert.rejects(channel(defer, { port, timeoutMs: 300 }).send(EMAIL), isChannelError(true));
    assert.equal(sockets.size, 1, 'the client did connect');
  });

  test('starttls "required" (the default) refuses a server without STARTTLS: nothing is sent in the clear', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, { authOptional: true });
    const smtp = new SmtpChannel({ host: '127.0.0.1', port: server.port, secure: false, from: 'no-reply@smartpush.example', timeoutMs: 2000 });
    defer(() => smtp.close());
    await assert.rejects(smtp.send(EMAIL), isChannelError(false));
    assert.equal(server.delivered.length, 0);
  });

  test('sms messages are refused', async (t) => {
    const defer = scope(t);
    const server = await smtpServer(defer, { authOptional: true });
    await assert.rejects(
      channel(defer, { port: server.port }).send({ kind: 'sms', to: '+15555550189', text: 'x', purpose: 'code' }),
      (error: unknown) => error instanceof ChannelError && !error.transient,
    );
    assert.equal(server.connections, 0);
  });
});

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
