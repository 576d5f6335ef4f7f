/**
 * Loading policies from YAML: one file, or a directory whose `*.yaml` / `*.yml` files are read in
 * name order and their rules concatenated. Every problem is a PolicyIssue at `file:line:column`.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { compilePolicy } from './compile.ts';
import type { PolicySourceDocument } from './compile.ts';
import { PolicyError } from './policy-error.ts';
import type { PolicyIssue } from './policy-error.ts';
import { policyDocumentSchema } from './schema.ts';
import type { CompiledPolicy } from './types.ts';
import { parseYamlSource, validateSource } from './yaml-source.ts';
import type { Position, YamlSource } from './yaml-source.ts';

/** File names a policy directory contributes: YAML files, but not policy test files nor hidden files. */
export function isPolicyFileName(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !/\.test\.ya?ml$/i.test(name) && !name.startsWith('.');
}

/** Parse and validate one policy file's text; issues are collected, not thrown. */
function parsePolicySource(
  text: string,
  file: string,
): { ok: true; source: PolicySourceDocument } | { ok: false; issues: PolicyIssue[] } {
  const parsed = parseYamlSource(text, file);
  if (!parsed.ok) return parsed;
  const validated = validateSource(parsed.source, policyDocumentSchema);
  if (!validated.ok) return validated;
  return { ok: true, source: { file, document: validated.value, locate: parsed.source.locate } };
}

/** Compile the text of one policy file. Throws PolicyError. */
export function compilePolicySource(text: string, fileName: string): CompiledPolicy {
  return compilePolicySources([{ text, file: fileName }], fileName);
}

/** Compile several files' texts, in the order given, as one policy. Throws PolicyError. */
export function compilePolicySources(files: readonly { text: string; file: string }[], origin: string): CompiledPolicy {
  const issues: PolicyIssue[] = [];
  const sources: PolicySourceDocument[] = [];
  for (const { text, file } of files) {
    const parsed = parsePolicySource(text, file);
    if (parsed.ok) sources.push(parsed.source);
    else issues.push(...parsed.issues);
  }
  if (issues.length > 0) throw new PolicyError(issues);
  return compilePolicy(sources, origin);
}

/**
 * Compile a policy given as plain values (e.g. built by a program or a test) rather than YAML.
 * Issues name the document path instead of a line. Throws PolicyError.
 */
export function compilePolicyValue(value: unknown, file = '<inline policy>'): CompiledPolicy {
  const locate = (): Position => ({ file, line: 0, column: 0 });
  const source: YamlSource = { file, value, locate, issue: (_path, message) => ({ ...locate(), message }) };
  const validated = validateSource(source, policyDocumentSchema);
  if (!validated.ok) throw new PolicyError(validated.issues);
  return compilePolicy([{ file, document: validated.value }], file);
}

/** Load a policy file, or every policy file in a directory (sorted by name). Throws PolicyError. */
export async function loadPolicy(pathToFileOrDirectory: string): Promise<CompiledPolicy> {
  const origin = pathToFileOrDirectory;
  const fail = (message: string): never => {
    throw new PolicyError([{ file: origin, line: 0, column: 0, message }]);
  };
  let info;
  try {
    info = await stat(origin);
  } catch (error) {
    return fail(`cannot read the policy: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!info.isDirectory()) {
    const text = await readText(origin);
    return compilePolicySources([{ text, file: origin }], origin);
  }
  const names = (await readdir(origin)).filter(isPolicyFileName).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: { text: string; file: string }[] = [];
  for (const name of names) {
    const file = join(origin, name);
    // Follow symlinks (Kubernetes ConfigMaps link each file into ..data/); skip anything not a file.
    const entry = await stat(file).catch(() => null);
    if (!entry?.isFile()) continue;
    files.push({ text: await readText(file), file });
  }
  if (files.length === 0) fail('the directory holds no policy files (*.yaml or *.yml, other than *.test.yaml)');
  return compilePolicySources(files, origin);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new PolicyError([
      { file, line: 0, column: 0, message: `cannot read the policy: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` },
    ]);
  }
}
