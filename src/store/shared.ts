import type { EphemeralStore, SlotResult } from './ephemeral.ts';
import { StoreUnavailableError } from './ephemeral.ts';
import type { StoreEvents } from './events.ts';
import { isShared, type IpcPort, type SharedMessage, type StoreOperation } from './shared-ipc.ts';

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
 *
 * This file is the worker's side; the primary's is shared-host.ts, the messages shared-ipc.ts.
 */
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

  addMember(key: string, member: string, value: string, ttlMs: number): Promise<number> {
    return this.call('addMember', key, member, value, ttlMs);
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
