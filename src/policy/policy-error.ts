/**
 * Every problem with a policy (YAML syntax, schema, compilation) or a policy test file is reported
 * the same way: `file:line:column: plain message`, one line per issue.
 */

export interface PolicyIssue {
  readonly file: string;
  /** 1-based; 0 when the position is unknown (e.g. a directory without policy files). */
  readonly line: number;
  /** 1-based; 0 when the position is unknown. */
  readonly column: number;
  readonly message: string;
}

function formatIssue(issue: PolicyIssue): string {
  if (issue.line <= 0) return `${issue.file}: ${issue.message}`;
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`;
}

/** Files keep the order in which they first appear; within a file, issues are sorted by position. */
function sortIssues(issues: readonly PolicyIssue[]): PolicyIssue[] {
  const fileOrder = new Map<string, number>();
  for (const issue of issues) if (!fileOrder.has(issue.file)) fileOrder.set(issue.file, fileOrder.size);
  const rank = (issue: PolicyIssue): number => fileOrder.get(issue.file) ?? 0;
  return [...issues].sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.column - b.column);
}

export class PolicyError extends Error {
  readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[]) {
    const sorted = sortIssues(issues);
    super(sorted.length === 0 ? 'invalid policy' : sorted.map(formatIssue).join('\n'));
    this.name = 'PolicyError';
    this.issues = sorted;
  }
}
