import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './redis-connection.ts';

/**
 * Messages between the replicas of one deployment. Replicas keep small local caches on the hot
 * path (verified session records); a replica that changes or ends a session tells the others, so
 * their caches drop it at once instead of waiting for the cache's time bound.
 *
 * Delivery is best effort (Redis pub/sub does not queue for a subscriber that is away), so a cache
 * that relies on it must (a) bound the age of every entry anyway and (b) stop caching while the
 * subscription is down and start empty once it is back: `onLive(false)` / `onLive(true)`.
 */
export interface StoreEvents {
  publish(channel: string, message: string): Promise<void>;
  /**
   * Delivers every message of `channel` to `listener`. `onLive(true)` is called once the channel is
   * subscribed and after every re-subscription, `onLive(false)` each time messages may be missed.
   */
  subscribe(channel: string, listener: (message: string) => void, onLive: (live: boolean) => void): void;
  close(): Promise<void>;
}

/** Redis pub/sub: publishing on the store's own connection, listening on a dedicated one. */
export class RedisEvents implements StoreEvents {
  private readonly subscriber: RedisClient;
  private readonly listeners = new Map<string, Array<(message: string) => void>>();
  private readonly liveness: Array<(live: boolean) => void> = [];
  private live = false;
  private closed = false;

  constructor(
    private readonly publisher: RedisClient,
    private readonly prefix: string,
  ) {
    // Subscriptions are made again by hand on every 'ready', so the moment they are in place is
    // known (ioredis' own re-subscription gives no signal when it is done).
    this.subscriber =
      isCluster(publisher)
        ? publisher.duplicate()
        : (publisher as Redis).duplicate({ autoResubscribe: false, enableOfflineQueue: true, lazyConnect: false });
    this.subscriber.on('error', () => {
      // Reconnection errors are reported by the main connection; this one only needs to come back.
    });
    this.subscriber.on('ready', () => void this.resubscribe());
    this.subscriber.on('close', () => this.setLive(false));
    this.subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(message);
    });
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.publisher.publish(this.prefix + channel, message);
  }

  subscribe(channel: string, listener: (message: string) => void, onLive: (live: boolean) => void): void {
    const name = this.prefix + channel;
    const list = this.listeners.get(name) ?? [];
    list.push(listener);
    this.listeners.set(name, list);
    this.liveness.push(onLive);
    if (this.subscriber.status !== 'ready') return; // 'ready' subscribes every channel
    this.subscriber.subscribe(name).then(
      () => (this.live ? onLive(true) : this.setLive(true)),
      () => this.setLive(false),
    );
  }

  private async resubscribe(): Promise<void> {
    const channels = [...this.listeners.keys()];
    if (channels.length === 0 || this.closed) return;
    try {
      await this.subscriber.subscribe(...channels);
      this.setLive(true);
    } catch {
      this.setLive(false);
    }
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    for (const onLive of this.liveness) onLive(live);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setLive(false);
    this.subscriber.disconnect();
  }
}
