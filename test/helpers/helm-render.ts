import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * A small renderer for the Helm chart in deploy/helm/, because neither helm nor kubeconform can be
 * installed here (not in Debian's or npm's registries). It implements the subset of Go's
 * text/template and of Helm's functions that the chart uses, with Go's semantics, and throws on
 * anything else, so a template it cannot render faithfully fails the test instead of rendering
 * something helm would not:
 *
 * - actions `{{ }}` with the trim markers `{{-` / `-}}` and comments `{{/* *\/}}`;
 * - `if`/`else if`/`else`, `with`/`else`, `range` (lists, maps in key order; `$k, $v :=`), `end`,
 *   `define` (in `_*.tpl`), variables `$` and `$name`, field chains, parentheses, pipelines;
 * - functions: include, quote, default, required, toYaml, indent, nindent, not, and, or, eq, ne,
 *   printf (%s %d %v), trunc, trimSuffix, contains, toString, empty, sha256sum, fail.
 *
 * It is no substitute for `helm lint` / `helm template` where helm exists (the README says so).
 */

type Value = unknown;
type Scope = { dot: Value; root: Value; vars: Map<string, Value> };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if'; branches: Array<{ cond: Pipeline; body: Node[] }>; otherwise: Node[] }
  | { kind: 'with'; pipe: Pipeline; body: Node[]; otherwise: Node[] }
  | { kind: 'range'; keyVar?: string; valueVar?: string; pipe: Pipeline; body: Node[]; otherwise: Node[] }
  | { kind: 'define'; name: string; body: Node[] };

type Operand =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'nil' }
  | { kind: 'field'; base: 'dot' | string; path: string[] }
  | { kind: 'ident'; name: string }
  | { kind: 'paren'; pipe: Pipeline };

type Command = Operand[];
interface Pipeline {
  decl?: string[];
  commands: Command[];
}

export class TemplateError extends Error {}

// ------------------------------------------------------------------------------------------------
// Lexing actions out of the text

interface Piece {
  text?: string;
  action?: string;
}

function split(source: string, file: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let text = source.slice(i, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      pieces.push({ text });
      break;
    }
    let start = open + 2;
    if (source.startsWith('- ', start) || source.startsWith('-\n', start)) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    pieces.push({ text });
    const close = source.indexOf('}}', start);
    if (close === -1) throw new TemplateError(`${file}: unclosed action`);
    let inner = source.slice(start, close);
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      trimNext = true;
    }
    inner = inner.trim();
    if (!(inner.startsWith('/*') && inner.endsWith('*/'))) pieces.push({ action: inner });
    i = close + 2;
  }
  return pieces;
}

// ------------------------------------------------------------------------------------------------
// Parsing pipelines

function tokenize(expr: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== '"') j += expr[j] === '\\' ? 2 : 1;
      tokens.push(expr.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === '(' || c === ')' || c === '|' || c === ',') {
      tokens.push(c);
      i++;
      continue;
    }
    if (expr.startsWith(':=', i)) {
      tokens.push(':=');
      i += 2;
      continue;
    }
    let j = i;
    while (j < expr.length && !/[\s()|,"]/.test(expr[j] as string) && !expr.startsWith(':=', j)) j++;
    tokens.push(expr.slice(i, j));
    i = j;
  }
  return tokens;
}

function parsePipeline(expr: string): Pipeline {
  const tokens = tokenize(expr);
  let pos = 0;
  const pipeline = (stop: string | null): Pipeline => {
    const result: Pipeline = { commands: [] };
    // `$a := x` or `$k, $v := x`
    const declEnd = tokens.indexOf(':=', pos);
    if (declEnd !== -1 && tokens.slice(pos, declEnd).every((t) => t === ',' || /^\$\w+$/.test(t)) && declEnd > pos) {
      result.decl = tokens.slice(pos, declEnd).filter((t) => t !== ',');
      pos = declEnd + 1;
    }
    let command: Command = [];
    while (pos < tokens.length && tokens[pos] !== stop) {
      const t = tokens[pos++] as string;
      if (t === '|') {
        result.commands.push(command);
        command = [];
        continue;
      }
      if (t === '(') {
        const inner = pipeline(')');
        if (tokens[pos++] !== ')') throw new TemplateError(`unbalanced ( in ${expr}`);
        command.push({ kind: 'paren', pipe: inner });
        continue;
      }
      command.push(operand(t, expr));
    }
    result.commands.push(command);
    if (result.commands.some((c) => c.length === 0)) throw new TemplateError(`empty command in {{ ${expr} }}`);
    return result;
  };
  const parsed = pipeline(null);
  if (pos !== tokens.length) throw new TemplateError(`unexpected ${tokens[pos]} in {{ ${expr} }}`);
  return parsed;
}

