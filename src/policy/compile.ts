/**
 * Compiles validated policy documents into the CompiledPolicy of types.ts.
 *
 * Matching uses a segment trie, so its cost follows the depth of the path and the number of
 * patterns that can actually match, not the number of rules. First-match semantics are kept by
 * collecting every candidate and keeping the lowest rule index; subtrees whose lowest index cannot
 * beat the best candidate so far are skipped.
 */
import { parseDuration } from '../config/duration.ts';
import { compilePathPattern } from './path-pattern.ts';
import { EMPTY_QUERY, foldQueryKey, foldQueryValue, parseQuery, queryMatches } from './query.ts';
import type { CanonicalQuery, QueryCondition } from './query.ts';
import type { PathPattern } from './path-pattern.ts';
import { PolicyError } from './policy-error.ts';
import type { PolicyIssue } from './policy-error.ts';
import type { InterceptRouteDocument, PolicyDocument, QueryDocument, RuleDocument, SensitiveDocument } from './schema.ts';
import { DEFAULT_KNOWN_METHODS } from './schema.ts';
import { hostMatches } from '../proxy/host.ts';
import { compileRequireTwoFactor, type RequireTwoFactorSpec } from './require-two-factor.ts';
import { compileRememberBrowserPolicy, type RememberBrowserPolicySpec } from './remember-browser-policy.ts';
import type {
  Access,
  CompiledPolicy,
  CompiledRule,
  InterceptKind,
  PolicyMatch,
  PolicySettings,
  RiskLevel,
  SensitiveSpec,
  SourceLocation,
  StepUpAction,
} from './types.ts';
import type { DocPath, Position } from './yaml-source.ts';
import { formatDocPath } from './yaml-source.ts';

/** One validated document and how to point into the file it came from. */
export interface PolicySourceDocument {
  readonly file: string;
  readonly document: PolicyDocument;
  /** Where a document path is written; without it, issues carry the file name only. */
  readonly locate?: ((path: DocPath, part?: 'key' | 'value') => Position) | undefined;
}

export const UNKNOWN_METHOD_RULE_NAME = 'builtin:unknown-method';
export const DEFAULT_RULE_NAME = 'default';
/**
 * Suffix of the rule a sensitive rule with `methods:` implies for every other method on its paths
 * and hosts: deny. Without it, `PUT /api/contacts/export` would fall to a weaker rule (or the
 * default) and reach an upstream whose handler ignores the method.
 */
export const OTHER_METHODS_SUFFIX = ':other-methods';

const FRESH_MIN_MS = 60_000;
const FRESH_MAX_MS = 24 * 3_600_000;
const METHODS_DECIDED_AS_GET = new Set(['HEAD', 'OPTIONS']);
const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

// ---------------------------------------------------------------------------------------------
// The trie

interface Capture {
  /** Segment position in the pattern (0 = first segment after the leading '/'). */
  readonly position: number;
  readonly name: string;
}

