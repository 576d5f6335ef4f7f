import type { EphemeralStore } from './ephemeral.ts';
import { isShared, OPERATIONS, type IpcPort, type SharedMessage, type StoreOperation } from './shared-ipc.ts';

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