function operand(t: string, expr: string): Operand {
  if (t.startsWith('"')) return { kind: 'string', value: JSON.parse(t) as string };
  if (/^-?\d+(\.\d+)?$/.test(t)) return { kind: 'number', value: Number(t) };
  if (t === 'true' || t === 'false') return { kind: 'bool', value: t === 'true' };
  if (t === 'nil') return { kind: 'nil' };
  if (t === '.') return { kind: 'field', base: 'dot', path: [] };
  if (/^(\.[A-Za-z_][\w-]*)+$/.test(t)) return { kind: 'field', base: 'dot', path: t.slice(1).split('.') };
  const variable = /^(\$\w*)((?:\.[A-Za-z_]\w*)*)$/.exec(t);
  if (variable) return { kind: 'field', base: variable[1] as string, path: variable[2] ? (variable[2] as string).slice(1).split('.') : [] };
  if (/^[A-Za-z_]\w*$/.test(t)) return { kind: 'ident', name: t };
  throw new TemplateError(`cannot parse ${t} in {{ ${expr} }}`);
}

// ------------------------------------------------------------------------------------------------
// Building the tree

function build(pieces: Piece[], file: string): Node[] {
  let pos = 0;
  const block = (): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < pieces.length) {
      const piece = pieces[pos++] as Piece;
      if (piece.text !== undefined) {
        if (piece.text) nodes.push({ kind: 'text', text: piece.text });
        continue;
      }
      const action = piece.action as string;
      const [word] = action.split(/\s+/, 1);
      const rest = action.slice((word as string).length).trim();
      if (word === 'end' || word === 'else') return { nodes, end: action };
      if (word === 'if') {
        const branches = [{ cond: parsePipeline(rest), body: [] as Node[] }];
        let otherwise: Node[] = [];
        for (;;) {
          const inner = block();
          (branches[branches.length - 1] as { body: Node[] }).body = inner.nodes;
          if (inner.end === 'end') break;
          if (inner.end === '') throw new TemplateError(`${file}: if without end`);
          if (inner.end.startsWith('else if ')) {
            branches.push({ cond: parsePipeline(inner.end.slice('else if '.length)), body: [] });
            continue;
          }
          if (inner.end !== 'else') throw new TemplateError(`${file}: unexpected {{ ${inner.end} }}`);
          const tail = block();
          if (tail.end !== 'end') throw new TemplateError(`${file}: if without end`);
          otherwise = tail.nodes;
          break;
        }
        nodes.push({ kind: 'if', branches, otherwise });
        continue;
      }
      if (word === 'with' || word === 'range') {
        const pipe = parsePipeline(rest);
        const inner = block();
        let otherwise: Node[] = [];
        if (inner.end === 'else') {
          const tail = block();
          if (tail.end !== 'end') throw new TemplateError(`${file}: ${word} without end`);
          otherwise = tail.nodes;
        } else if (inner.end !== 'end') throw new TemplateError(inner.end === '' ? `${file}: ${word} without end` : `${file}: unexpected {{ ${inner.end} }}`);
        if (word === 'with') nodes.push({ kind: 'with', pipe, body: inner.nodes, otherwise });
        else {
          const [a, b] = pipe.decl ?? [];
          const node: Node = { kind: 'range', pipe: { commands: pipe.commands }, body: inner.nodes, otherwise };
          if (b !== undefined) Object.assign(node, { keyVar: a, valueVar: b });
          else if (a !== undefined) Object.assign(node, { valueVar: a });
          nodes.push(node);
        }
        continue;
      }
      if (word === 'define') {
        const name = JSON.parse(rest) as string;
        const inner = block();
        if (inner.end !== 'end') throw new TemplateError(`${file}: define without end`);
        nodes.push({ kind: 'define', name, body: inner.nodes });
        continue;
      }
      if (['template', 'block', 'break', 'continue'].includes(word as string)) throw new TemplateError(`${file}: {{ ${word} }} is not supported by this renderer`);
      nodes.push({ kind: 'action', pipe: parsePipeline(action) });
    }
    return { nodes, end: '' };
  };
  const top = block();
  if (top.end !== '') throw new TemplateError(`${file}: {{ ${top.end} }} without a block`);
  return top.nodes;
}

// ------------------------------------------------------------------------------------------------
// Evaluation

