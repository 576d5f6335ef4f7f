import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.ts';
import { cryptoRandom } from '../../../src/core/random.ts';
import { riskSchema } from '../../../src/config/schema/risk.ts';
import { signDeviceId } from '../../../src/risk/device.ts';
import { recordVerifiedLogin } from '../../../src/risk/gather.ts';
import { MemoryRiskHistory, type RiskHistoryStore } from '../../../src/risk/history.ts';
import { RiskService } from '../../../src/risk/service.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { memoryLogger } from '../../helpers/stack.ts';

const USER = 'merchant@example.com';
const KEY = Buffer.alloc(32, 7);
const DEVICE = 'device-one-0000000000';

function service(history: RiskHistoryStore, clock: ManualClock): RiskService {
  return new RiskService({
    config: riskSchema.parse({}),
    history,
    store: new MemoryStore(clock),
    clock,
    random: cryptoRandom,
    logger: memoryLogger().logger,
    deviceKeys: [KEY],
  });
}

const request = (clientAddress: string, deviceCookie?: string) => ({ user: USER, deviceCookie, clientAddress, userAgent: 'test' });

test('a sign-in\'s novelty read with its assessment is what `novelty` reads on its own', async () => {
  const clock = new ManualClock();
  const history = new MemoryRiskHistory();
  const risk = service(history, clock);
  const cookie = signDeviceId(KEY, DEVICE);
  // Nothing on record: the first sign-in, nothing "new" to tell the owner about.
  assert.deepEqual((await risk.assess(request('198.51.100.7', cookie))).novelty, { first_sign_in: true });
  assert.deepEqual(await risk.novelty(USER, cookie, '198.51.100.7'), { first_sign_in: true });
  await recordVerifiedLogin({ history, clock, user: USER, deviceId: DEVICE, clientAddress: '198.51.100.7', userAgent: 'test' });
  const cases: Array<[string, string | undefined, Record<string, boolean>]> = [
    ['198.51.100.99', cookie, { new_device: false, new_network: false }], // same /24, known device
    ['203.0.113.5', cookie, { new_device: false, new_network: true }],
    ['198.51.100.8', undefined, { new_device: true, new_network: false }],
    ['203.0.113.5', signDeviceId(Buffer.alloc(32, 9), DEVICE), { new_device: true, new_network: true }], // a cookie that does not verify
  ];
  for (const [address, deviceCookie, expected] of cases) {
    assert.deepEqual((await risk.assess(request(address, deviceCookie))).novelty, expected, `${address} ${deviceCookie ? 'with' : 'without'} a device cookie`);
    assert.deepEqual(await risk.novelty(USER, deviceCookie, address), expected);
  }
});

test('a history that cannot be read gives no novelty (no alert rather than a false one), the same both ways', async () => {
  const clock = new ManualClock();
  const boom = async (): Promise<never> => {
    throw new Error('store unreachable');
  };
  const broken: RiskHistoryStore = { knownDevice: boom, rememberDevice: boom, recentLogins: boom, recordLogin: boom };
  const risk = service(broken, clock);
  assert.deepEqual((await risk.assess(request('198.51.100.7', signDeviceId(KEY, DEVICE)))).novelty, {});
  assert.deepEqual(await risk.novelty(USER, signDeviceId(KEY, DEVICE), '198.51.100.7'), {});
});
