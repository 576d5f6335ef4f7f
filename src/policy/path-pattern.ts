/**
 * Path patterns of policy rules, checked and canonicalised the way request paths are
 * (proxy/canonical-target.ts), so a pattern can only ever be compared with what is forwarded.
 *
 *   /literal        one segment, compared exactly (lower-cased when the policy is case-insensitive)
 *   /:name          one non-empty segment, captured as params.name
 *   /*              one non-empty segment
 *   /report-*.csv   one segment matched by a glob ('*' = any characters within the segment)
 *   /prefix/**      zero or more segments; only as the last segment
 *
 * A trailing '/' is insignificant in patterns as in requests.
 */
import { canonicaliseTarget } from '../proxy/canonical-target.ts';

type PatternSegment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'glob'; readonly source: string; readonly regexp: RegExp }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'globstar' };

export interface PathPattern {
  /** The pattern as written. */
  readonly text: string;
  readonly segments: readonly PatternSegment[];
}

interface PatternOptions {
  readonly caseSensitive: boolean;
  readonly pathParameters: 'reject' | 'allow';
}

type PatternResult = { ok: true; pattern: PathPattern } | { ok: false; message: string };

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REGEXP_SPECIAL = /[.*+?^${}()|[\]\\/-]/g;

/** The sidecar's own routes; the policy never decides on them, so rules may not pretend to. */
const RESERVED_PREFIX_SEGMENT = '_guard';

export function compilePathPattern(text: string, options: PatternOptions): PatternResult {
  const fail = (message: string): PatternResult => ({ ok: false, message });
  if (!text.startsWith('/')) return fail(`must start with "/" (got ${JSON.stringify(text)})`);
  if (text.includes('?') || text.includes('#')) {
    return fail(`must not contain "?" or "#": only the path is matched, never the query (got ${JSON.stringify(text)})`);
  }
  if (text.includes('\\')) return fail(`must not contain a backslash (got ${JSON.stringify(text)})`);
  if (/%2f|%5c/i.test(text)) return fail(`must not contain an encoded slash or backslash (got ${JSON.stringify(text)})`);
  if (text.includes('//')) return fail(`must not contain an empty segment "//" (got ${JSON.stringify(text)})`);
  const rawSegments = text.split('/').slice(1);
  if (rawSegments.some((s) => s === '.' || s === '..')) {
    return fail(`must not contain "." or ".." segments; write the path they stand for (got ${JSON.stringify(text)})`);
  }
  const canonical = canonicaliseTarget(text, { pathParameters: 'allow' });
  if (!canonical.ok) return fail(`is not a canonical path: ${canonical.reason} (got ${JSON.stringify(text)})`);
  if (options.pathParameters === 'reject' && canonical.target.path.includes(';')) {
    return fail(
      `contains ";" but settings.path_parameters is reject, so requests with ";" are refused and this can never match (got ${JSON.stringify(text)})`,
    );
  }

  const parts = canonical.target.path.split('/').slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop(); // trailing '/' and the root '/'
  const segments: PatternSegment[] = [];
  const names = new Set<string>();
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === '**') {
      if (i !== parts.length - 1) {
        return fail(`may use "**" only as the last segment, e.g. /static/** (got ${JSON.stringify(text)})`);
      }
      segments.push({ kind: 'globstar' });
    } else if (part.includes('**')) {
      return fail(`may use "**" only as a whole segment; use "*" within a segment (got ${JSON.stringify(text)})`);
    } else if (part === '*') {
      segments.push({ kind: 'wildcard' });
    } else if (part.startsWith(':')) {
      const name = part.slice(1);
      if (!PARAM_NAME.test(name) || name === '__proto__') {
        return fail(`has an invalid parameter name ${JSON.stringify(part)}: use letters, digits and "_" after ":" (got ${JSON.stringify(text)})`);
      }
      if (names.has(name)) return fail(`uses the parameter ":${name}" twice (got ${JSON.stringify(text)})`);
      names.add(name);
      segments.push({ kind: 'param', name });
    } else if (part.includes('*')) {
      const source = options.caseSensitive ? part : part.toLowerCase();
      const body = source
        .split('*')
        .map((literal) => literal.replace(REGEXP_SPECIAL, '\\$&'))
        .join('.*');
      segments.push({ kind: 'glob', source, regexp: new RegExp(`^${body}$`) });
    } else {
      segments.push({ kind: 'literal', value: options.caseSensitive ? part : part.toLowerCase() });
    }
  }

  const first = segments[0];
  const reserved =
    (first?.kind === 'literal' && first.value.toLowerCase() === RESERVED_PREFIX_SEGMENT) ||
    (first?.kind === 'glob' && first.regexp.test(options.caseSensitive ? RESERVED_PREFIX_SEGMENT : RESERVED_PREFIX_SEGMENT.toLowerCase()));
  if (reserved) {
    return fail(`must not match under /${RESERVED_PREFIX_SEGMENT}/: those are the sidecar's own routes and are not decided by the policy (got ${JSON.stringify(text)})`);
  }
  return { ok: true, pattern: { text, segments } };
}
