import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ChannelError, type Message } from '../../src/channels/channel.ts';
import { ProviderResponseError } from '../../src/channels/http.ts';
import { TwilioChannel } from '../../src/channels/twilio.ts';
import { WebhookChannel } from '../../src/channels/webhook.ts';
import { systemClock } from '../../src/core/clock.ts';
import { cryptoRandom } from '../../src/core/random.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Reply = (res: ServerResponse) => void;

/** A loopback HTTP server standing in for Twilio or a gateway; records each request exactly. */
async function fakeProvider(t: { after(fn: () => Promise<void> | void): void }, reply: Reply) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      reply(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received };
}

function json(status: number, body: unknown): Reply {
  return (res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

const hang: Reply = () => {};

/** A port with nothing listening: bind, note the port, close. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const SMS: Message = {
  kind: 'sms',
  to: '+15555550189',
  text: 'SmartPush: 123456 is your verification code. It expires in 5 minutes. Never share it with anyone.',
  purpose: 'code',
};

function isChannelError(transient: boolean, check?: (error: ChannelError) => void) {
  return (error: unknown) => {
    assert.ok(error instanceof ChannelError, `expected a ChannelError, got ${String(error)}`);
    assert.equal(error.transient, transient, `transient should be ${transient}: ${error.message}`);
    assert.ok(error.cause !== undefined, 'the cause is kept');
    assert.doesNotMatch(error.message, /123456|127\.0\.0\.1|HTTP|twilio|webhook/i, 'the user message leaks nothing');
    check?.(error);
    return true;
  };
}

describe('TwilioChannel', () => {
  const twilio = (baseUrl: string, extra: { from?: string; messagingServiceSid?: string; timeoutMs?: number } = { from: '+15005550006' }) =>
    new TwilioChannel({ accountSid: 'AC123', authToken: 'tok-secret', baseUrl, timeoutMs: extra.timeoutMs ?? 2000, ...extra });

  test('sends exactly the Create Message request', async (t) => {
    const provider = await fakeProvider(t, json(201, { sid: 'SM1', status: 'queued' }));
    const channel = twilio(provider.url);
    assert.equal(channel.name, 'twilio');
    await channel.send(SMS);

    assert.equal(provider.received.length, 1);
    const [request] = provider.received;
    assert.ok(request);
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/2010-04-01/Accounts/AC123/Messages.json');
    assert.equal(request.headers.authorization, 'Basic ' + Buffer.from('AC123:tok-secret').toString('base64'));
    assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(request.body);
    assert.deepEqual([...form.keys()].sort(), ['Body', 'From', 'To']);
    assert.equal(form.get('To'), '+15555550189');
    assert.equal(form.get('From'), '+15005550006');
    assert.equal(form.get('Body'), SMS.text);
    // '+' must be percent-encoded, or the server decodes it as a space.
    assert.match(request.body, /To=%2B15555550189/);
  });

  test('uses MessagingServiceSid instead of From when configured', async (t) => {
    const provider = await fakeProvider(t, json(201, { sid: 'SM1' }));
    await twilio(provider.url, { messagingServiceSid: 'MG0001' }).send(SMS);
    const form = new URLSearchParams(provider.received[0]?.body);
    assert.deepEqual([...form.keys()].sort(), ['Body', 'MessagingServiceSid', 'To']);
    assert.equal(form.get('MessagingServiceSid'), 'MG0001');
  });

  test('500 is transient', async (t) => {
    const provider = await fakeProvider(t, json(500, { code: 20500, message: 'Internal Server Error' }));
    await assert.rejects(twilio(provider.url).send(SMS), isChannelError(true));
  });

  test('429 is transient', async (t) => {
    const provider = await fakeProvider(t, json(429, { code: 20429, message: 'Too Many Requests' }));
    await assert.rejects(twilio(provider.url).send(SMS), isChannelError(true));
  });

  test('400 is permanent and keeps Twilio’s error as the cause only', async (t) => {
    const twilioError = { code: 21211, message: "The 'To' number +15555550189 is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 };
    const provider = await fakeProvider(t, json(400, twilioError));
    await assert.rejects(
      twilio(provider.url).send(SMS),
      isChannelError(false, (error) => {
        assert.ok(error.cause instanceof ProviderResponseError);
        assert.equal(error.cause.status, 400);
        assert.equal(error.cause.code, 21211);
        assert.deepEqual(JSON.parse(error.cause.body), twilioError);
        assert.ok(!error.message.includes('21211') && !error.message.includes('valid phone'));
      }),
    );
  });

  test('401 (bad credentials) is permanent', async (t) => {
    const provider = await fakeProvider(t, json(401, { code: 20003, message: 'Authenticate' }));
    await assert.rejects(twilio(provider.url).send(SMS), isChannelError(false));
  });

  test('a hung server fails transiently once the timeout passes', { timeout: 10_000 }, async (t) => {
    const provider = await fakeProvider(t, hang);
    await assert.rejects(twilio(provider.url, { from: '+15005550006', timeoutMs: 200 }).send(SMS), isChannelError(true));
    assert.equal(provider.received.length, 1, 'the request did arrive');
  });

  test('a server that sends headers then stalls the body also fails transiently', { timeout: 10_000 }, async (t) => {
    const provider = await fakeProvider(t, (res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.write('{"sid":');
    });
    await assert.rejects(twilio(provider.url, { from: '+15005550006', timeoutMs: 200 }).send(SMS), isChannelError(true));
  });

  test('nothing listening is transient', async () => {
    await assert.rejects(twilio(await deadUrl()).send(SMS), isChannelError(true));
  });

  test('a redirect is not followed and is permanent', async (t) => {
    const elsewhere = await fakeProvider(t, json(201, {}));
    const provider = await fakeProvider(t, (res) => {
      res.writeHead(307, { location: `${elsewhere.url}/steal` });
      res.end();
    });
    await assert.rejects(twilio(provider.url).send(SMS), isChannelError(false));
    assert.equal(elsewhere.received.length, 0);
  });

  test('email messages are refused without a request', async (t) => {
    const provider = await fakeProvider(t, json(201, {}));
    await assert.rejects(
      twilio(provider.url).send({ kind: 'email', to: 'merchant@example.com', subject: 's', text: 't', purpose: 'code' }),
      isChannelError(false),
    );
    assert.equal(provider.received.length, 0);
  });

  test('configuration is checked up front', () => {
    assert.throws(() => new TwilioChannel({ accountSid: 'AC1', authToken: 't', timeoutMs: 1000 }), /from or messagingServiceSid/);
    assert.throws(() => new TwilioChannel({ accountSid: 'AC1', authToken: 't', from: '+1', baseUrl: 'http://api.example.com', timeoutMs: 1000 }), /https/);
  });
});

describe('WebhookChannel', () => {
  const SECRET = 'whsec-test-secret';
  const NOW = 1_736_000_000_123;
  const webhook = (url: string, options: { secret?: string; timeoutMs?: number; headers?: Record<string, string> } = { secret: SECRET }) =>
    new WebhookChannel({ url: `${url}/sms`, timeoutMs: options.timeoutMs ?? 2000, clock: { now: () => NOW }, random: cryptoRandom, ...options });

  test('posts signed JSON with an idempotency key', async (t) => {
    const provider = await fakeProvider(t, json(202, { accepted: true }));
    const channel = webhook(provider.url, { secret: SECRET, headers: { Authorization: 'Bearer gateway-token' } });
    assert.equal(channel.name, 'webhook');
    await channel.send(SMS);
    await channel.send(SMS);

    assert.equal(provider.received.length, 2);
    const [request, second] = provider.received;
    assert.ok(request && second);
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/sms');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers.authorization, 'Bearer gateway-token');

    const body = JSON.parse(request.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['id', 'purpose', 'text', 'to']);
    assert.equal(body.to, SMS.to);
    assert.equal(body.text, SMS.text);
    assert.equal(body.purpose, 'code');
    assert.match(String(body.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(request.headers['idempotency-key'], body.id);
    assert.notEqual(JSON.parse(second.body).id, body.id, 'each message gets its own id');

    const timestamp = request.headers['x-guard-timestamp'];
    assert.equal(timestamp, String(Math.floor(NOW / 1000)));
    // Verify as a receiver would: HMAC-SHA256 over "<timestamp>.<raw body>", constant-time compare.
    const expected = Buffer.from('sha256=' + createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex'));
    const given = Buffer.from(String(request.headers['x-guard-signature']));
    assert.equal(given.length, expected.length);
    assert.ok(timingSafeEqual(given, expected), 'signature verifies with the shared secret');
    const forged = Buffer.from('sha256=' + createHmac('sha256', 'other-secret').update(`${timestamp}.${request.body}`).digest('hex'));
    assert.ok(!timingSafeEqual(given, forged));
  });

  test('without a secret the request is unsigned but timestamped', async (t) => {
    const provider = await fakeProvider(t, json(200, {}));
    await webhook(provider.url, {}).send(SMS);
    const [request] = provider.received;
    assert.ok(request);
    assert.equal(request.headers['x-guard-signature'], undefined);
    assert.equal(request.headers['x-guard-timestamp'], String(Math.floor(NOW / 1000)));
  });

  test('500 is transient', async (t) => {
    const provider = await fakeProvider(t, json(500, { error: 'boom' }));
    await assert.rejects(webhook(provider.url).send(SMS), isChannelError(true));
  });

  test('400 is permanent and keeps the answer as the cause', async (t) => {
    const provider = await fakeProvider(t, json(400, { error: 'invalid number' }));
    await assert.rejects(
      webhook(provider.url).send(SMS),
      isChannelError(false, (error) => {
        assert.ok(error.cause instanceof ProviderResponseError);
        assert.equal(error.cause.status, 400);
        assert.match(error.cause.body, /invalid number/);
      }),
    );
  });

  test('429 is transient', async (t) => {
    const provider = await fakeProvider(t, json(429, {}));
    await assert.rejects(webhook(provider.url).send(SMS), isChannelError(true));
  });

  test('a hung server fails transiently once the timeout passes', { timeout: 10_000 }, async (t) => {
    const provider = await fakeProvider(t, hang);
    await assert.rejects(webhook(provider.url, { secret: SECRET, timeoutMs: 200 }).send(SMS), isChannelError(true));
    assert.equal(provider.received.length, 1);
  });

  test('nothing listening is transient', async () => {
    await assert.rejects(webhook(await deadUrl()).send(SMS), isChannelError(true));
  });

  test('email messages are refused without a request', async (t) => {
    const provider = await fakeProvider(t, json(200, {}));
    await assert.rejects(webhook(provider.url).send({ kind: 'email', to: 'a@example.com', text: 't', purpose: 'code' }), isChannelError(false));
    assert.equal(provider.received.length, 0);
  });

  test('configuration is checked up front', () => {
    assert.throws(() => new WebhookChannel({ url: 'http://gateway.example.com/sms', timeoutMs: 1000, clock: systemClock, random: cryptoRandom }), /https/);
    assert.throws(() => new WebhookChannel({ url: 'https://gateway.example.com/sms', headers: { 'X-Guard-Signature': 'x' }, timeoutMs: 1000, clock: systemClock, random: cryptoRandom }), /set by the channel/);
    assert.throws(() => new WebhookChannel({ url: 'https://gateway.example.com/sms', headers: { 'X-Bad': 'a\r\nb' }, timeoutMs: 1000, clock: systemClock, random: cryptoRandom }));
    assert.doesNotThrow(() => new WebhookChannel({ url: 'https://gateway.example.com/sms', timeoutMs: 1000, clock: systemClock, random: cryptoRandom }));
  });
});
