/**
 * Compiles validated policy documents into the CompiledPolicy of types.ts (matched by the trie of
 * matcher.ts; one rule's query and sensitive parts are compiled in compile-rule.ts).
 */
import { compilePathPattern } from './path-pattern.ts';
import type { PathPattern } from './path-pattern.ts';
import { PolicyError } from './policy-error.ts';
import type { InterceptRouteDocument, PolicyDocument, RuleDocument } from './schema.ts';
import { DEFAULT_KNOWN_METHODS } from './schema.ts';
import { compileRequireTwoFactor, type RequireTwoFactorSpec } from './require-two-factor.ts';
import { compileRememberBrowserPolicy, type RememberBrowserPolicySpec } from './remember-browser-policy.ts';
import type { Access, CompiledPolicy, CompiledRule, InterceptKind, PolicyMatch, PolicySettings, SensitiveSpec } from './types.ts';
import type { DocPath, Position } from './yaml-source.ts';
import { formatDocPath } from './yaml-source.ts';
import { compileQuery, compileSensitive, hostPatternCovered, IssueList, position, sourceLocation, type RuleSpec } from './compile-rule.ts';
import { computeMinIndex, createPolicy, EMPTY_PARAMS, insert, newNode, type Capture, type Entry } from './matcher.ts';

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

const METHODS_DECIDED_AS_GET = new Set(['HEAD', 'OPTIONS']);

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

