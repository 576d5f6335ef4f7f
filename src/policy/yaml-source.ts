/**
 * YAML with positions: parse a file keeping a line counter, locate any document path
 * (`rules[2].access`) back to `file:line:column`, and turn zod issues into plain sentences.
 * Used for policy files and policy test files alike.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { z } from 'zod';
import type { PolicyIssue } from './policy-error.ts';

export type DocPath = readonly (string | number)[];

export interface Position {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface YamlSource {
  readonly file: string;
  /** The document as plain JavaScript values (null for an empty file). */
  readonly value: unknown;
  /**
   * Where the value at `path` is written; with part 'key', where its key is written. A path that does
   * not exist (a missing key) resolves to the deepest node that does.
   */
  locate(path: DocPath, part?: 'key' | 'value'): Position;
  issue(path: DocPath, message: string, part?: 'key' | 'value'): PolicyIssue;
}

/** `rules[2].sensitive.fresh_for` */
export function formatDocPath(path: DocPath): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out;
}

/** A value as quoted in messages: scalars as JSON, collections by kind. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}

interface RangedNode {
  range?: readonly [number, number, number] | null | undefined;
}

const startOf = (node: unknown): number | null => {
  const range = (node as RangedNode | null)?.range;
  return range ? range[0] : null;
};

const keyText = (key: unknown): string => (isScalar(key) ? String(key.value) : String(key));

// Aliases could expand exponentially ("billion laughs"); a policy has no use for many.
const MAX_ALIAS_COUNT = 100;

export function parseYamlSource(
  text: string,
  file: string,
): { ok: true; source: YamlSource } | { ok: false; issues: PolicyIssue[] } {
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    const message = error instanceof RangeError ? 'the document is nested too deeply' : (error as Error).message;
    return { ok: false, issues: [{ file, line: 0, column: 0, message: `YAML: ${message}` }] };
  }
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    return {
      ok: false,
      issues: problems.map((e) => ({ ...at(e.pos[0]), message: `YAML: ${plainYamlMessage(e.message)}` })),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    return { ok: false, issues: [{ ...at(0), message: `YAML: ${(error as Error).message}` }] };
  }
  const locate = (path: DocPath, part: 'key' | 'value' = 'value'): Position =>
    at(locateOffset(doc, path, part));
  const source: YamlSource = {
    file,
    value,
    locate,
    issue: (path, message, part) => ({ ...locate(path, part), message }),
  };
  return { ok: true, source };
}

function plainYamlMessage(message: string): string {
  // yaml's messages are already sentences; only the advice meant for programmers is dropped.
  return message.replace(/; please use YAML\.parseAllDocuments\(\)/, ' (only one is allowed)');
}

function locateOffset(doc: Document, path: DocPath, part: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const key = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(key));
      if (!pair) break;
      const keyStart = startOf(pair.key);
      const valueStart = startOf(pair.value);
      if (last && part === 'key') return keyStart ?? offset;
      if (valueStart === null) return keyStart ?? offset; // `access:` with nothing after it
      node = pair.value;
      offset = valueStart;
    } else if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key];
      const start = startOf(item);
      if (start === null) break;
      node = item;
      offset = start;
    } else {
      break;
    }
  }
  return offset;
}

// ---------------------------------------------------------------------------------------------
// zod issues → plain sentences

interface LooseDef {
  type: string;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  shape?: Record<string, unknown>;
  element?: unknown;
}

const defOf = (schema: unknown): LooseDef | null =>
  (schema as { _zod?: { def?: LooseDef } } | null)?._zod?.def ?? null;

/** The object keys the schema allows at `path`, for "unknown key" messages. */
function allowedKeysAt(schema: z.ZodType, path: DocPath): string[] {
  let current: unknown = schema;
  const unwrap = (): void => {
    for (let guard = 0; guard < 20; guard++) {
      const def = defOf(current);
      if (!def) return;
      if (def.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type)) {
        current = def.innerType;
      } else if (def.type === 'pipe') {
        // preprocess = pipe(transform, schema): the shape lives on the output side.
        current = defOf(def.in)?.type === 'transform' ? def.out : def.in;
      } else {
        return;
      }
    }
  };
  for (const key of path) {
    unwrap();
    const def = defOf(current);
    if (def?.type === 'object' && typeof key === 'string') current = def.shape?.[key];
    else if (def?.type === 'array') current = def.element;
    else return [];
  }
  unwrap();
  const def = defOf(current);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length] as number;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  boolean: 'true or false',
  number: 'a number',
  int: 'an integer',
};

function issueSentence(schema: z.ZodType, issue: z.core.$ZodIssue, path: DocPath): string {
  const subject = path.length === 0 ? 'the document' : formatDocPath(path);
  const custom = issue.message.startsWith('must ') ? issue.message : null;
  const got = 'input' in issue ? ` (got ${describeValue(issue.input)})` : '';
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && 'input' in issue && issue.input === undefined) {
    return `${subject} is required`;
  }
  switch (issue.code) {
    case 'invalid_type':
      return `${subject} ${custom ?? `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`}${got}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      const expected = values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`;
      return `${subject} ${custom ?? expected}${got}`;
    }
    case 'too_small':
    case 'too_big': {
      if (custom) return `${subject} ${custom}`;
      const bound = issue.code === 'too_small' ? 'at least' : 'at most';
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      if (issue.origin === 'array') return `${subject} must list ${bound} ${limit} entr${limit === 1 ? 'y' : 'ies'}`;
      if (issue.origin === 'string') return `${subject} must be ${bound} ${limit} characters long`;
      return `${subject} must be ${bound} ${limit}${got}`;
    }
    case 'invalid_format':
      return `${subject} ${custom ?? `must match ${issue.pattern ?? issue.format}`}${got}`;
    case 'unrecognized_keys':
      // expanded per key by the caller
      return `${subject} has unknown keys ${issue.keys.join(', ')}`;
    default:
      return custom ? `${subject} ${custom}` : `${subject}: ${issue.message}`;
  }
}

/** One PolicyIssue per problem, located in the YAML source. Unknown keys point at the key itself. */
function zodIssuesToPolicyIssues(
  source: YamlSource,
  schema: z.ZodType,
  issues: readonly z.core.$ZodIssue[],
): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(schema, path);
      for (const key of issue.keys) {
        const where = path.length === 0 ? 'the document' : formatDocPath(path);
        const near = allowed.filter((k) => editDistance(k, key) <= 2);
        const hint =
          near.length > 0
            ? ` (did you mean ${near.map((k) => `"${k}"`).join(' or ')}?)`
            : allowed.length > 0
              ? ` (allowed: ${allowed.join(', ')})`
              : '';
        out.push(source.issue([...path, key], `${where} has unknown key "${key}"${hint}`, 'key'));
      }
      continue;
    }
    out.push(source.issue(path, issueSentence(schema, issue, path)));
  }
  return out;
}

/** Validate a parsed YAML source against a zod schema, with located plain-English issues. */
export function validateSource<S extends z.ZodType>(
  source: YamlSource,
  schema: S,
): { ok: true; value: z.output<S> } | { ok: false; issues: PolicyIssue[] } {
  const result = schema.safeParse(source.value, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: zodIssuesToPolicyIssues(source, schema, result.error.issues) };
}
