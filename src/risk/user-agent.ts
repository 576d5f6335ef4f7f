/**
 * Pure helpers that reduce a User-Agent header to a coarse browser and OS family, so that a change
 * of browser can be told from a browser update. Nothing here does I/O.
 */

type BrowserFamily = 'chrome' | 'firefox' | 'safari' | 'edge' | 'curl' | 'other';
type OsFamily = 'windows' | 'macos' | 'ios' | 'android' | 'linux' | 'other';

interface UserAgentFamily {
  readonly browser: BrowserFamily;
  readonly os: OsFamily;
}

/**
 * First match wins. Order matters because user agents impersonate each other: Edge and Opera
 * claim to be Chrome, Chrome claims to be Safari, iOS claims to be "like Mac OS X", Android
 * claims to be Linux. Browsers the table does not name (Opera, Samsung Internet, …) are 'other'
 * rather than the engine they borrow, since switching to one of them is a change of browser.
 */
const BROWSERS: ReadonlyArray<readonly [BrowserFamily, readonly string[]]> = [
  ['curl', ['curl/']],
  ['edge', ['edg/', 'edge/', 'edga/', 'edgios/']],
  ['other', ['opr/', 'opera', 'samsungbrowser/', 'yabrowser/', 'vivaldi/']],
  ['firefox', ['firefox/', 'fxios/']],
  ['chrome', ['chrome/', 'crios/', 'chromium/']],
  ['safari', ['safari/']],
];

const OPERATING_SYSTEMS: ReadonlyArray<readonly [OsFamily, readonly string[]]> = [
  ['windows', ['windows']],
  ['ios', ['iphone', 'ipad', 'ipod']],
  ['android', ['android']],
  ['other', ['cros']],
  ['macos', ['macintosh', 'mac os x']],
  ['linux', ['linux', 'x11']],
];

function firstMatch<T extends string>(ua: string, table: ReadonlyArray<readonly [T, readonly string[]]>, fallback: T): T {
  for (const [family, needles] of table) {
    if (needles.some((needle) => ua.includes(needle))) return family;
  }
  return fallback;
}

/**
 * The browser and OS family of a User-Agent header. Deliberately coarse: versions, devices and
 * build details are ignored, so a browser update (Chrome/123 → Chrome/124) or a new OS release
 * does not look like a change of device; only a different browser or operating system does.
 * User agents are client-supplied and trivially forged, so this is a weak signal weighted as such.
 */
export function userAgentFamily(userAgent: string): UserAgentFamily {
  const ua = userAgent.toLowerCase();
  return { browser: firstMatch(ua, BROWSERS, 'other'), os: firstMatch(ua, OPERATING_SYSTEMS, 'other') };
}

/** `chrome on windows`: the family as one comparable, readable string. */
export function formatUserAgentFamily(family: UserAgentFamily): string {
  return `${family.browser} on ${family.os}`;
}
