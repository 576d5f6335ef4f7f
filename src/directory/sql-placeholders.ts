/**
 * Rewrites the one named parameter a directory query may use, `:identifier`, into the driver's
 * placeholder. The identifier is always bound, never spliced into the text. Quoted strings, quoted
 * names and comments are skipped, and `::` (PostgreSQL casts) is not a parameter.
 */

type PlaceholderStyle = 'pg' | 'mysql';

interface BoundQuery {
  readonly text: string;
  /** How many times the identifier is bound (mysql binds once per `?`). */
  readonly occurrences: number;
}

const NAME = ':identifier';

export function bindIdentifier(query: string, style: PlaceholderStyle): BoundQuery {
  let out = '';
  let occurrences = 0;
  let i = 0;
  while (i < query.length) {
    const c = query[i] as string;
    const next = query[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < query.length) {
        if (query[j] === '\\' && style === 'mysql') j += 2;
        else if (query[j] === c && query[j + 1] === c) j += 2;
        else if (query[j] === c) break;
        else j += 1;
      }
      out += query.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' && next === '-') {
      const end = query.indexOf('\n', i);
      const j = end === -1 ? query.length : end;
      out += query.slice(i, j);
      i = j;
    } else if (c === '/' && next === '*') {
      const end = query.indexOf('*/', i + 2);
      const j = end === -1 ? query.length : end + 2;
      out += query.slice(i, j);
      i = j;
    } else if (c === ':' && next === ':') {
      out += '::';
      i += 2;
    } else if (query.startsWith(NAME, i) && !/[A-Za-z0-9_]/.test(query[i + NAME.length] ?? '')) {
      occurrences += 1;
      out += style === 'pg' ? '$1' : '?';
      i += NAME.length;
    } else {
      out += c;
      i += 1;
    }
  }
  return { text: out, occurrences };
}