/** Go's template truth: false, 0, nil, and empty strings, lists and maps are false. */
export function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function print(v: Value): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new TemplateError(`printing a ${Array.isArray(v) ? 'list' : 'map'} directly (use toYaml): ${JSON.stringify(v).slice(0, 80)}`);
}

function toYaml(v: Value): string {
  if (v === undefined || v === null) return 'null';
  // YAML 1.1 like sigs.k8s.io/yaml: strings such as "off" or "yes" come out quoted (1.1 booleans).
  return stringify(v, { sortMapEntries: true, lineWidth: 0, version: '1.1' }).replace(/\n$/, '');
}

function indentText(n: number, text: string): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}

function printf(format: string, args: Value[]): string {
  let i = 0;
  return format.replace(/%([sdv%])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[i++];
    if (verb === 'd' && typeof arg !== 'number') throw new TemplateError(`printf %d of ${typeof arg}`);
    return print(arg);
  });
}

export class Renderer {
  private readonly defines = new Map<string, Node[]>();

  constructor(helpers: Array<{ file: string; text: string }>) {
    for (const { file, text } of helpers) {
      for (const node of build(split(text, file), file)) {
        if (node.kind === 'define') this.defines.set(node.name, node.body);
        else if (node.kind !== 'text' || node.text.trim() !== '') throw new TemplateError(`${file}: only define blocks belong in a helpers file`);
      }
    }
  }

  render(text: string, file: string, root: Value): string {
    return this.run(build(split(text, file), file), { dot: root, root, vars: new Map([['$', root]]) });
  }

  private run(nodes: Node[], scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          out += node.text;
          break;
        case 'action': {
          const value = this.pipe(node.pipe, scope);
          if (!node.pipe.decl) out += print(value);
          break;
        }
        case 'if': {
          const branch = node.branches.find((b) => truthy(this.pipe(b.cond, scope)));
          out += this.run(branch ? branch.body : node.otherwise, scope);
          break;
        }
        case 'with': {
          const value = this.pipe(node.pipe, scope);
          out += truthy(value) ? this.run(node.body, { ...scope, dot: value }) : this.run(node.otherwise, scope);
          break;
        }
        case 'range': {
          const value = this.pipe(node.pipe, scope);
          const entries: Array<[Value, Value]> = Array.isArray(value)
            ? value.map((v, i) => [i, v])
            : value && typeof value === 'object'
              ? Object.keys(value as object)
                  .sort()
                  .map((k) => [k, (value as Record<string, Value>)[k]])
              : [];
          if (value !== undefined && value !== null && typeof value !== 'object') throw new TemplateError(`range over ${typeof value}`);
          if (entries.length === 0) out += this.run(node.otherwise, scope);
          for (const [k, v] of entries) {
            const vars = new Map(scope.vars);
            if (node.keyVar) vars.set(node.keyVar, k);
            if (node.valueVar) vars.set(node.valueVar, v);
            out += this.run(node.body, { ...scope, dot: v, vars });
          }
          break;
        }
        case 'define':
          throw new TemplateError('define outside a helpers file');
      }
    }
    return out;
  }

  private pipe(pipe: Pipeline, scope: Scope): Value {
    let value: Value = undefined;
    pipe.commands.forEach((command, i) => {
      value = this.command(command, scope, i === 0 ? undefined : { value });
    });
    if (pipe.decl) {
      if (pipe.decl.length !== 1) throw new TemplateError('only range declares two variables');
      scope.vars.set(pipe.decl[0] as string, value);
    }
    return value;
  }

  private command(command: Command, scope: Scope, piped: { value: Value } | undefined): Value {
    const [head, ...rest] = command as [Operand, ...Operand[]];
    if (head.kind === 'ident') {
      const args = rest.map((o) => this.operand(o, scope));
      if (piped) args.push(piped.value);
      return this.call(head.name, args);
    }
    if (rest.length > 0 || piped) throw new TemplateError(`cannot call a non-function (${JSON.stringify(head)})`);
    return this.operand(head, scope);
  }

  private operand(o: Operand, scope: Scope): Value {
    switch (o.kind) {
      case 'string':
      case 'number':
      case 'bool':
        return o.value;
      case 'nil':
        return null;
      case 'paren':
        return this.pipe(o.pipe, scope);
      case 'ident':
        return this.call(o.name, []);
      case 'field': {
        let value: Value;
        if (o.base === 'dot') value = scope.dot;
        else if (scope.vars.has(o.base)) value = scope.vars.get(o.base);
        else throw new TemplateError(`undefined variable ${o.base}`);
        for (const key of o.path) {
          if (value === undefined || value === null) return undefined;
          if (typeof value !== 'object' || Array.isArray(value)) throw new TemplateError(`can't evaluate field ${key} in ${typeof value}`);
          value = (value as Record<string, Value>)[key];
        }
        return value;
      }
    }
  }

  private call(name: string, args: Value[]): Value {
    const arity = (n: number): void => {
      if (args.length !== n) throw new TemplateError(`${name} takes ${n} arguments, got ${args.length}`);
    };
    switch (name) {
      case 'include': {
        arity(2);
        const body = this.defines.get(args[0] as string);
        if (!body) throw new TemplateError(`include of undefined template ${String(args[0])}`);
        return this.run(body, { dot: args[1], root: args[1], vars: new Map([['$', args[1]]]) });
      }
      case 'quote':
        return args.map((a) => JSON.stringify(print(a))).join(' ');
      case 'default':
        arity(2);
        return truthy(args[1]) ? args[1] : args[0];
      case 'required':
        arity(2);
        if (args[1] === undefined || args[1] === null || args[1] === '') throw new TemplateError(`required: ${String(args[0])}`);
        return args[1];
      case 'toYaml':
        arity(1);
        return toYaml(args[0]);
      case 'indent':
        arity(2);
        return indentText(args[0] as number, print(args[1]));
      case 'nindent':
        arity(2);
        return `\n${indentText(args[0] as number, print(args[1]))}`;
      case 'not':
        arity(1);
        return !truthy(args[0]);
      case 'and': {
        for (const a of args) if (!truthy(a)) return a;
        return args[args.length - 1];
      }
      case 'or': {
        for (const a of args) if (truthy(a)) return a;
        return args[args.length - 1];
      }
      case 'eq':
        arity(2);
        return args[0] === args[1];
      case 'ne':
        arity(2);
        return args[0] !== args[1];
      case 'printf':
        return printf(args[0] as string, args.slice(1));
      case 'trunc': {
        arity(2);
        return print(args[1]).slice(0, args[0] as number);
      }
      case 'trimSuffix': {
        arity(2);
        const [suffix, s] = [args[0] as string, print(args[1])];
        return s.endsWith(suffix) ? s.slice(0, s.length - suffix.length) : s;
      }
      case 'contains':
        arity(2);
        return print(args[1]).includes(args[0] as string);
      case 'toString':
        arity(1);
        return print(args[0]);
      case 'empty':
        arity(1);
        return !truthy(args[0]);
      case 'sha256sum':
        arity(1);
        return createHash('sha256').update(print(args[0])).digest('hex');
      case 'fail':
        arity(1);
        throw new TemplateError(`fail: ${print(args[0])}`);
      default:
        throw new TemplateError(`function ${name} is not implemented by this renderer`);
    }
  }
}

