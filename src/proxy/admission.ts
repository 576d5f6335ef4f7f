import { Counts } from '../core/counts.ts';

/**
 * Who may hold an upstream socket (THREATS T17). The keep-alive pool has `maxSockets` sockets;
 * requests without a full session may hold only `anonymousShare` of them, so anonymous clients
 * that trickle bodies or read slowly can never take the sockets signed-in traffic needs. One client
 * address may have at most `perAddress` proxied requests in flight or waiting. A request that finds
 * no free socket waits (signed-in requests first) up to `queueTimeoutMs`.
 */

type Traffic = 'signed_in' | 'anonymous';

interface AdmissionOptions {
  readonly maxSockets: number;
  readonly anonymousShare: number;
  readonly queueTimeoutMs: number;
  readonly perAddress: number;
}

export type Admission =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly reason: 'address_limit' | 'busy' | 'gone' };

interface Waiter {
  readonly traffic: Traffic;
  readonly grant: () => void;
}

export class UpstreamAdmission {
  private readonly anonymousLimit: number;
  private total = 0;
  private anonymous = 0;
  private readonly perAddress = new Counts();
  private readonly waiting: Record<Traffic, Waiter[]> = { signed_in: [], anonymous: [] };

  constructor(private readonly options: AdmissionOptions) {
    // A share that rounds to nothing would shut public routes; one socket is the least they get.
    this.anonymousLimit = Math.max(1, Math.floor(options.maxSockets * options.anonymousShare));
  }

  /** Sockets in use, for tests and metrics. */
  inUse(): { total: number; anonymous: number } {
    return { total: this.total, anonymous: this.anonymous };
  }

  private fits(traffic: Traffic): boolean {
    if (this.total >= this.options.maxSockets) return false;
    return traffic === 'signed_in' || this.anonymous < this.anonymousLimit;
  }

  private take(traffic: Traffic): void {
    this.total++;
    if (traffic === 'anonymous') this.anonymous++;
  }

  private give(traffic: Traffic): void {
    this.total--;
    if (traffic === 'anonymous') this.anonymous--;
    // Signed-in requests are served first: they are what the reservation is for.
    for (const kind of ['signed_in', 'anonymous'] as const) {
      const queue = this.waiting[kind];
      while (queue.length > 0 && this.fits(kind)) queue.shift()?.grant();
    }
  }

  /**
   * The answer when there is no need to wait (a place, or the address is over its cap); null when
   * the request would have to wait, which `acquire` then does. Keeps the common case synchronous.
   */
  tryAcquire(traffic: Traffic, addressKey: string): Admission | null {
    const held = this.perAddress.get(addressKey);
    if (held >= this.options.perAddress) return { ok: false, reason: 'address_limit' };
    if (!this.free(traffic)) return null;
    this.perAddress.add(addressKey);
    this.take(traffic);
    return this.admitted(traffic, addressKey);
  }

  /** A place can be taken now without jumping the queue (signed-in waiters go before anyone). */
  private free(traffic: Traffic): boolean {
    return this.fits(traffic) && this.waiting.signed_in.length === 0 && (traffic === 'signed_in' || this.waiting.anonymous.length === 0);
  }

  private dropAddress(addressKey: string): void {
    this.perAddress.remove(addressKey);
  }

  private admitted(traffic: Traffic, addressKey: string): Admission {
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.dropAddress(addressKey);
        this.give(traffic);
      },
    };
  }

  /**
   * A place for one proxied request, waiting for one if need be. `signal` aborts the wait (the
   * client went away). The caller must call `release()` once the response is over.
   */
  acquire(traffic: Traffic, addressKey: string, signal?: AbortSignal): Promise<Admission> {
    const now = this.tryAcquire(traffic, addressKey);
    if (now !== null) return Promise.resolve(now);
    this.perAddress.add(addressKey);
    let addressHeld = true;
    const dropAddress = (): void => {
      if (!addressHeld) return;
      addressHeld = false;
      this.dropAddress(addressKey);
    };
    return new Promise<Admission>((resolve) => {
      const queue = this.waiting[traffic];
      const leave = (reason: 'busy' | 'gone'): void => {
        const index = queue.indexOf(waiter);
        if (index === -1) return;
        queue.splice(index, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        dropAddress();
        resolve({ ok: false, reason });
      };
      const onAbort = (): void => leave('gone');
      const waiter: Waiter = {
        traffic,
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.take(traffic);
          addressHeld = false;
          resolve(this.admitted(traffic, addressKey));
        },
      };
      const timer = setTimeout(() => leave('busy'), this.options.queueTimeoutMs);
      timer.unref();
      queue.push(waiter);
      if (signal?.aborted) leave('gone');
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