interface Entry {
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

const newNode = (): TrieNode => ({ literal: null, globs: null, any: null, exact: null, rest: null, minIndex: Infinity });

function insert(root: TrieNode, pattern: PathPattern, makeEntry: (captures: readonly Capture[] | null) => Entry): void {
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

function computeMinIndex(node: TrieNode): number {
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

// ---------------------------------------------------------------------------------------------
// Compilation

interface RuleSpec {
  readonly name: string;
  readonly access: Access;
  readonly paths: readonly string[];
  readonly methods: readonly string[] | undefined;
  readonly hosts: readonly string[] | undefined;
  readonly query: QueryDocument | undefined;
  readonly sensitive: SensitiveDocument | undefined;
  readonly intercept: InterceptKind | null;
  readonly source: PolicySourceDocument;
  readonly path: DocPath;
  readonly description?: RuleDocument['description'];
}

class IssueList {
  readonly issues: PolicyIssue[] = [];
  add(source: PolicySourceDocument, path: DocPath, message: string, part: 'key' | 'value' = 'value'): void {
    this.issues.push({ ...position(source, path, part), message });
  }
}

function position(source: PolicySourceDocument, path: DocPath, part: 'key' | 'value' = 'value'): Position {
  return source.locate ? source.locate(path, part) : { file: source.file, line: 0, column: 0 };
}

function sourceLocation(source: PolicySourceDocument, path: DocPath): SourceLocation {
  const { file, line, column } = position(source, path);
  return Object.freeze({ file, line, column });
}

/**
 * Compile one or more validated documents (a directory's files, in order) into one policy.
 * Throws PolicyError listing every problem found.
 */
export function compilePolicy(sources: readonly PolicySourceDocument[], origin: string): CompiledPolicy {
  const issues = new IssueList();

  // settings, default and intercept: at most one file may define each.
  const single = <K extends 'settings' | 'default' | 'intercept' | 'require_2fa' | 'remember_browser'>(key: K) => {
    let found: { source: PolicySourceDocument; value: NonNullable<PolicyDocument[K]> } | null = null;
    for (const source of sources) {
      const value = source.document[key];
      if (value === undefined) continue;
      if (found) {
        const first = position(found.source, [key], 'key');
        const where = first.line > 0 ? `${first.file}:${first.line}:${first.column}` : first.file;
        issues.add(source, [key], `${key} is already defined in ${where}; define it in only one file`, 'key');
        continue;
      }
      found = { source, value: value as NonNullable<PolicyDocument[K]> };
    }
    return found;
  };
  const settingsDoc = single('settings');
  const defaultDoc = single('default');
  const interceptDoc = single('intercept');
  const requireDoc = single('require_2fa');
  const requireTwoFactor: RequireTwoFactorSpec | null = requireDoc ? compileRequireTwoFactor(requireDoc.value) : null;
  const rememberDoc = single('remember_browser');
  const rememberBrowser: RememberBrowserPolicySpec | null = rememberDoc ? compileRememberBrowserPolicy(rememberDoc.value) : null;
  /** Whether `require_2fa` covers a rule (only rules that need a session can need 2FA). */
  const covered = (name: string, access: Access, intercept: InterceptKind | null): boolean =>
    requireTwoFactor !== null && intercept === null && access === 'authenticated' && (requireTwoFactor.all || requireTwoFactor.rules.includes(name));

  const knownMethods = new Set<string>(settingsDoc?.value.known_methods ?? DEFAULT_KNOWN_METHODS);
  if (settingsDoc && !knownMethods.has('GET')) {
    for (const m of METHODS_DECIDED_AS_GET) {
      if (knownMethods.has(m)) {
        issues.add(settingsDoc.source, ['settings', 'known_methods'], `settings.known_methods lists ${m} but not GET; HEAD and OPTIONS are decided as GET, so list GET too`);
        break;
      }
    }
  }
  const knownHostList = settingsDoc?.value.known_hosts ? Object.freeze([...new Set(settingsDoc.value.known_hosts.map((h) => h.toLowerCase()))]) : null;
  const settings: PolicySettings = Object.freeze({
    caseSensitive: settingsDoc?.value.case_sensitive ?? false,
    pathParameters: settingsDoc?.value.path_parameters ?? 'reject',
    knownMethods,
    knownHosts: knownHostList,
  });

  // Rules in first-match order: intercepts first, then each file's rules in order.
  const specs: RuleSpec[] = [];
  if (interceptDoc) {
    for (const kind of ['login', 'logout'] as const) {
      const route: InterceptRouteDocument | undefined = interceptDoc.value[kind];
      if (!route) continue;
      specs.push({
        name: `intercept:${kind}`,
        access: 'public',
        paths: route.paths,
        methods: route.methods,
        hosts: route.hosts,
        query: route.query,
        sensitive: undefined,
        intercept: kind,
        source: interceptDoc.source,
        path: ['intercept', kind],
      });
    }
  }
  for (const source of sources) {
    (source.document.rules ?? []).forEach((rule: RuleDocument, i: number) => {
      specs.push({
        name: rule.name,
        access: rule.access,
        paths: rule.paths,
        methods: rule.methods,
        hosts: rule.hosts,
        query: rule.query,
        sensitive: rule.sensitive,
        intercept: null,
        source,
        path: ['rules', i],
        ...(rule.description !== undefined ? { description: rule.description } : {}),
      });
    });
  }

  const root = newNode();
  const rules: CompiledRule[] = [];
  const names = new Map<string, RuleSpec>();
  const consulted = new Set<string>();

  for (const spec of specs) {
    const index = rules.length;
    const at = (...rest: (string | number)[]): DocPath => [...spec.path, ...rest];
    const label = (...rest: (string | number)[]): string => formatDocPath(at(...rest));

    const previous = names.get(spec.name);
    if (previous) {
      const first = position(previous.source, [...previous.path, 'name']);
      const where = first.line > 0 ? `${first.file}:${first.line}:${first.column}` : first.file;
      issues.add(spec.source, at('name'), `${label('name')} "${spec.name}" is already used by the rule at ${where}; rule names must be unique`);
    } else {
      names.set(spec.name, spec);
    }
    if (spec.name === DEFAULT_RULE_NAME) {
      issues.add(spec.source, at('name'), `${label('name')} "default" is reserved for the rule applied when nothing matches`);
    }

    let methods: Set<string> | null = null;
    if (spec.methods) {
      methods = new Set();
      spec.methods.forEach((m, j) => {
        if (METHODS_DECIDED_AS_GET.has(m)) {
          issues.add(spec.source, at('methods', j), `${label('methods', j)} is ${m}: HEAD and OPTIONS are decided as GET; list GET instead`);
        } else if (!knownMethods.has(m)) {
          issues.add(
            spec.source,
            at('methods', j),
            `${label('methods', j)} "${m}" is not in settings.known_methods (${[...knownMethods].join(', ')})`,
          );
        } else {
          methods!.add(m);
        }
      });
    }

    const hosts = spec.hosts ? [...new Set(spec.hosts.map((h) => h.toLowerCase()))] : null;
    if (knownHostList && spec.hosts) {
      // A rule for a host the policy refuses anyway is a typo that would leave the real host unprotected.
      spec.hosts.forEach((h, j) => {
        if (!hostPatternCovered(knownHostList, h.toLowerCase())) {
          issues.add(spec.source, at('hosts', j), `${label('hosts', j)} "${h}" is not covered by settings.known_hosts (${knownHostList.join(', ')})`);
        }
      });
    }

    const patterns: PathPattern[] = [];
    spec.paths.forEach((text, j) => {
      const result = compilePathPattern(text, settings);
      if (result.ok) patterns.push(result.pattern);
      else issues.add(spec.source, at('paths', j), `${label('paths', j)} ${result.message}`);
    });

    const query = spec.query ? compileQuery(spec, settings.caseSensitive, at, label, issues) : null;
    if (query) for (const condition of query) consulted.add(condition.key);

    let sensitive: SensitiveSpec | null = null;
    if (spec.sensitive) {
      if (spec.access !== 'authenticated') {
        issues.add(
          spec.source,
          at('sensitive'),
          `${label('sensitive')} is only allowed with access: authenticated (this rule has access: ${spec.access})`,
          'key',
        );
      }
      sensitive = compileSensitive(spec, at, label, issues);
    }

    const rule: CompiledRule = Object.freeze({
      index,
      name: spec.name,
      access: spec.access,
      methods,
      hosts: hosts ? Object.freeze(hosts) : null,
      paths: Object.freeze([...spec.paths]),
      query,
      sensitive,
      intercept: spec.intercept,
      source: sourceLocation(spec.source, spec.path),
      ...(covered(spec.name, spec.access, spec.intercept) ? { requireTwoFactor: true } : {}),
    });
    rules.push(rule);

    const hostExact = hosts ? new Set(hosts.filter((h) => !h.startsWith('*.'))) : null;
    const suffixes = hosts ? hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1)) : [];
    // Fail closed per path: a sensitive rule's `methods:` narrows what is verified, not what is
    // protected. Its other methods are denied at the rule's own place in first-match order, so
    // only an earlier rule can let them through.
    const otherMethods: PolicyMatch | null =
      sensitive !== null && methods !== null
        ? Object.freeze({
            rule: Object.freeze({ ...rule, name: `${spec.name}${OTHER_METHODS_SUFFIX}`, access: 'deny' as const, methods: null, sensitive: null }),
            params: EMPTY_PARAMS,
          })
        : null;
    const makeEntry = (captures: readonly Capture[] | null): Entry => ({
      index,
      rule,
      methods,
      hostExact,
      hostSuffixes: suffixes.length > 0 ? suffixes : null,
      captures,
      query,
      fixedMatch: captures ? null : Object.freeze({ rule, params: EMPTY_PARAMS }),
      otherMethods,
    });
    for (const pattern of patterns) insert(root, pattern, makeEntry);
  }

  const defaultAccess: Access = defaultDoc?.value.access ?? 'authenticated';
  const defaultRule: CompiledRule = Object.freeze({
    index: rules.length,
    name: DEFAULT_RULE_NAME,
    access: defaultAccess,
    methods: null,
    hosts: null,
    paths: Object.freeze([]),
    sensitive: null,
    intercept: null,
    source: defaultDoc ? sourceLocation(defaultDoc.source, ['default']) : null,
    ...(covered(DEFAULT_RULE_NAME, defaultAccess, null) ? { requireTwoFactor: true } : {}),
  });
  if (requireDoc && requireTwoFactor && !requireTwoFactor.all) {
    // A misspelt or public rule name would leave the route it meant without the mandate.
    requireTwoFactor.rules.forEach((name, j) => {
      const at: DocPath = ['require_2fa', 'for', j];
      if (name === DEFAULT_RULE_NAME) {
        if (defaultAccess !== 'authenticated') issues.add(requireDoc.source, at, `require_2fa.for[${j}] names the default, whose access is ${defaultAccess}: only access: authenticated can require 2FA`);
        return;
      }
      const spec = names.get(name);
      if (!spec || spec.intercept !== null) issues.add(requireDoc.source, at, `require_2fa.for[${j}] "${name}" is not the name of a rule in this policy`);
      else if (spec.access !== 'authenticated') issues.add(requireDoc.source, at, `require_2fa.for[${j}] "${name}" has access: ${spec.access}; only rules with access: authenticated can require 2FA`);
    });
  }
  if (rememberDoc) {
    // A misspelt rule name would leave the route it meant remembered.
    (rememberDoc.value.except_rules ?? []).forEach((name, j) => {
      if (name === DEFAULT_RULE_NAME) return;
      const spec = names.get(name);
      if (!spec || spec.intercept !== null) issues.add(rememberDoc.source, ['remember_browser', 'except_rules', j], `remember_browser.except_rules[${j}] "${name}" is not the name of a rule in this policy`);
    });
  }
  const unknownMethodRule: CompiledRule = Object.freeze({
    index: -1,
    name: UNKNOWN_METHOD_RULE_NAME,
    access: 'deny',
    methods: null,
    hosts: null,
    paths: Object.freeze([]),
    sensitive: null,
    intercept: null,
    source: null,
  });

  if (sources.length === 0) issues.issues.push({ file: origin, line: 0, column: 0, message: 'no policy documents' });
  if (issues.issues.length > 0) throw new PolicyError(issues.issues);

  computeMinIndex(root);
  return createPolicy(root, Object.freeze(rules), settings, defaultRule, unknownMethodRule, origin, consulted, requireTwoFactor, rememberBrowser);
}

function compileQuery(
  spec: RuleSpec,
  caseSensitive: boolean,
  at: (...rest: (string | number)[]) => DocPath,
  label: (...rest: (string | number)[]) => string,
  issues: IssueList,
): readonly QueryCondition[] {
  const conditions: QueryCondition[] = [];
  const seen = new Map<string, string>();
  for (const [name, wanted] of Object.entries(spec.query!)) {
    const key = foldQueryKey(name, caseSensitive);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      issues.add(spec.source, at('query', name), `${label('query', name)} names the same parameter as "${earlier}" (names are folded: case, "." and " " as "_")`, 'key');
      continue;
    }
    seen.set(key, name);
    if (typeof wanted === 'boolean') {
      conditions.push(Object.freeze({ key, name, test: Object.freeze({ kind: wanted ? 'present' : 'absent' } as const) }));
      continue;
    }
    const shown = typeof wanted === 'string' ? [wanted] : [...wanted];
    const values = new Set(shown.map((v) => foldQueryValue(v, caseSensitive)));
    conditions.push(Object.freeze({ key, name, test: Object.freeze({ kind: 'values', values, shown: Object.freeze(shown) } as const) }));
  }
  return Object.freeze(conditions);
}

