/* The parts of one rule compiled on their own (query conditions, the sensitive block), and where issues point. */
import { parseDuration } from '../config/duration.ts';
import { foldQueryKey, foldQueryValue } from './query.ts';
import type { QueryCondition } from './query.ts';
import type { PolicyIssue } from './policy-error.ts';
import type { QueryDocument, RuleDocument, SensitiveDocument } from './schema.ts';
import { hostMatches } from '../proxy/host.ts';
import type { Access, InterceptKind, RiskLevel, SensitiveSpec, SourceLocation, StepUpAction } from './types.ts';
import type { DocPath, Position } from './yaml-source.ts';
import type { PolicySourceDocument } from './compile.ts';

const FRESH_MIN_MS = 60_000;
const FRESH_MAX_MS = 24 * 3_600_000;

export interface RuleSpec {
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

export class IssueList {
  readonly issues: PolicyIssue[] = [];
  add(source: PolicySourceDocument, path: DocPath, message: string, part: 'key' | 'value' = 'value'): void {
    this.issues.push({ ...position(source, path, part), message });
  }
}

export function position(source: PolicySourceDocument, path: DocPath, part: 'key' | 'value' = 'value'): Position {
  return source.locate ? source.locate(path, part) : { file: source.file, line: 0, column: 0 };
}

export function sourceLocation(source: PolicySourceDocument, path: DocPath): SourceLocation {
  const { file, line, column } = position(source, path);
  return Object.freeze({ file, line, column });
}

export function compileQuery(
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
export function hostPatternCovered(known: readonly string[], pattern: string): boolean {
  if (known.includes(pattern)) return true;
  const name = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  return hostMatches(known.filter((k) => k.startsWith('*.')), name);
}

export function compileSensitive(
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
