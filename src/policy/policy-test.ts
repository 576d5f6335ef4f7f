/**
 * `policy test`: a YAML file of requests and the decisions the policy must give them, so a security
 * team can change a policy and see at once what it changed.
 *
 *   policy: ../policies/smartpush.yaml     # relative to this file; the caller may override it
 *   cases:
 *     - name: static assets are public      # optional
 *       method: GET
 *       path: /static/app.css                # raw request target: //x, /a/../b, %2e… are canonicalised first;
 *                                            # a query is decided on too: /doku.php?do=login
 *       # or, instead of method and path:  request: GET /doku.php?do=login
 *       host: app.example.com                # optional
 *       user: anonymous                      # anonymous | authenticated | {authenticated, two_factor, risk, fresh}
 *                                            # (in the mapping form authenticated defaults to true, risk to
 *                                            # "not assessed", which is decided as high)
 *       expect:
 *         rule: static-assets                # optional
 *         decision: pass                     # pass | login_required | deny | reject | intercept_login
 *                                            # | intercept_logout | step_up_required
 *         action: email_code                 # optional, only with step_up_required
 *         params: { id: "42" }               # optional
 *         remember: false                    # optional: may a sign-in returning here be remembered, as far as
 *                                            # the policy's remember_browser says (the config may still turn it off)
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { explainRequest } from './explain.ts';
import type { ExplainResult } from './explain.ts';
import { loadPolicy } from './load.ts';
import { PolicyError } from './policy-error.ts';
import type { CompiledPolicy, UserState } from './types.ts';
import { parseYamlSource, validateSource } from './yaml-source.ts';
import { policyTestFileSchema, type ExpectedDecision, type PolicyTestCase } from './policy-test-schema.ts';
import type { Position } from './yaml-source.ts';


interface ExpectedOutcome {
  readonly decision: ExpectedDecision;
  readonly rule?: string;
  readonly action?: 'email_code' | 'fresh_code' | 'phishing_resistant';
  readonly params?: Readonly<Record<string, string>>;
  readonly grace?: boolean;
  readonly remember?: boolean;
}

interface ActualOutcome {
  readonly decision: ExpectedDecision;
  /** null when the target was rejected before any rule was consulted. */
  readonly rule: string | null;
  readonly action: 'email_code' | 'fresh_code' | 'phishing_resistant' | null;
  /** two_factor_required only: "Not now" still offered. */
  readonly grace?: boolean;
  readonly params: Readonly<Record<string, string>>;
  /** remember_browser: the policy lets a sign-in returning here be remembered (false when rejected). */
  readonly remember?: boolean;
  /** The canonical path, or the reason for rejecting the target. */
  readonly path: string | null;
  readonly reasons: readonly string[];
}

interface PolicyTestResult {
  readonly name: string;
  readonly ok: boolean;
  readonly expected: ExpectedOutcome;
  readonly actual: ActualOutcome;
  /** Where the case is written. */
  readonly location: Position;
  /** What differs, when not ok. */
  readonly message: string | null;
}

interface PolicyTestReport {
  readonly file: string;
  /** Where the policy came from. */
  readonly policy: string;
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly PolicyTestResult[];
}

interface RunPolicyTestsOptions {
  /** Use this policy file or directory instead of the one the test file names (relative to the cwd). */
  readonly policyPath?: string | undefined;
  /** Use this compiled policy (takes precedence over policyPath). */
  readonly policy?: CompiledPolicy | undefined;
}

function toUser(user: PolicyTestCase['user']): UserState {
  if (!user || !user.authenticated) return { authenticated: false };
  return {
    authenticated: true,
    twoFactorEnabled: user.two_factor,
    ...(user.risk ? { risk: user.risk } : {}),
    fresh: user.fresh,
    freshPhishingResistant: user.fresh,
    ...(user.grace ? { twoFactorGrace: user.grace } : {}),
  };
}

function outcome(result: ExplainResult, policy: CompiledPolicy): ActualOutcome {
  if (result.rejected !== null) {
    return { decision: 'reject', rule: null, action: null, params: {}, remember: false, path: result.rejected, reasons: [result.rejected] };
  }
  const spec = policy.rememberBrowser ?? null;
  const remember = spec === null || (spec.enabled && !spec.exceptRules.includes(result.rule.name));
  const d = result.decision;
  const decision: ExpectedDecision = d.kind === 'intercept' ? `intercept_${d.intercept}` : d.kind;
  return {
    decision,
    rule: result.rule.name,
    action: d.kind === 'step_up_required' ? d.action : null,
    ...(d.kind === 'two_factor_required' ? { grace: d.grace } : {}),
    params: result.params,
    remember,
    path: result.path,
    reasons: result.reasons,
  };
}

