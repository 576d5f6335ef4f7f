import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layers of src/, bottom first. A file may import files of its own folder and of any folder
 * listed before its own, never of one listed after it: then a change at the bottom is the only kind
 * that ripples, and each layer can be read (and tested) knowing only the layers under it. The order
 * is strict, no two folders are peers, so no cycle between folders can form.
 *
 *  core           Clock, Random, lazy loading of optional packages: imports nothing of ours.
 *  i18n           language negotiation and the message catalogues, shared by the pages and the alerts.
 *  config         the configuration's one schema (with the blocks it is made of, the names an operator
 *                 can write: audit events, syslog facilities, risk signals), loading, secret references.
 *  observability  logger, metrics, tracing: used from everywhere below the flows, so they describe
 *                 what they record with their own types rather than importing the recorders' ones.
 *  store          durable and ephemeral state backends and the plain records they hold.
 *  channels       transports out (SMTP, Twilio, SMS webhook, HTTP posting): know nothing of accounts.
 *  proxy          what a request is (canonical target, host, client address) and how it is forwarded.
 *  policy         rules over canonical requests: compile, match, explain, reload.
 *  session        the sealed cookie and session records.
 *  audit          the audit trail and its sinks (a webhook sink posts through channels/).
 *  directory      where an account's email and phone come from.
 *  factors        one folder per second-factor method (transports from channels/).
 *  risk           risk signals, scoring and the login history they read (factor lock-outs too).
 *  alerts         security alerts to the account owner (text from i18n/, risk facts in it).
 *  flows          login, enable, disable, step-up: written against the layers above.
 *  access         the one decision: request + identity + facts -> AccessResult.
 *  pages          the sidecar's HTML pages (render flow results).
 *  http           the sidecar's own routes, answers and security headers.
 *  entry          adapters from a request to an access decision and its answer (proxy, upgrade, forward-auth).
 *  admin          the admin API (runs the flows for support).
 *  server         the composition root of the service.
 *  cli            commands; composition roots of their own (they may start the server).
 *
 * access/ and http/ are declared ahead of their creation so that the lanes adding them land in place.
 */
export const LAYERS: readonly string[] = [
  'core',
  'i18n',
  'config',
  'observability',
  'store',
  'channels',
  'proxy',
  'policy',
  'session',
  'audit',
  'directory',
  'factors',
  'risk',
  'alerts',
  'flows',
  'access',
  'pages',
  'http',
  'entry',
  'admin',
  'server',
  'cli',
];

/**
 * Upward imports tolerated, as `from -> to` file pairs (relative to src/). Empty: keep it so. An
 * entry here needs a reason, and the test below fails once the import it excuses is gone.
 */
const PENDING: ReadonlySet<string> = new Set<string>([]);

export interface Edge {
  /** Importing file, relative to src/ with `/` separators. */
  readonly from: string;
  /** Imported file, same form. */
  readonly to: string;
}

/** The top folder under src/ a file belongs to; a file directly in src/ belongs to no layer. */
export function layerOf(file: string): string | null {
  const slash = file.indexOf('/');
  return slash === -1 ? null : file.slice(0, slash);
}

/**
 * Every import that breaks the order, as `from -> to`, plus every file whose folder is not
 * declared (a new folder has to be placed before it can be imported or import anything).
 */
export function layerViolations(edges: readonly Edge[], layers: readonly string[], pending: ReadonlySet<string> = new Set()): string[] {
  const rank = new Map(layers.map((name, index) => [name, index]));
  const problems = new Set<string>();
  const rankOf = (file: string): number | undefined => {
    const layer = layerOf(file);
    const found = layer === null ? undefined : rank.get(layer);
    if (found === undefined) problems.add(`${file}: ${layer === null ? 'directly in src/' : `folder ${layer}/ is not in LAYERS`}`);
    return found;
  };
  for (const { from, to } of edges) {
    const a = rankOf(from);
    const b = rankOf(to);
    if (a === undefined || b === undefined || b <= a) continue;
    const edge = `${from} -> ${to}`;
    if (!pending.has(edge)) problems.add(`${edge} (${layerOf(from)} is below ${layerOf(to)})`);
  }
  return [...problems].sort();
}

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const fromSrc = (path: string): string => relative(SRC, path).split(sep).join('/');

/**
 * The relative imports of every file in src/: `import … from`, `export … from`, `import '…'` and
 * `import('…')`, type-only ones included (a type is a dependency too). TypeScript's own scanner
 * reads them, so an import written in a comment or a string does not count.
 */
function importGraph(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const to = fromSrc(resolve(dirname(file), fileName));
      // Outside src/ (the demo command starts demo/app.ts): not a layer of the sidecar.
      if (to.startsWith('../')) continue;
      edges.push({ from: fromSrc(file), to });
    }
  }
  return edges;
}

describe('layers', () => {
  const edges = importGraph();

  test('no import in src/ points upward across layers', () => {
    assert.deepEqual(layerViolations(edges, LAYERS, PENDING), []);
  });

  test('every pending exception is still an upward import (delete it once fixed)', () => {
    const present = new Set(edges.map(({ from, to }) => `${from} -> ${to}`));
    assert.deepEqual([...PENDING].filter((edge) => !present.has(edge)), []);
  });

  test('every folder of src/ is a declared layer, and no file lies directly in src/', () => {
    const folders = readdirSync(SRC, { withFileTypes: true });
    assert.deepEqual(folders.filter((entry) => !entry.isDirectory()).map((entry) => entry.name), []);
    assert.deepEqual(folders.map((entry) => entry.name).filter((name) => !LAYERS.includes(name)), []);
  });

  test('the graph was read: imports of every kind are found', () => {
    assert.ok(edges.length > 500, `only ${edges.length} imports found`);
    assert.ok(edges.some(({ from, to }) => layerOf(from) !== layerOf(to)));
  });

  test('the checker catches an upward import, a root file and an undeclared folder', () => {
    const layers = ['core', 'store', 'flows'];
    const graph: Edge[] = [
      { from: 'flows/login.ts', to: 'store/durable.ts' },
      { from: 'store/durable.ts', to: 'core/clock.ts' },
      { from: 'store/records.ts', to: 'store/durable.ts' },
      { from: 'store/grace.ts', to: 'flows/login.ts' },
      { from: 'core/clock.ts', to: 'lazy-module.ts' },
      { from: 'flows/login.ts', to: 'access/decide.ts' },
    ];
    assert.deepEqual(layerViolations(graph, layers), [
      'access/decide.ts: folder access/ is not in LAYERS',
      'lazy-module.ts: directly in src/',
      'store/grace.ts -> flows/login.ts (store is below flows)',
    ]);
    assert.deepEqual(layerViolations(graph, layers, new Set(['store/grace.ts -> flows/login.ts'])), [
      'access/decide.ts: folder access/ is not in LAYERS',
      'lazy-module.ts: directly in src/',
    ]);
  });

  test('the scanner finds static, re-export, side-effect, type-only and dynamic imports, not comments', () => {
    const source = [
      "import { a } from './a.ts';",
      "export * from './b.ts';",
      "export type { C } from './c.ts';",
      "import './d.ts';",
      "import type { E } from './e.ts';",
      "const f = await import('./f.ts');",
      "// import { g } from './g.ts';",
      "const h = \"import { h } from './h.ts'\";",
    ].join('\n');
    const found = ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
    assert.deepEqual(found, ['./a.ts', './b.ts', './c.ts', './d.ts', './e.ts', './f.ts']);
  });
});
