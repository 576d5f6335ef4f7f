import type { AuditRecorder } from '../audit/audit.ts';
import type { Logger } from '../observability/logger.ts';
import type { PolicyHolder } from '../policy/watch.ts';

/**
 * Every policy reload told to the operator and to the audit trail: a failure keeps the previous
 * policy, a change that weakens sensitive rules is held until SIGHUP confirms it.
 */
export function reportPolicyReloads(policy: PolicyHolder, deps: { logger: Logger; audit: AuditRecorder; policyPath: string }): void {
  const { logger, audit } = deps;
  policy.watch((event) => {
    if (event.outcome === 'failure') {
      logger.error({ origin: event.origin, error: String(event.error) }, 'policy reload failed; keeping the previous policy');
      audit.record({
        event: 'policy_reload',
        outcome: 'failure',
        reason: String(event.error).slice(0, 500),
        details: { origin: String(event.origin), file: deps.policyPath },
      });
      return;
    }
    const { diff } = event;
    const summary = { added: diff.added, removed: diff.removed, changed: diff.changed };
    for (const weakening of diff.weakened) logger.warn({ origin: event.origin, weakening }, `policy reload weakens protection: ${weakening}`);
    if (event.outcome === 'held') {
      logger.warn(
        { origin: event.origin, ...summary, weakened: diff.weakened },
        'policy change held: it weakens sensitive rules; the previous policy stays in force until SIGHUP confirms the change',
      );
    } else {
      logger.info({ origin: event.origin, ...summary, weakened: diff.weakened }, 'policy reloaded');
    }
    audit.record({
      event: 'policy_reload',
      outcome: event.outcome === 'held' ? 'failure' : 'success',
      ...(event.outcome === 'held' ? { reason: 'held: weakens sensitive rules; send SIGHUP to apply' } : {}),
      details: {
        origin: String(event.origin),
        file: deps.policyPath,
        added: diff.added.join(',').slice(0, 500),
        removed: diff.removed.join(',').slice(0, 500),
        changed: diff.changed.join(',').slice(0, 500),
        weakened: diff.weakened.join('; ').slice(0, 1000),
      },
    });
  });
}
