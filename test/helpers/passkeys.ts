import { MemoryAudit } from '../../src/audit/audit.ts';
import { PasskeyCeremonies, type RelyingParty } from '../../src/factors/passkey/ceremony.ts';
import { MemoryPasskeyStore } from '../../src/factors/passkey/store.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { cryptoRandom } from '../../src/core/random.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { memoryLogger } from './stack.ts';

export const ORIGIN = 'https://app.example.com';
export const RP: RelyingParty = { id: 'app.example.com', name: 'SmartPush', origins: [ORIGIN] };

/** The ceremonies over memory stores, with the audit and stores exposed for assertions. */
export function ceremonies() {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const audit = new MemoryAudit(() => clock.now());
  const store = new MemoryPasskeyStore();
  const ephemeral = new MemoryStore(clock);
  const passkeys = new PasskeyCeremonies({ store, ephemeral, clock, random: cryptoRandom, audit, logger: memoryLogger().logger });
  return { clock, audit, store, ephemeral, passkeys };
}
