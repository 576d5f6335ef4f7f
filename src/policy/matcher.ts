/**
 * The compiled policy's matcher: a segment trie, so its cost follows the depth of the path and the
 * number of patterns that can actually match, not the number of rules. First-match semantics are
 * kept by collecting every candidate and keeping the lowest rule index; subtrees whose lowest index
 * cannot beat the best candidate so far are skipped.
 */
import { EMPTY_QUERY, parseQuery, queryMatches } from './query.ts';
import type { CanonicalQuery, QueryCondition } from './query.ts';
import type { PathPattern } from './path-pattern.ts';
import { hostMatches } from '../proxy/host.ts';
import type { RequireTwoFactorSpec } from './require-two-factor.ts';
import type { RememberBrowserPolicySpec } from './remember-browser-policy.ts';
import type { CompiledPolicy, CompiledRule, PolicyMatch, PolicySettings } from './types.ts';

export const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

export interface Capture {
  /** Segment position in the pattern (0 = first segment after the leading '/'). */
  readonly position: number;
  readonly name: string;
}

export interface Entry {
  readonly index: number;
  readonly rule: CompiledRule;
  readonly methods: ReadonlySet<string> | null;
  readonly hostExact: ReadonlySet<string> | null;
  /** '.example.com' for '*.example.com'. */
  readonly hostSuffixes: readonly string[] | null;
  readonly captures: readonly Capture[] | null;
  readonly query: readonly QueryCondition[] | null;
  /** The match to return when there are no captures (no allocation per request). */
  readonly fixedMatch: PolicyMatch | null;
  /** For a sensitive rule with `methods:`: what any other method on its paths gets (deny). */
  readonly otherMethods: PolicyMatch | null;
}

interface GlobEdge {
  readonly source: string;
  readonly regexp: RegExp;
  readonly node: TrieNode;
}

interface TrieNode {
  literal: Map<string, TrieNode> | null;
  globs: GlobEdge[] | null;
  /** ':param' and '*' (one non-empty segment). */
  any: TrieNode | null;
  /** Patterns that end at this node. */
  exact: Entry[] | null;
  /** Patterns that end with '/**' at this node: zero or more further segments. */
  rest: Entry[] | null;
  /** Lowest rule index anywhere in this subtree (for pruning). */
  minIndex: number;
}

export const newNode = (): TrieNode => ({ literal: null, globs: null, any: null, exact: null, rest: null, minIndex: Infinity });

export function insert(root: TrieNode, pattern: PathPattern, makeEntry: (captures: readonly Capture[] | null) => Entry): void {
  let node = root;
  const captures: Capture[] = [];
  for (let i = 0; i < pattern.segments.length; i++) {
    const segment = pattern.segments[i]!;
    switch (segment.kind) {
      case 'literal': {
        node.literal ??= new Map();
        let child = node.literal.get(segment.value);
        if (!child) node.literal.set(segment.value, (child = newNode()));
        node = child;
        break;
      }
      case 'glob': {
        node.globs ??= [];
        let edge = node.globs.find((g) => g.source === segment.source);
        if (!edge) node.globs.push((edge = { source: segment.source, regexp: segment.regexp, node: newNode() }));
        node = edge.node;
        break;
      }
      case 'param':
        captures.push({ position: i, name: segment.name });
        node.any ??= newNode();
        node = node.any;
        break;
      case 'wildcard':
        node.any ??= newNode();
        node = node.any;
        break;
      case 'globstar': {
        // only ever the last segment (checked by compilePathPattern)
        (node.rest ??= []).push(makeEntry(captures.length > 0 ? captures : null));
        return;
      }
    }
  }
  (node.exact ??= []).push(makeEntry(captures.length > 0 ? captures : null));
}

export function computeMinIndex(node: TrieNode): number {
  let min = Infinity;
  // Entries are inserted in rule order, so the first of each list is its lowest index.
  if (node.exact) min = Math.min(min, node.exact[0]!.index);
  if (node.rest) min = Math.min(min, node.rest[0]!.index);
  if (node.literal) for (const child of node.literal.values()) min = Math.min(min, computeMinIndex(child));
  if (node.globs) for (const edge of node.globs) min = Math.min(min, computeMinIndex(edge.node));
  if (node.any) min = Math.min(min, computeMinIndex(node.any));
  node.minIndex = min;
  return min;
}

/** Scratch state of one match() call; match() is synchronous, so one per policy suffices. */
interface Search {
  segments: string[];
  end: number;
  method: string;
  host: string | undefined;
  query: CanonicalQuery;
  bestIndex: number;
  best: Entry | null;
  /** The best entry matched through its otherMethods (the method is not one it lists). */
  bestIsOther: boolean;
}

