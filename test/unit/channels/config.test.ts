import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { channelFromConfig, type ChannelSpec } from '../../../src/channels/index.ts';
import { cryptoRandom } from '../../../src/core/random.ts';

const deps = { clock: { now: () => 0 }, random: cryptoRandom, console: () => {} };

test('channelFromConfig builds the channel each spec names', async (t) => {
  const specs: Array<[ChannelSpec, string]> = [
    [{ kind: 'outbox' }, 'outbox'],
    [{ kind: 'smtp', host: 'smtp.example.com', port: 587, secure: false, from: 'no-reply@example.com' }, 'smtp'],
    [{ kind: 'twilio', accountSid: 'AC1', authToken: 'token', messagingServiceSid: 'MG1' }, 'twilio'],
    [{ kind: 'webhook', url: 'https://sms.example.com/send', secret: 's' }, 'webhook'],
  ];
  for (const [spec, name] of specs) {
    const channel = channelFromConfig(spec, deps);
    t.after(() => channel.close());
    assert.equal(channel.name, name);
  }
});

test('the outbox spec writes to its file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'guard-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'outbox.jsonl');
  const channel = channelFromConfig({ kind: 'outbox', file }, deps);
  await channel.send({ kind: 'sms', to: '+15555550189', text: 'hello', purpose: 'notification' });
  const line = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  assert.equal(line.channel, 'sms');
  assert.equal(line.time, '1970-01-01T00:00:00.000Z', 'the injected clock is used');
});

test('unusable specs are refused when the channel is built', () => {
  assert.throws(() => channelFromConfig({ kind: 'twilio', accountSid: 'AC1', authToken: 'token' }, deps));
  assert.throws(() => channelFromConfig({ kind: 'webhook', url: 'http://sms.example.com/send' }, deps));
  assert.throws(() => channelFromConfig({ kind: 'smtp', host: 'h', port: 25, secure: false, from: 'a@b.c', user: 'u' }, deps));
});
