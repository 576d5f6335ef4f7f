import type { DurableStore } from '../store/durable.ts';
import type { AlertContacts, AlertDispatcher } from './dispatcher.ts';

/** A member of the watched object as it is, its methods bound to it (so its private fields keep working). */
function boundMember(target: object, property: string | symbol): unknown {
  const value: unknown = Reflect.get(target, property, target);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

/**
 * The directory as the flows see it: every address it gives for an account is also handed to the
 * alerts (rememberEmail), for the alerts sent when no session of the user is there to read it.
 */
export function watchContacts<T extends AlertContacts>(contacts: T, alerts: AlertDispatcher): T {
  return new Proxy(contacts, {
    get(target, property) {
      if (property === 'of') {
        return async (user: string, context: { upstreamCookies: Record<string, string> }) => {
          const result = await target.of(user, context);
          if (result.ok && result.email !== null) alerts.rememberEmail(user, result.email);
          return result;
        };
      }
      return boundMember(target, property);
    },
  });
}

/**
 * The durable store as the flows that change factors see it: before a destination change or a
 * turn-off, the enrollment as it was is handed to the dispatcher (rememberPrevious). Everything
 * else goes straight to the store (methods bound to it, so its private fields keep working).
 */
export function watchDurable<T extends Pick<DurableStore, 'getEnrollment' | 'disable' | 'setDestination'>>(durable: T, alerts: AlertDispatcher): T {
  const before = async (user: string): Promise<void> => {
    try {
      alerts.rememberPrevious(user, await durable.getEnrollment(user));
    } catch {
      // The change goes on; its alert then reaches the account's email only.
    }
  };
  return new Proxy(durable, {
    get(target, property, _receiver) {
      if (property === 'disable') {
        return async (user: string) => {
          await before(user);
          return target.disable(user);
        };
      }
      if (property === 'setDestination') {
        return async (user: string, destination: string, now: number) => {
          await before(user);
          return target.setDestination(user, destination, now);
        };
      }
      return boundMember(target, property);
    },
  });
}