function hostAllowed(entry: Entry, host: string | undefined): boolean {
  if (entry.hostExact === null) return true;
  if (host === undefined) return false;
  if (entry.hostExact.has(host)) return true;
  if (entry.hostSuffixes !== null) {
    for (const suffix of entry.hostSuffixes) {
      if (host.length > suffix.length && host.endsWith(suffix)) return true;
    }
  }
  return false;
}

function consider(entries: Entry[], search: Search): void {
  for (const entry of entries) {
    if (entry.index >= search.bestIndex) return;
    if (!hostAllowed(entry, search.host)) continue;
    if (entry.query !== null && !queryMatches(entry.query, search.query)) continue;
    const listed = entry.methods === null || entry.methods.has(search.method);
    if (listed || entry.otherMethods !== null) {
      search.bestIndex = entry.index;
      search.best = entry;
      search.bestIsOther = !listed;
      return;
    }
  }
}

function walk(node: TrieNode, i: number, search: Search): void {
  if (node.minIndex >= search.bestIndex) return;
  if (node.rest !== null) consider(node.rest, search);
  if (i === search.end) {
    if (node.exact !== null) consider(node.exact, search);
    return;
  }
  const segment = search.segments[i]!;
  if (node.literal !== null) {
    const child = node.literal.get(segment);
    if (child !== undefined) walk(child, i + 1, search);
  }
  if (segment === '') return; // '*', ':x' and globs need a non-empty segment
  if (node.globs !== null) {
    for (const edge of node.globs) {
      if (edge.node.minIndex < search.bestIndex && edge.regexp.test(segment)) walk(edge.node, i + 1, search);
    }
  }
  if (node.any !== null) walk(node.any, i + 1, search);
}

export function createPolicy(
  root: TrieNode,
  rules: readonly CompiledRule[],
  settings: PolicySettings,
  defaultRule: CompiledRule,
  unknownMethodRule: CompiledRule,
  origin: string,
  consulted: ReadonlySet<string>,
  requireTwoFactor: RequireTwoFactorSpec | null = null,
  rememberBrowser: RememberBrowserPolicySpec | null = null,
): CompiledPolicy {
  const defaultMatch: PolicyMatch = Object.freeze({ rule: defaultRule, params: EMPTY_PARAMS });
  const unknownMethodMatch: PolicyMatch = Object.freeze({ rule: unknownMethodRule, params: EMPTY_PARAMS });
  const { caseSensitive, knownMethods } = settings;
  const search: Search = { segments: [], end: 0, method: '', host: undefined, query: EMPTY_QUERY, bestIndex: Infinity, best: null, bestIsOther: false };
  const queryOptions = Object.freeze({ consulted, caseSensitive });

  function match(method: string, path: string, host?: string, query: CanonicalQuery = EMPTY_QUERY): PolicyMatch {
    if (!knownMethods.has(method)) return unknownMethodMatch;
    const compared = caseSensitive ? path : path.toLowerCase();
    const segments = compared.split('/');
    // '/a/b' → ['', 'a', 'b']: segments start at 1. A path without the leading '/' (not canonical,
    // but possible from a careless caller) is read as if it had one.
    const offset = segments[0] === '' ? 1 : 0;
    let end = segments.length;
    if (end > offset && segments[end - 1] === '') end--; // trailing '/' is insignificant

    search.segments = segments;
    search.end = end;
    search.method = method === 'HEAD' || method === 'OPTIONS' ? 'GET' : method;
    search.host = host;
    search.query = query;
    search.bestIndex = Infinity;
    search.best = null;
    search.bestIsOther = false;
    walk(root, offset, search);
    const best = search.best as Entry | null;
    search.best = null;
    search.segments = [];
    search.query = EMPTY_QUERY;

    if (best === null) return defaultMatch;
    if (search.bestIsOther && best.otherMethods !== null) return best.otherMethods;
    if (best.fixedMatch !== null) return best.fixedMatch;
    // Params keep the case of the request, so split the original path (same '/' positions).
    const original = caseSensitive ? segments : path.split('/');
    const params: Record<string, string> = {};
    for (const capture of best.captures!) params[capture.name] = original[offset + capture.position]!;
    return { rule: best.rule, params };
  }

  const knownHosts = settings.knownHosts;
  const isKnownHost = (hostname: string): boolean => knownHosts === null || hostMatches(knownHosts, hostname);
  const parse = (raw: string) => parseQuery(raw, queryOptions);

  return Object.freeze({ settings, rules, defaultRule, unknownMethodRule, origin, match, isKnownHost, parseQuery: parse, requireTwoFactor, rememberBrowser });
}
