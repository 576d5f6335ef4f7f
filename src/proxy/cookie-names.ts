/**
 * Cookie names as the upstream's framework may read them (THREATS T19). PHP url-decodes a cookie
 * name ('+' is a space), skips leading spaces and turns ' ', '.' and '[' into '_', keeping the
 * FIRST of several pairs with one name; ASP.NET and others ignore case. So `sp.session`,
 * `SP SESSION`, `sp[session` and `sp%5Fsession` are all `sp_session` to some upstream, and a
 * client's copy sent before the bound one would win.
 */

function urlDecode(name: string): string {
  if (!name.includes('%') && !name.includes('+')) return name;
  const spaced = name.replace(/\+/g, ' ');
  // PHP leaves an invalid escape as it is; decode each valid one on its own for the same effect.
  return spaced.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
  });
}

/** The name every one of those spellings folds to: decoded, leading spaces dropped, lower case, ' ', '.', '[' → '_'. */
export function foldCookieName(name: string): string {
  return urlDecode(name).replace(/^[\s]+/, '').trimEnd().toLowerCase().replace(/[ .[]/g, '_');
}

/** A predicate for "this client cookie name would be read as one of `names` by some upstream". */
export function cookieNameMatcher(names: readonly string[]): (name: string) => boolean {
  const folded = new Set(names.map(foldCookieName));
  return (name) => folded.has(foldCookieName(name));
}

/**
 * A cheap test for "this Cookie header may hold a spelling of one of `names`": false only when no
 * pair can fold to them (no '%', and no loose spelling of the name), so most headers skip parsing.
 */
export function mayMentionCookie(names: readonly string[]): (header: string) => boolean {
  const loose = names.map((name) =>
    [...foldCookieName(name)]
      .map((c) => (c === '_' ? '(?:[_ .[+]|%[0-9a-f]{2})' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join(''),
  );
  const pattern = new RegExp(loose.join('|'), 'i');
  return (header) => header.includes('%') || pattern.test(header);
}
