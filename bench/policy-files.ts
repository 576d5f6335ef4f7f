/**
 * Policy files of the benchmark, written to a temporary folder: the benchmarked rules (`/app/**`
 * authenticated, then `/static/**` public) placed LAST behind generated API rules, so the matcher
 * has to rule out everything else first, and an open policy for the export case.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const STATIC_RULE = `  - name: static-assets
    paths: ["/static/**"]
    methods: [GET]
    access: public
`;

/** The authenticated pass-through case (`GET /app/data` with a session); explicit, not left to `default`. */
export const APP_RULE = `  - name: app-pages
    paths: ["/app/**"]
    methods: [GET]
    access: authenticated
`;

export const OPEN_POLICY = `version: 1
rules:
  - name: everything-public
    paths: ["/**"]
    access: public
`;

const METHOD_SETS = ['[GET]', '[POST]', '[PUT, PATCH]', '[DELETE]', '[GET, POST]', '[GET, PUT, DELETE]'] as const;
const ACCESS = ['authenticated', 'authenticated', 'deny', 'public'] as const;

/** `count` rules: `count - 2` generated API rules with varied methods and access, then the app and the static rule. */
export function generatedPolicy(count: number): string {
  if (count < 2) throw new Error(`a bench policy needs at least 2 rules (got ${count})`);
  const lines = ['version: 1', 'default:', '  access: authenticated', 'rules:'];
  for (let i = 1; i < count - 1; i++) {
    const methods = METHOD_SETS[i % METHOD_SETS.length] as string;
    const access = ACCESS[i % ACCESS.length] as string;
    // Mostly the brief's shape; every 7th rule a glob and every 11th a globstar, for variety.
    const path =
      i % 11 === 0
        ? `/api/v1/resource-${i}/**`
        : i % 7 === 0
          ? `/api/v1/resource-${i}/report-*.csv`
          : `/api/v1/resource-${i}/:id/items/*`;
    lines.push(`  - name: resource-${i}`, `    paths: ["${path}"]`, `    methods: ${methods}`, `    access: ${access}`);
  }
  return `${lines.join('\n')}\n${APP_RULE}${STATIC_RULE}`;
}

export interface PolicyFiles {
  readonly small: string;
  readonly large: string;
  readonly open: string;
  readonly smallRules: number;
  readonly largeRules: number;
}

export function writePolicyFiles(dir: string, smallRules = 10, largeRules = 10_000): PolicyFiles {
  mkdirSync(dir, { recursive: true });
  const small = join(dir, `policy-${smallRules}-rules.yaml`);
  const large = join(dir, `policy-${largeRules}-rules.yaml`);
  const open = join(dir, 'policy-open.yaml');
  writeFileSync(small, generatedPolicy(smallRules));
  writeFileSync(large, generatedPolicy(largeRules));
  writeFileSync(open, OPEN_POLICY);
  return { small, large, open, smallRules, largeRules };
}
