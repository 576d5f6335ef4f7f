import type { EphemeralStore } from './ephemeral.ts';

/* The messages between the cluster primary's store (shared-host.ts) and the workers (shared.ts), and their channels. */

/** A message channel between the primary and one worker (cluster IPC, a child process, a MessagePort). */
export interface IpcPort {
  send(message: SharedMessage): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the other side has gone (the channel is closed). */
  onClose(listener: () => void): void;
}

export type StoreOperation = Exclude<keyof EphemeralStore, 'close'>;

export const OPERATIONS: ReadonlySet<string> = new Set<StoreOperation>([
  'get',
  'getMany',
  'set',
  'setIfAbsent',
  'setIfPresent',
  'getOrSet',
  'delete',
  'compareAndDelete',
  'increment',
  'decrementIfPresent',
  'takeSlot',
  'addMember',
  'members',
  'removeMember',
  'ttl',
  'ping',
]);

/** Messages are tagged `spg`, so they never meet other users of the channel (prom-client's cluster metrics). */
export type SharedMessage =
  | { readonly spg: 'call'; readonly id: number; readonly op: StoreOperation; readonly args: readonly unknown[] }
  | { readonly spg: 'publish'; readonly id: number; readonly channel: string; readonly message: string }
  | { readonly spg: 'reply'; readonly id: number; readonly value?: unknown; readonly error?: string }
  | { readonly spg: 'event'; readonly id: number; readonly channel: string; readonly message: string }
  | { readonly spg: 'ack'; readonly id: number };

export function isShared(message: unknown): message is SharedMessage {
  return typeof message === 'object' && message !== null && typeof (message as { spg?: unknown }).spg === 'string' && typeof (message as { id?: unknown }).id === 'number';
}

/** The worker's own channel to the cluster primary (`process.send`). */
export function primaryPort(proc: NodeJS.Process = process): IpcPort {
  return {
    send: (message) => {
      if (!proc.send || !proc.connected) throw new Error('no IPC channel');
      // With a callback a closed channel is reported to it, not as an 'error' event of the process.
      proc.send(message, undefined, undefined, ignoreSendError);
    },
    onMessage: (listener) => void proc.on('message', listener),
    onClose: (listener) => void proc.once('disconnect', listener),
  };
}

/** The primary's channel to one child (a cluster Worker or a forked ChildProcess). */
export function childPort(child: {
  send(message: unknown, callback: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  once(event: 'disconnect' | 'exit', listener: () => void): unknown;
}): IpcPort {
  let closed = false;
  const closeListeners: Array<() => void> = [];
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const listener of closeListeners) listener();
  };
  child.once('disconnect', close);
  child.once('exit', close);
  return {
    send: (message) => {
      if (closed) throw new Error('the worker has gone');
      child.send(message, ignoreSendError);
    },
    onMessage: (listener) => void child.on('message', listener),
    onClose: (listener) => void closeListeners.push(listener),
  };
}

/** A message that could not be sent: the channel closed meanwhile, and its close listener handles that. */
function ignoreSendError(): void {}
