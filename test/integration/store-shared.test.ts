import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { runEphemeralStoreContract } from '../helpers/store-contract.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { SharedStoreClient } from '../../src/store/shared.ts';
import { childPort, type IpcPort } from '../../src/store/shared-ipc.ts';
import { StoreHost } from '../../src/store/shared-host.ts';
import { isStoreUnavailable } from '../../src/store/ephemeral.ts';
import { ManualClock } from '../../src/core/clock.ts';

/**
 * The shared ephemeral store of `serve --workers N` (src/store/shared.ts): the worker's client of
 * the primary's MemoryStore meets the same contract as every other backend, (1) over an in-process
 * message channel with the manual clock, (2) over a real IPC channel to another process, where
 * keys expire in real time.
 */

function portOf(port: MessagePort): IpcPort {
  const closers: Array<() => void> = [];
  port.once('close', () => closers.forEach((c) => c()));
  return {
    send: (message) => port.postMessage(message),
    onMessage: (listener) => void port.on('message', listener),
    onClose: (listener) => void closers.push(listener),
  };
}

function pair(host: StoreHost): { client: SharedStoreClient; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  host.attach(portOf(port1));
  const client = new SharedStoreClient(portOf(port2));
  return {
    client,
    close: () => {
      port1.close();
    },
  };
}

runEphemeralStoreContract('SharedStoreClient (message channel, manual clock)', async (clock) => {
  const host = new StoreHost(new MemoryStore(clock));
  const { client, close } = pair(host);
  return {
    store: client,
    cleanup: async () => {
      await client.close();
      close();
      await host.close();
    },
  };
});

runEphemeralStoreContract(
  'SharedStoreClient (IPC to another process, real time)',
  async () => {
    const child = fork(join(import.meta.dirname, '..', 'helpers', 'shared-store-host.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [ready] = (await once(child, 'message')) as [unknown];
    assert.deepEqual(ready, { ready: true });
    const client = new SharedStoreClient(childPort(child));
    return {
      store: client,
      cleanup: async () => {
        await client.close();
        const exited = once(child, 'exit');
        child.disconnect();
        await exited;
      },
    };
  },
  { realTime: true, unitMs: 200 },
);

test('a published event has reached every other worker when publish resolves; the publisher does not hear its own', async () => {
  const host = new StoreHost(new MemoryStore(new ManualClock()));
  const a = pair(host);
  const b = pair(host);
  const c = pair(host);
  const heard: string[] = [];
  const live: boolean[] = [];
  a.client.subscribe('sessions', (m) => heard.push(`a:${m}`), (l) => live.push(l));
  b.client.subscribe('sessions', (m) => heard.push(`b:${m}`), () => {});
  c.client.subscribe('sessions', (m) => heard.push(`c:${m}`), () => {});
  assert.deepEqual(live, [true], 'the channel is live from the start');
  await a.client.publish('sessions', 's:one');
  assert.deepEqual(heard.sort(), ['b:s:one', 'c:s:one']);
  // A worker that has gone is not waited for.
  c.close();
  await new Promise((r) => setImmediate(r));
  await b.client.publish('sessions', 'u:two');
  assert.deepEqual(heard.filter((h) => h.endsWith('u:two')), ['a:u:two']);
  for (const p of [a, b]) {
    await p.client.close();
    p.close();
  }
  await host.close();
});

test('the primary gone: every call fails closed with StoreUnavailableError, and the cache is told it is not live', async () => {
  const child = fork(join(import.meta.dirname, '..', 'helpers', 'shared-store-host.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await once(child, 'message');
  const client = new SharedStoreClient(childPort(child));
  const live: boolean[] = [];
  client.subscribe('sessions', () => {}, (l) => live.push(l));
  await client.set('k', 'v', 60_000);
  assert.equal(await client.get('k'), 'v');
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  await assert.rejects(client.get('k'), (error) => isStoreUnavailable(error));
  await assert.rejects(client.takeSlot('k', 3, 1000), (error) => isStoreUnavailable(error));
  assert.deepEqual(live, [true, false]);
  await client.close();
});
