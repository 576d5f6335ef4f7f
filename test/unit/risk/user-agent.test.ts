import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUserAgentFamily, userAgentFamily } from '../../../src/risk/user-agent.ts';

const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  chromeWindowsUpdated: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.60 Safari/537.36',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  safariIpad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  firefoxMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0',
  firefoxIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15',
  edgeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51',
  edgeAndroid: 'Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36 EdgA/124.0.2478.62',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  chromeIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1',
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  chromeOs: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  opera: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0',
  curl: 'curl/8.5.0',
  python: 'python-requests/2.31.0',
};

test('userAgentFamily: browser and OS families of real user agents', () => {
  const cases: Array<[string, string]> = [
    [UA.chromeWindows, 'chrome on windows'],
    [UA.safariIphone, 'safari on ios'],
    [UA.safariIpad, 'safari on ios'],
    [UA.safariMac, 'safari on macos'],
    [UA.firefoxLinux, 'firefox on linux'],
    [UA.firefoxMac, 'firefox on macos'],
    [UA.firefoxIphone, 'firefox on ios'],
    [UA.edgeWindows, 'edge on windows'],
    [UA.edgeAndroid, 'edge on android'],
    [UA.chromeAndroid, 'chrome on android'],
    [UA.chromeIphone, 'chrome on ios'],
    [UA.chromeLinux, 'chrome on linux'],
    [UA.chromeOs, 'chrome on other'],
    [UA.opera, 'other on windows'],
    [UA.curl, 'curl on other'],
    [UA.python, 'other on other'],
    ['', 'other on other'],
  ];
  for (const [ua, family] of cases) assert.equal(formatUserAgentFamily(userAgentFamily(ua)), family, ua);
  assert.deepEqual(userAgentFamily(UA.edgeWindows), { browser: 'edge', os: 'windows' });
});

test('userAgentFamily is coarse: a browser update is the same family, another browser is not', () => {
  assert.deepEqual(userAgentFamily(UA.chromeWindowsUpdated), userAgentFamily(UA.chromeWindows));
  assert.deepEqual(userAgentFamily(UA.safariIphone.replace('17_4', '18_0').replace('17.4', '18.0')), userAgentFamily(UA.safariIphone));
  assert.notDeepEqual(userAgentFamily(UA.edgeWindows), userAgentFamily(UA.chromeWindows));
  assert.notDeepEqual(userAgentFamily(UA.chromeLinux), userAgentFamily(UA.chromeWindows));
});
