import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutboxChannel } from '../../../src/channels/outbox.ts';
import { ChannelError } from '../../../src/channels/channel.ts';

const clock = { now: () => Date.UTC(2025, 0, 2, 3, 4, 5) };

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'guard-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function lines(file: string): Promise<unknown[]> {
  const raw = await readFile(file, 'utf8');
  assert.ok(raw.endsWith('\n'), 'every line ends with a newline');
  return raw
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

test('outbox appends one JSON line per message with the contract fields, creating the directory', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'nested', 'var', 'outbox.jsonl');
  const printed: string[] = [];
  const outbox = new OutboxChannel(file, { clock, console: (line) => printed.push(line) });
  assert.equal(outbox.name, 'outbox');

  await outbox.send({ kind: 'sms', to: '+15555550189', text: 'SmartPush: 123456 is your verification code.', purpose: 'code' });
  await outbox.send({
    kind: 'email',
    to: 'merchant@example.com',
    subject: 'Your SmartPush sign-in code',
    text: 'SmartPush: 654321 is your sign-in code.',
    html: '<p>654321</p>',
    purpose: 'code',
  });

  assert.deepEqual(await lines(file), [
    {
      time: '2025-01-02T03:04:05.000Z',
      channel: 'sms',
      to: '+15555550189',
      text: 'SmartPush: 123456 is your verification code.',
      purpose: 'code',
    },
    {
      time: '2025-01-02T03:04:05.000Z',
      channel: 'email',
      to: 'merchant@example.com',
      subject: 'Your SmartPush sign-in code',
      text: 'SmartPush: 654321 is your sign-in code.',
      purpose: 'code',
    },
  ]);

  assert.equal(printed.length, 2);
  assert.equal(printed[0], '[outbox] sms to +1 •••• ••89: SmartPush: 123456 is your verification code.');
  assert.match(printed[1] ?? '', /^\[outbox\] email to m•••@example\.com: Your SmartPush sign-in code \| SmartPush: 654321/);
  assert.ok(!printed.join('\n').includes('+15555550189'), 'console line masks the phone number');
  assert.ok(!printed.join('\n').includes('merchant@'), 'console line masks the email address');
});

test('outbox file is created with mode 0600', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'outbox.jsonl');
  const outbox = new OutboxChannel(file, { clock, console: () => {} });
  await outbox.send({ kind: 'sms', to: '+15555550189', text: 'x', purpose: 'code' });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('an existing outbox file readable by others is tightened to 0600', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'outbox.jsonl');
  await writeFile(file, '');
  await chmod(file, 0o644);
  const outbox = new OutboxChannel(file, { clock, console: () => {} });
  await outbox.send({ kind: 'sms', to: '+15555550189', text: 'x', purpose: 'code' });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('50 concurrent sends from separate channel instances produce 50 intact lines', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'outbox.jsonl');
  // Separate instances stand in for separate processes: nothing is shared but the file.
  const long = 'x'.repeat(4000);
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      new OutboxChannel(file, { clock, console: () => {} }).send({
        kind: i % 2 === 0 ? 'sms' : 'email',
        to: i % 2 === 0 ? '+15555550189' : `user${i}@example.com`,
        text: `message ${i} ${long}`,
        purpose: 'notification',
      }),
    ),
  );
  const parsed = (await lines(file)) as Array<{ text: string }>;
  assert.equal(parsed.length, 50);
  const seen = new Set(parsed.map((line) => Number(line.text.split(' ')[1])));
  assert.equal(seen.size, 50);
  for (const line of parsed) assert.ok(line.text.endsWith(long));
});

test('an unwritable outbox fails with a transient ChannelError', async (t) => {
  const dir = await tempDir(t);
  const blocker = join(dir, 'not-a-dir');
  await writeFile(blocker, '');
  const outbox = new OutboxChannel(join(blocker, 'outbox.jsonl'), { clock, console: () => {} });
  await assert.rejects(
    outbox.send({ kind: 'sms', to: '+15555550189', text: 'x', purpose: 'code' }),
    (error: unknown) => error instanceof ChannelError && error.transient && error.cause !== undefined,
  );
});

test('several processes appending to one outbox file never interleave lines', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'outbox.jsonl');
  const moduleUrl = new URL('../../../src/channels/outbox.ts', import.meta.url).href;
  const script = `
    const { OutboxChannel } = await import(${JSON.stringify(moduleUrl)});
    const outbox = new OutboxChannel(process.env.OUTBOX_FILE, { clock: Date, console: () => {} });
    const tag = process.env.TAG;
    await Promise.all(Array.from({ length: 25 }, (_, i) =>
      outbox.send({ kind: 'sms', to: '+15555550189', text: tag + ':' + i + ':' + 'y'.repeat(3000), purpose: 'code' })));
  `;
  const { spawn } = await import('node:child_process');
  const run = (tag: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, OUTBOX_FILE: file, TAG: tag },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child ${tag} exited ${code}: ${stderr}`))));
    });
  await Promise.all(['a', 'b', 'c', 'd'].map(run));
  const parsed = (await lines(file)) as Array<{ text: string }>;
  assert.equal(parsed.length, 100);
  const ids = new Set(parsed.map((line) => line.text.split(':').slice(0, 2).join(':')));
  assert.equal(ids.size, 100);
});
