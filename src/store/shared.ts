import type { EphemeralStore, SlotResult } from './ephemeral.ts';
import { StoreUnavailableError } from './ephemeral.ts';
import type { StoreEvents } from './events.ts';

/**
 * The embedded ephemeral store shared by the worker processes of `serve --workers N` (one host,
 * one port, node:cluster). The primary process holds the one MemoryStore; workers call it over the
 * cluster's IPC channel. Every operation is still one synchronous step of that MemoryStore in one
 * process, so atomic increments, compare-and-delete, take-slot and TTLs behave exactly as with a
 * single process — nothing is replicated, nothing is written to disk (pending logins hold upstream
 * session cookies, which stay in memory as before). The cost is one IPC round trip per store call;
 * the hot path (a signed-in request) reads its session record from the worker's own cache, kept
 * exact by the events below.
 *
 * Events (the session cache invalidations of src/session/sessions.ts): a worker's `publish` is
 * relayed by the primary to every other worker, and resolves only once each of them has handled the
 * message (or has gone). So when a logout or a revocation answers, no worker still holds the session
 * in its cache: no time bound is relied upon, unlike Redis pub/sub.
 */

/** A message channel between the primary and one worker (cluster IPC, a child process, a MessagePort). */
export interface IpcPort {
  send(message: SharedMessage): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the other side has gone (the channel is closed). */
  onClose(listener: () => void): void;
}

export type StoreOperation = Exclude<keyof EphemeralStore, 'close'>;

