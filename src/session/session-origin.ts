import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../config/cidr.ts';

/**
 * How "My sessions" describes where a session was signed in from, without a GeoIP database: the
 * browser and operating system read coarsely from the User-Agent (a name and a major version, no
 * more), the network of the address (IPv4 /24, IPv6 /48), and, when the deployment names its own
 * networks (`session.networks`: CIDR → label, e.g. the office or the VPN), that name. Nothing here
 * guesses a city or a country.
 */

interface ClientDescription {
  /** e.g. "Chrome 120", "Firefox 121", "Safari 17"; null when the User-Agent says nothing known. */
  readonly browser: string | null;
  /** e.g. "Windows", "macOS", "Android", "iOS", "Linux"; null when unknown. */
  readonly os: string | null;
}

const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdgA?\/(\d+)/, 'Edge'],
  [/\bEdg(?:iOS)?\/(\d+)/, 'Edge'],
  [/\bOPR\/(\d+)/, 'Opera'],
  [/\bSamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/\bYaBrowser\/(\d+)/, 'Yandex Browser'],
  [/\bMicroMessenger\/(\d+)/, 'WeChat'],
  [/\bFirefox\/(\d+)/, 'Firefox'],
  [/\bFxiOS\/(\d+)/, 'Firefox'],
  [/\bCriOS\/(\d+)/, 'Chrome'],
  [/\bHeadlessChrome\/(\d+)/, 'Chrome'],
  [/\bChrom(?:e|ium)\/(\d+)/, 'Chrome'],
  [/\bVersion\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari\//, 'Safari'],
  [/\bcurl\/(\d+)/, 'curl'],
];

const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bWindows\b/, 'Windows'],
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

export function describeUserAgent(userAgent: string | undefined): ClientDescription {
  const ua = (userAgent ?? '').slice(0, 512);
  let browser: string | null = null;
  for (const [pattern, name] of BROWSERS) {
    const match = pattern.exec(ua);
    if (match) {
      browser = `${name} ${match[1] ?? ''}`.trim();
      break;
    }
  }
  const os = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1] ?? null;
  return { browser, os };
}

/** The network an address belongs to, as shown: `203.0.113.0/24`, `2001:db8:85a3::/48`; null when not an address. */
export function networkOf(address: string): string | null {
  const kind = isIP(address);
  if (kind === 4) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  if (kind === 6) {
    const groups = expandIpv6(address);
    if (!groups) return null;
    const mapped = groups.slice(0, 6).join(':') === '0:0:0:0:0:ffff';
    if (mapped) return networkOf(`${Number.parseInt(groups[6] ?? '0', 16) >> 8}.${Number.parseInt(groups[6] ?? '0', 16) & 255}.${Number.parseInt(groups[7] ?? '0', 16) >> 8}.0`);
    return `${groups.slice(0, 3).join(':')}::/48`;
  }
  return null;
}

/** The eight groups of an IPv6 address, without leading zeros (`2001:db8:0:…`); null when malformed. */
function expandIpv6(address: string): string[] | null {
  let text = address.split('%')[0] ?? '';
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array.from({ length: fill }, () => '0'), ...tail];
  if (groups.length !== 8) return null;
  return groups.map((g) => Number.parseInt(g || '0', 16).toString(16));
}

interface NamedNetwork {
  readonly cidr: string;
  readonly label: string;
}

/** The configured names of networks (`session.networks`); the first listed network that holds an address names it. */
export class NetworkLabels {
  private readonly lists: ReadonlyArray<{ readonly list: BlockList; readonly label: string }>;

  constructor(networks: readonly NamedNetwork[]) {
    this.lists = networks.map(({ cidr, label }) => {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new RangeError(`not a network in CIDR form: ${cidr}`);
      const list = new BlockList();
      list.addSubnet(parsed.address, parsed.prefix, parsed.family);
      return { list, label };
    });
  }

  label(address: string): string | null {
    const kind = isIP(address);
    if (kind === 0) return null;
    const family = kind === 4 ? 'ipv4' : 'ipv6';
    for (const { list, label } of this.lists) {
      if (list.check(address, family)) return label;
      // An IPv4 address also matches an IPv4-mapped IPv6 network and the other way round (BlockList does that for ipv6 checks).
      if (kind === 4 && list.check(`::ffff:${address}`, 'ipv6')) return label;
    }
    return null;
  }
}
