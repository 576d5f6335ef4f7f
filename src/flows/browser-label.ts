/** A coarse "Browser on OS" from a User-Agent (never the full string: the list shows it). */
export function browserLabel(userAgent: string): string {
  const ua = userAgent;
  const browser = /Edg(e|A|iOS)?\//.test(ua)
    ? 'Edge'
    : /OPR\/|Opera/.test(ua)
      ? 'Opera'
      : /Firefox\/|FxiOS\//.test(ua)
        ? 'Firefox'
        : /Chrome\/|CriOS\/|Chromium\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : null;
  const os = /iPhone|iPad|iPod/.test(ua)
    ? 'iOS'
    : /Android/.test(ua)
      ? 'Android'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : null;
  if (browser === null && os === null) return UNKNOWN_BROWSER;
  return `${browser ?? UNKNOWN_BROWSER} on ${os ?? UNKNOWN_SYSTEM}`;
}

const UNKNOWN_BROWSER = 'Unknown browser';
const UNKNOWN_SYSTEM = 'unknown system';

/**
 * The browser and system a stored label names (null where it says unknown), so a page can say it in
 * its own language; labels are stored in the English form above.
 */
export function browserLabelParts(label: string): { browser: string | null; os: string | null } {
  const at = label.lastIndexOf(' on ');
  const browser = at < 0 ? label : label.slice(0, at);
  const os = at < 0 ? null : label.slice(at + 4);
  return { browser: browser === UNKNOWN_BROWSER ? null : browser, os: os === UNKNOWN_SYSTEM ? null : os };
}
