import { admissionOptions, clientLimitOptions, upstreamOptions } from './options.ts';
import { trustedProxyList, type Config } from '../config/schema.ts';
import type { UpstreamAccount } from '../flows/upstream-account.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { UpstreamAdmission } from '../proxy/admission.ts';
import { cookieNameMatcher } from '../proxy/cookie-names.ts';
import { BUILTIN_STRIPPED_HEADERS, compileHeaderFilter } from '../proxy/headers.ts';
import { Upstream } from '../proxy/forward.ts';
import { isOwnCookie } from '../session/cookies.ts';
import { ClientLimits } from '../entry/client-limits.ts';

/** The proxy side: the upstream pool, who may hold it, and the limits on each client. */
export function buildProxySide(config: Config, account: UpstreamAccount, { metrics, logger }: { metrics: Metrics; logger: Logger }) {
  const { url: upstreamUrl, strippedHeaders, ...upstreamRest } = upstreamOptions(config);
  const upstream = new Upstream({
    ...upstreamRest,
    url: upstreamUrl,
    stripped: compileHeaderFilter([...BUILTIN_STRIPPED_HEADERS, ...strippedHeaders]),
    ownCookie: isOwnCookie,
    upstreamSessionCookie: cookieNameMatcher(account.sessionCookieNames),
    onSendStall: (req, requestId) => {
      metrics.clientLimit('send_timeout');
      logger.warn({ requestId, client: req.socket.remoteAddress, limit: 'send_timeout' }, 'client limit reached: the client stopped reading its response');
    },
    onRetry: (requestId, error) => {
      metrics.upstreamRetry();
      logger.debug({ requestId, err: error }, 'the pooled upstream connection had just been closed: request sent again');
    },
  });
  const trustedProxies = trustedProxyList(config.trusted_proxies);
  const clientLimits = new ClientLimits(clientLimitOptions(config), trustedProxies, config.trusted_proxies.length > 0);
  const admission = new UpstreamAdmission(admissionOptions(config));
  return { upstream, trustedProxies, clientLimits, admission };
}
