/**
 * Query-aware policy: the canonical query a rule's `query:` conditions are decided on.
 *
 * The query is decoded once, exactly as the forwarded query string will be read by a form-decoding
 * app (`+` is a space, `%XX` a byte), and only when the policy names at least one parameter:
 * without `query:` conditions nothing here runs and every query passes as before.
 *
 * Parameter names are folded the way the most permissive common parser folds them (PHP: leading
 * spaces dropped, `.` and space become `_`; case follows `settings.case_sensitive`), so two spellings
 * an app would read as one parameter are one parameter here too. Anything that two parsers could
 * read differently for a parameter the policy consults is refused (400) rather than guessed:
 * the parameter given twice, its array form (`do[]=`, `do[admin]=`), a `;` separator, malformed or
 * double escapes, encoded separators and control characters.
 */

type QueryTest =
  | { readonly kind: 'present' }
  | { readonly kind: 'absent' }
  /** Folded values (see foldQueryValue); the request's value must be one of them. */
  | { readonly kind: 'values'; readonly values: ReadonlySet<string>; readonly shown: readonly string[] };

export interface QueryCondition {
  /** The folded parameter name (see foldQueryKey). */
  readonly key: string;
  /** The name as written in the policy, for messages. */
  readonly name: string;
  readonly test: QueryTest;
}

/** The consulted parameters of one request: folded name → folded value. */
export type CanonicalQuery = ReadonlyMap<string, string>;

export type QueryParseResult = { readonly ok: true; readonly query: CanonicalQuery } | { readonly ok: false; readonly reason: string };

interface QueryOptions {
  /** Folded names of every parameter some rule or intercept names. Empty: the query is not consulted. */
  readonly consulted: ReadonlySet<string>;
  readonly caseSensitive: boolean;
}

export const EMPTY_QUERY: CanonicalQuery = new Map();
const OK_EMPTY: QueryParseResult = Object.freeze({ ok: true, query: EMPTY_QUERY });

export function foldQueryKey(name: string, caseSensitive: boolean): string {
  const folded = name.replace(/^ +/, '').replace(/[. ]/g, '_');
  return caseSensitive ? folded : folded.toLowerCase();
}

export function foldQueryValue(value: string, caseSensitive: boolean): string {
  return caseSensitive ? value : value.toLowerCase();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** `+` → space and `%XX` → byte, once; null on a malformed escape or bytes that are not UTF-8. */
function decodeOnce(raw: string): string | null {
  if (!raw.includes('%')) return raw.replace(/\+/g, ' ');
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const h = raw.charCodeAt(i + 1);
      const l = raw.charCodeAt(i + 2);
      if (!isHex(h) || !isHex(l)) return null;
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 0x2b) {
      bytes.push(0x20);
    } else {
      // QUERY_SAFE (canonical-target.ts) has already limited the raw query to ASCII.
      bytes.push(c);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Characters that, once decoded, would split or re-encode the parameter for an app that decodes twice. */
const DECODED_SEPARATOR = /[&=;%#?]/;

const refuse = (reason: string): QueryParseResult => ({ ok: false, reason });

/** The canonical query of a raw query string (without '?'), for the parameters the policy consults. */
export function parseQuery(raw: string, options: QueryOptions): QueryParseResult {
  if (options.consulted.size === 0 || raw === '') return OK_EMPTY;
  if (raw.includes(';')) return refuse("';' in the query (some servers read it as a parameter separator)");
  if (/%00/.test(raw)) return refuse('encoded NUL (%00) in the query');
  const params = new Map<string, string>();
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const name = decodeOnce(rawKey);
    if (name === null) return refuse('malformed percent-escape or invalid UTF-8 in a query parameter name');
    if (CONTROL.test(name)) return refuse('control character in a query parameter name');
    if (DECODED_SEPARATOR.test(name)) return refuse('encoded separator (& = ; % # ?) in a query parameter name');
    const bracket = name.indexOf('[');
    if (bracket !== -1) {
      const base = foldQueryKey(name.slice(0, bracket), options.caseSensitive);
      if (options.consulted.has(base)) {
        return refuse(`the query parameter "${name.slice(0, bracket)}" is given in array form (${name}), which apps read differently`);
      }
      continue;
    }
    const key = foldQueryKey(name, options.caseSensitive);
    if (!options.consulted.has(key)) continue;
    if (params.has(key)) {
      return refuse(`the query gives the parameter "${name}" more than once, which apps read differently (first or last)`);
    }
    const value = decodeOnce(rawValue);
    if (value === null) return refuse(`malformed percent-escape or invalid UTF-8 in the query parameter "${name}"`);
    if (CONTROL.test(value)) return refuse(`control character in the query parameter "${name}"`);
    if (DECODED_SEPARATOR.test(value)) return refuse(`encoded separator (& = ; % # ?) in the query parameter "${name}"`);
    params.set(key, foldQueryValue(value, options.caseSensitive));
  }
  return { ok: true, query: params };
}

export function queryMatches(conditions: readonly QueryCondition[], query: CanonicalQuery): boolean {
  for (const condition of conditions) {
    const value = query.get(condition.key);
    switch (condition.test.kind) {
      case 'present':
        if (value === undefined) return false;
        break;
      case 'absent':
        if (value !== undefined) return false;
        break;
      case 'values':
        if (value === undefined || !condition.test.values.has(value)) return false;
        break;
    }
  }
  return true;
}

/** `do=login, action absent` — for explanations. */
export function describeConditions(conditions: readonly QueryCondition[]): string {
  return conditions
    .map((c) =>
      c.test.kind === 'present'
        ? `${c.name} present`
        : c.test.kind === 'absent'
          ? `${c.name} absent`
          : `${c.name}=${c.test.shown.join('|')}`,
    )
    .join(', ');
}