/** Deep merge as helm merges `--set`/`-f` values over values.yaml (maps merge, the rest replaces). */
export function mergeValues(base: Value, over: Value): Value {
  if (over === undefined) return base;
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, Value> = { ...(base as Record<string, Value>) };
    for (const [k, v] of Object.entries(over as Record<string, Value>)) out[k] = v === null ? undefined : mergeValues(out[k], v);
    return out;
  }
  return over;
}

export interface RenderedChart {
  /** Template file → rendered text (files that rendered to whitespace only are left out, as helm does). */
  readonly files: Map<string, string>;
}

/** `helm template RELEASE CHART --namespace NS -f overrides`, for this chart's subset. */
export function renderChart(chartDir: string, options: { release: string; namespace: string; values?: Value }): RenderedChart {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, Value>;
  const values = mergeValues(parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')), options.values);
  const dir = join(chartDir, 'templates');
  const names = readdirSync(dir).sort();
  const renderer = new Renderer(names.filter((n) => n.startsWith('_')).map((n) => ({ file: n, text: readFileSync(join(dir, n), 'utf8') })));
  const root = {
    Values: values,
    Release: { Name: options.release, Namespace: options.namespace, Service: 'Helm' },
    Chart: { Name: chart['name'], Version: chart['version'], AppVersion: chart['appVersion'] },
  };
  const files = new Map<string, string>();
  for (const name of names) {
    if (name.startsWith('_') || !/\.ya?ml$/.test(name)) continue;
    const text = renderer.render(readFileSync(join(dir, name), 'utf8'), name, root);
    if (text.trim() !== '') files.set(name, text);
  }
  return { files };
}
