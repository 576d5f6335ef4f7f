// A process that holds a shared ephemeral store, as the primary of `serve --workers N` does
// (test/integration/store-shared.test.ts forks it and talks to it over IPC).
import { MemoryStore } from '../../src/store/memory.ts';
import { primaryPort } from '../../src/store/shared-ipc.ts';
import { StoreHost } from '../../src/store/shared-host.ts';
import { systemClock } from '../../src/core/clock.ts';

const host = new StoreHost(new MemoryStore(systemClock));
host.attach(primaryPort());
process.once('disconnect', () => process.exit(0));
process.send?.({ ready: true });