/** A rule's host pattern lies within the known hosts: listed itself, or under a known wildcard. */
function hostPatternCovered(known: readonly string[], pattern: string): boolean {
  if (known.includes(pattern)) return true;
  const name = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  return hostMatches(known.filter((k) => k.startsWith('*.')), name);
}

function compileSensitive(
  spec: RuleSpec,
  at: (...rest: (string | number)[]) => DocPath,
  label: (...rest: (string | number)[]) => string,
  issues: IssueList,
): SensitiveSpec {
  const doc = spec.sensitive!;
  const freshForMs = parseDuration(doc.fresh_for) ?? 0;
  if (freshForMs < FRESH_MIN_MS || freshForMs > FRESH_MAX_MS) {
    issues.add(
      spec.source,
      at('sensitive', 'fresh_for'),
      `${label('sensitive', 'fresh_for')} must be between 1m and 24h (got "${doc.fresh_for}")`,
    );
  }
  const table = (t: Record<RiskLevel, StepUpAction>): Readonly<Record<RiskLevel, StepUpAction>> =>
    Object.freeze({ low: t.low, medium: t.medium, high: t.high });
  return Object.freeze({
    category: doc.category,
    freshForMs,
    withoutTwoFactor: table(doc.without_2fa),
    withTwoFactor: table(doc.with_2fa),
    nudgeEnableTwoFactor: doc.nudge_enable_2fa,
    ...(spec.description !== undefined ? { description: typeof spec.description === 'string' ? spec.description : Object.freeze({ ...spec.description }) } : {}),
  });
}

function createPolicy(
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
