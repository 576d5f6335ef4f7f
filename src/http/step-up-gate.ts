import type { Context } from 'koa';
import { passkeyStepUpKey, type StepUpFlow } from '../flows/step-up.ts';
import type { Logger } from '../observability/logger.ts';
import { explainRisk } from '../risk/assess.ts';
import type { RiskService } from '../risk/service.ts';
import { cookieName, readCookies } from '../session/cookies.ts';
import type { Clock } from '../core/clock.ts';
import type { SensitiveFacts } from '../access/ports.ts';
import type { StepUpAnswer } from './answer.ts';

/** Sensitive rules (DESIGN §3): the facts a decision needs (access/) and how a step-up is asked for. */
export type SensitiveGate = SensitiveFacts & StepUpAnswer;
import { sendError, setOwnResponseHeaders, wantsHtml } from './answer.ts';
import { safeReturnTo } from './return-to.ts';

/**
 * Sensitive operations: the gate the enforcement point consults (risk level and step-up
 * freshness), and the answer when a step-up is owed (303 to the step-up page, or 401 for API
 * clients). The step-up page and API are step-up.ts.
 */

export interface StepUpGateDeps {
  readonly flow: StepUpFlow;
  readonly risk: RiskService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly publicOrigin?: string | undefined;
}

const stepUpUrl = (returnTo: string): string => `/_guard/step-up?return_to=${encodeURIComponent(returnTo)}`;

export function createStepUpGate(deps: StepUpGateDeps): SensitiveGate {
  const { flow, risk, logger } = deps;
  const gate: SensitiveGate = {
    async userState(identity, spec, req, client, requestId) {
      const session = identity.session;
      if (!session) return identity.user;
      // The operation is counted before it is assessed, so a burst includes the request at hand.
      await risk.countSensitiveOperation(session.user);
      const secure = deps.publicOrigin !== undefined ? deps.publicOrigin.startsWith('https:') : client.proto === 'https';
      const assessment = await risk.assess({
        user: session.user,
        deviceCookie: readCookies(req.headers.cookie)[cookieName('device', secure)],
        clientAddress: client.address,
        userAgent: req.headers['user-agent'] ?? '',
        category: spec.category,
        context: { requestId },
      });
      if (assessment.level !== 'low') {
        logger.info(
          { event: 'risk_assessed', user: session.user, category: spec.category, level: assessment.level, score: assessment.score, signals: explainRisk(assessment) },
          'sensitive operation risk assessed',
        );
      }
      const at = session.stepUps?.[spec.category];
      const fresh = at !== undefined && deps.clock.now() - at < spec.freshForMs;
      const byPasskey = session.stepUps?.[passkeyStepUpKey(spec.category)];
      const freshPhishingResistant = byPasskey !== undefined && deps.clock.now() - byPasskey < spec.freshForMs;
      return { ...identity.user, risk: assessment.level, fresh, freshPhishingResistant };
    },
    async requireStepUp(ctx, identity, spec, action, target) {
      if (!identity.session) return;
      const record = await flow.require(identity.session, spec, action, target.forwarded, {
        from: cameFrom(ctx, target.forwarded),
        retry: ctx.method === 'GET' || ctx.method === 'HEAD' ? 'get' : 'other',
      });
      const url = stepUpUrl(target.forwarded);
      setOwnResponseHeaders(ctx);
      if (wantsHtml(ctx.req.headers)) {
        ctx.status = 303;
        ctx.redirect(url);
        return;
      }
      if (record.action === 'phishing_resistant') {
        // Stable codes for API clients: a passkey is needed, and whether the account has one.
        if (!(await flow.hasPasskey(identity.session.user))) {
          return sendError(ctx, 403, 'phishing_resistant_required', 'This operation needs a passkey or security key, and your account has none. Add one under Login & Security first.', { security_url: '/_guard/security/passkeys' });
        }
        return sendError(ctx, 401, 'step_up_required', 'This operation needs a fresh verification with a passkey.', { step_up_url: url, method: 'passkey' });
      }
      sendError(ctx, 401, 'step_up_required', 'This operation needs a fresh verification.', { step_up_url: url, method: record.method });
    },
  };

  /**
   * The same-origin page the operation was asked from (its Referer), for "back to where you were";
   * undefined when unknown, another site, the operation itself or a sidecar page.
   */
  const cameFrom = (ctx: Context, target: string): string | undefined => {
    const referer = ctx.get('referer');
    if (!referer) return undefined;
    let url: URL;
    try {
      url = new URL(referer);
    } catch {
      return undefined;
    }
    const sameSite = deps.publicOrigin !== undefined ? url.origin === new URL(deps.publicOrigin).origin : url.host === ctx.get('host');
    if (!sameSite) return undefined;
    const path = safeReturnTo(`${url.pathname}${url.search}`, '');
    return path === '' || path === target ? undefined : path;
  };

  return gate;
}