const OPERATIONS: ReadonlySet<string> = new Set<StoreOperation>([
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

function isShared(message: unknown): message is SharedMessage {
  return typeof message === 'object' && message !== null && typeof (message as { spg?: unknown }).spg === 'string' && typeof (message as { id?: unknown }).id === 'number';
}

/** How long a relayed event waits for a worker's acknowledgement before that worker is given up on. */
const EVENT_ACK_MS = 2_000;

/**
 * The primary's side: serves the store to every attached worker and relays events between them.
 */
export class StoreHost {
  private readonly ports = new Set<IpcPort>();
  private nextRelay = 1;
  private readonly relays = new Map<number, { waiting: Set<IpcPort>; done: () => void; timer: NodeJS.Timeout }>();

  constructor(private readonly store: EphemeralStore) {}

  attach(port: IpcPort): void {
    this.ports.add(port);
    port.onMessage((message) => {
      if (isShared(message)) this.receive(port, message);
    });
    port.onClose(() => this.detach(port));
  }

  private detach(port: IpcPort): void {
    this.ports.delete(port);
    for (const [id, relay] of this.relays) {
      relay.waiting.delete(port);
      if (relay.waiting.size === 0) this.finishRelay(id);
    }
  }

  private receive(port: IpcPort, message: SharedMessage): void {
    switch (message.spg) {
      case 'call':
        this.call(port, message.id, message.op, message.args);
        return;
      case 'publish':
        this.relay(port, message.id, message.channel, message.message);
        return;
      case 'ack': {
        const relay = this.relays.get(message.id);
        if (!relay) return;
        relay.waiting.delete(port);
        if (relay.waiting.size === 0) this.finishRelay(message.id);
        return;
      }
      default:
        return;
    }
  }

  private call(port: IpcPort, id: number, op: StoreOperation, args: readonly unknown[]): void {
    const reply = (value: unknown, error?: string): void => {
      try {
        port.send(error === undefined ? { spg: 'reply', id, value } : { spg: 'reply', id, error });
      } catch {
        // The worker has gone; its pending calls die with it.
      }
    };
    if (!OPERATIONS.has(op) || !Array.isArray(args)) {
      reply(undefined, `unknown store operation ${String(op)}`);
      return;
    }
    let result: Promise<unknown>;
    try {
      result = (this.store[op] as (...a: unknown[]) => Promise<unknown>).apply(this.store, args as unknown[]);
    } catch (error) {
      reply(undefined, String((error as Error | null)?.message ?? error));
      return;
    }
    result.then(
      (value) => reply(value === undefined ? null : value),
      (error: unknown) => reply(undefined, String((error as Error | null)?.message ?? error)),
    );
  }

  /** Sends the event to every other worker; the publisher hears back once all have handled it. */
  private relay(from: IpcPort, id: number, channel: string, message: string): void {
    const relayId = this.nextRelay++;
    const waiting = new Set<IpcPort>();
    for (const port of this.ports) {
      if (port === from) continue;
      try {
        port.send({ spg: 'event', id: relayId, channel, message });
        waiting.add(port);
      } catch {
        // A worker that cannot be reached has no cache left to invalidate.
      }
    }
    const done = (): void => {
      try {
        from.send({ spg: 'reply', id, value: null });
      } catch {
        // The publisher has gone.
      }
    };
    if (waiting.size === 0) {
      done();
      return;
    }
    const timer = setTimeout(() => this.finishRelay(relayId), EVENT_ACK_MS);
    timer.unref();
    this.relays.set(relayId, { waiting, done, timer });
  }

  private finishRelay(id: number): void {
    const relay = this.relays.get(id);
    if (!relay) return;
    this.relays.delete(id);
    clearTimeout(relay.timer);
    relay.done();
  }

  async close(): Promise<void> {
    for (const id of [...this.relays.keys()]) this.finishRelay(id);
    await this.store.close();
  }
}

/** How long a worker waits for the primary's answer before the call fails closed (503). */
const CALL_TIMEOUT_MS = 5_000;

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly op: string;
  readonly deadline: number;
}

/**
 * A worker's side: the EphemeralStore and StoreEvents of the primary's store. When the primary
 * cannot answer (gone, or not within CALL_TIMEOUT_MS) a call throws StoreUnavailableError, so the
 * enforcement point fails closed like with an unreachable Redis.
 */
export class SharedStoreClient implements EphemeralStore, StoreEvents {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Array<(message: string) => void>>();
  private readonly liveness: Array<(live: boolean) => void> = [];
  private connected = true;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly port: IpcPort) {
    port.onMessage((message) => {
      if (isShared(message)) this.receive(message);
    });
    port.onClose(() => this.disconnected());
    // One timer sweeps overdue calls, rather than a timer per call on the hot path.
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
  }

  private receive(message: SharedMessage): void {
    if (message.spg === 'reply') {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) pending.reject(new StoreUnavailableError(`shared store ${pending.op}: ${message.error}`));
      else pending.resolve(message.value);
      return;
    }
    if (message.spg === 'event') {
      for (const listener of this.listeners.get(message.channel) ?? []) {
        try {
          listener(message.message);
        } catch {
          // A listener's failure must not keep the publisher waiting.
        }
      }
      this.trySend({ spg: 'ack', id: message.id });
    }
  }

  private trySend(message: SharedMessage): boolean {
    if (!this.connected) return false;
    try {
      this.port.send(message);
      return true;
    } catch {
      return false;
    }
  }

  private sweep(): void {
    // Monotonic time for an IPC call timeout (a property of the process, not of the domain): not the injected clock.
    const now = performance.now();
    for (const [id, pending] of this.pending) {
      if (pending.deadline > now) continue;
      this.pending.delete(id);
      pending.reject(new StoreUnavailableError(`shared store ${pending.op}: the primary process did not answer within ${CALL_TIMEOUT_MS} ms`));
    }
  }

  private disconnected(): void {
    if (!this.connected) return;
    this.connected = false;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(new StoreUnavailableError(`shared store ${pending.op}: the primary process has gone`));
    }
    for (const onLive of this.liveness) onLive(false);
  }

  private request<T>(message: (id: number) => SharedMessage, op: string): Promise<T> {
    if (!this.connected) return Promise.reject(new StoreUnavailableError(`shared store ${op}: the primary process has gone`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, op, deadline: performance.now() + CALL_TIMEOUT_MS });
      if (!this.trySend(message(id))) {
        this.pending.delete(id);
        reject(new StoreUnavailableError(`shared store ${op}: the primary process cannot be reached`));
      }
    });
  }

  private call<T>(op: StoreOperation, ...args: unknown[]): Promise<T> {
    return this.request<T>((id) => ({ spg: 'call', id, op, args }), op);
  }

  get(key: string): Promise<string | null> {
    return this.call('get', key);
  }

  getMany(keys: readonly string[]): Promise<Array<string | null>> {
    return this.call('getMany', keys);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.call('set', key, value, ttlMs);
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.call('setIfAbsent', key, value, ttlMs);
  }

  setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.call('setIfPresent', key, value, ttlMs);
  }

  getOrSet(key: string, value: string, ttlMs: number): Promise<string> {
    return this.call('getOrSet', key, value, ttlMs);
  }

  delete(key: string): Promise<boolean> {
    return this.call('delete', key);
  }

  compareAndDelete(key: string, expected: string): Promise<boolean> {
    return this.call('compareAndDelete', key, expected);
  }

  increment(key: string, by: number, ttlMs: number, expiry: 'fixed' | 'sliding' = 'fixed'): Promise<number> {
    return this.call('increment', key, by, ttlMs, expiry);
  }

  decrementIfPresent(key: string): Promise<number> {
    return this.call('decrementIfPresent', key);
  }

  takeSlot(key: string, max: number, windowMs: number): Promise<SlotResult> {
    return this.call('takeSlot', key, max, windowMs);
  }

  async addMember(key: string, member: string, value: string, ttlMs: number): Promise<void> {
    await this.call('addMember', key, member, value, ttlMs);
  }

  members(key: string): Promise<Record<string, string>> {
    return this.call('members', key);
  }

  removeMember(key: string, member: string): Promise<boolean> {
    return this.call('removeMember', key, member);
  }

  ttl(key: string): Promise<number | null> {
    return this.call('ttl', key);
  }

  async ping(): Promise<void> {
    await this.call('ping');
  }

  // StoreEvents: the primary relays to the other workers and answers once they have all handled it.

  async publish(channel: string, message: string): Promise<void> {
    await this.request((id) => ({ spg: 'publish', id, channel, message }), 'publish');
  }

  subscribe(channel: string, listener: (message: string) => void, onLive: (live: boolean) => void): void {
    const list = this.listeners.get(channel) ?? [];
    list.push(listener);
    this.listeners.set(channel, list);
    this.liveness.push(onLive);
    // IPC delivers every message in order while connected: live from the start.
    onLive(this.connected);
  }

  /** The primary owns the store: closing a worker's side only stops it from asking. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.disconnected();
  }
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