function differences(expected: ExpectedOutcome, actual: ActualOutcome): string | null {
  const problems: string[] = [];
  const shown = (a: ActualOutcome): string =>
    a.decision === 'reject'
      ? `reject (${a.path})`
      : `${a.decision}${a.action ? ` (${a.action})` : ''} by rule "${a.rule}"`;
  if (expected.decision !== actual.decision) problems.push(`expected decision ${expected.decision}, got ${shown(actual)}`);
  else if (expected.action !== undefined && expected.action !== actual.action) {
    problems.push(`expected action ${expected.action}, got ${actual.action ?? 'none'}`);
  } else if (expected.grace !== undefined && expected.grace !== actual.grace) {
    problems.push(`expected grace ${expected.grace}, got ${actual.grace ?? 'none'}`);
  }
  if (expected.rule !== undefined && expected.rule !== actual.rule) {
    problems.push(`expected rule "${expected.rule}", got ${actual.rule === null ? 'none (rejected)' : `"${actual.rule}"`}`);
  }
  if (expected.remember !== undefined && expected.remember !== actual.remember) {
    problems.push(`expected remember ${expected.remember}, got ${String(actual.remember ?? false)} (remember_browser)`);
  }
  if (expected.params !== undefined && !isDeepStrictEqual({ ...expected.params }, { ...actual.params })) {
    problems.push(`expected params ${JSON.stringify(expected.params)}, got ${JSON.stringify(actual.params)}`);
  }
  return problems.length > 0 ? problems.join('; ') : null;
}

/** Run one test file against a compiled policy. */
export function runPolicyTestCases(
  policy: CompiledPolicy,
  cases: readonly PolicyTestCase[],
  locate: (index: number) => Position,
): PolicyTestResult[] {
  return cases.map((c, i) => {
    const user = toUser(c.user);
    const result = explainRequest(policy, { method: c.method, rawPath: c.path, host: c.host, user });
    const actual = outcome(result, policy);
    const expected: ExpectedOutcome = {
      decision: c.expect.decision,
      ...(c.expect.rule !== undefined ? { rule: c.expect.rule } : {}),
      ...(c.expect.action !== undefined ? { action: c.expect.action } : {}),
      ...(c.expect.grace !== undefined ? { grace: c.expect.grace } : {}),
      ...(c.expect.params !== undefined ? { params: c.expect.params } : {}),
      ...(c.expect.remember !== undefined ? { remember: c.expect.remember } : {}),
    };
    const message = differences(expected, actual);
    return {
      name: c.name ?? `${c.method} ${c.path}${c.host ? ` (host ${c.host})` : ''}`,
      ok: message === null,
      expected,
      actual,
      location: locate(i),
      message,
    };
  });
}

/**
 * Run a YAML file of policy test cases. Throws PolicyError when the test file or the policy is
 * invalid; failing cases are reported in the result, not thrown.
 */
export async function runPolicyTests(file: string, options: RunPolicyTestsOptions = {}): Promise<PolicyTestReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PolicyError([
      { file, line: 0, column: 0, message: `cannot read the test file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` },
    ]);
  }
  const parsed = parseYamlSource(text, file);
  if (!parsed.ok) throw new PolicyError(parsed.issues);
  const source = parsed.source;
  const validated = validateSource(source, policyTestFileSchema);
  if (!validated.ok) throw new PolicyError(validated.issues);
  const doc = validated.value;

  let policy = options.policy;
  let policyOrigin = policy?.origin;
  if (!policy) {
    let policyPath = options.policyPath;
    if (policyPath === undefined) {
      if (doc.policy === undefined) {
        throw new PolicyError([source.issue([], 'the test file names no policy: add "policy: <file or directory>" (relative to this file)')]);
      }
      policyPath = isAbsolute(doc.policy) ? doc.policy : join(dirname(file), doc.policy);
    }
    policy = await loadPolicy(policyPath);
    policyOrigin = policyPath;
  }

  const results = runPolicyTestCases(policy, doc.cases, (i) => source.locate(['cases', i]));
  const failed = results.filter((r) => !r.ok).length;
  return { file, policy: policyOrigin ?? policy.origin, passed: results.length - failed, failed, results };
}

/** One line per case, failures with their location and what differs, then a summary. */
export function formatTestReport(report: PolicyTestReport): string {
  const lines: string[] = [];
  for (const r of report.results) {
    if (r.ok) lines.push(`ok    ${r.name}`);
    else lines.push(`FAIL  ${r.name}`, `      ${r.location.file}:${r.location.line}:${r.location.column}: ${r.message}`);
  }
  lines.push(`${report.passed} passed, ${report.failed} failed (${report.file} against ${report.policy})`);
  return `${lines.join('\n')}\n`;
}
