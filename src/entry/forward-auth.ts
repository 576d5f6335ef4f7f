import type { IncomingMessage } from 'node:http';
import { isIP, type BlockList } from 'node:net';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from '../observability/logger.ts';
import type { ClientFacts } from '../proxy/client-address.ts';
import { normaliseAddress } from '../proxy/client-address.ts';
import { canonicalHost } from '../proxy/host.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import { createAccess } from '../access/decide.ts';
import type { IdentityResolver, MandateFacts, SensitiveFacts } from '../access/ports.ts';
import { GUARD_PREFIX, GuardRouteTable, type GuardRoute } from '../access/routing.ts';
import type { GuardState } from '../http/guard-http.ts';
import { ANSWER_MESSAGES, answerIngressRedirect, answerStoreUnavailable, sendError, wantsHtml, type MandateAnswer, type StepUpAnswer } from '../http/answer.ts';

/**
 * Forward-auth: the sidecar decides, an ingress it does not replace proxies. nginx `auth_request`,
 * Traefik/Caddy `forwardAuth` and Envoy's HTTP `ext_authz` each ask, per request, "may this
 * request go on?", naming the original method, URL and host in their own headers. The answer comes
 * from the same access decision as the full proxy's (access/decide.ts: canonical target, policy
 * rule, identity, risk and freshness, one AccessResult), so a policy decides alike in both modes (the parity suite,
 * test/integration/forward-auth-nginx.test.ts, runs one matrix through both).
 *
 * The ingress's headers are believed only from `forward_auth.trusted` addresses: anyone else is
 * refused (403) before anything is read. What forward-auth cannot do (README "Forward-auth"):
 * withhold the app's own cookies from the browser, clean the app's responses, or see bodies.
 */

export type Ingress = 'nginx' | 'traefik' | 'envoy';

export interface ForwardAuthOptions {
  readonly policy: () => CompiledPolicy;
  readonly identity: IdentityResolver;
  readonly sensitive: SensitiveFacts & StepUpAnswer;
  readonly trusted: BlockList;
  /** Response header naming the signed-in account, for the ingress to pass on (e.g. X-Auth-User). */
  readonly userHeader: string;
  /**
   * Response header carrying the app's session cookie(s) bound to the sidecar session, for the
   * ingress to send upstream as the Cookie header (so the app still never trusts the browser's).
   */
  readonly upstreamCookieHeader: string;
  readonly logger: Logger;
  /** Policy `require_2fa` (server/required-two-factor.ts), decided as in the full proxy. */
  readonly requireTwoFactor?: MandateFacts & MandateAnswer;
}

/** The original request as an ingress describes it. */
interface Original {
  readonly method: string;
  /** Origin-form target: path and query, as the client sent them. */
  readonly target: string;
  readonly host: string | undefined;
  readonly proto: 'http' | 'https';
}

const NO_GUARD_ROUTES = new GuardRouteTable([]);
const FORWARD_AUTH_PREFIX = `${GUARD_PREFIX}/forward-auth`;

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value)?.trim() || undefined;
const protoOf = (value: string | undefined): 'http' | 'https' => (value?.toLowerCase() === 'https' ? 'https' : 'http');

/** Reads the original request from the ingress's headers; null when they do not name one. */
function originalOf(ingress: Ingress, req: IncomingMessage): Original | { problem: string } {
  const h = req.headers;
  if (ingress === 'nginx') {
    // proxy_set_header X-Original-URL $scheme://$http_host$request_uri; X-Original-Method $request_method
    const raw = first(h['x-original-url']);
    const method = first(h['x-original-method']);
    if (!raw || !method) return { problem: 'X-Original-URL and X-Original-Method are required (see deploy/forward-auth/nginx.conf)' };
    const match = /^(https?):\/\/([^/?#]+)([^#]*)$/i.exec(raw);
    if (!match) return { problem: 'X-Original-URL must be an absolute http(s) URL' };
    const target = match[3] || '/';
    return { method: method.toUpperCase(), target: target.startsWith('/') ? target : `/${target}`, host: match[2], proto: protoOf(match[1]) };
  }
  if (ingress === 'traefik') {
    // Traefik and Caddy: X-Forwarded-Method, -Proto, -Host, -Uri.
    const method = first(h['x-forwarded-method']);
    const target = first(h['x-forwarded-uri']);
    if (!method || !target) return { problem: 'X-Forwarded-Method and X-Forwarded-Uri are required' };
    if (!target.startsWith('/')) return { problem: 'X-Forwarded-Uri must be a path' };
    return { method: method.toUpperCase(), target, host: first(h['x-forwarded-host']), proto: protoOf(first(h['x-forwarded-proto'])) };
  }
  // Envoy ext_authz (HTTP service, path_prefix /_guard/forward-auth/envoy): the check request keeps
  // the original method and Host and appends the original path and query to the prefix.
  const url = req.url ?? '';
  const prefix = `${FORWARD_AUTH_PREFIX}/envoy`;
  const target = url.slice(prefix.length) || '/';
  if (!url.startsWith(prefix) || !target.startsWith('/')) return { problem: 'the original path must follow the path prefix' };
  return { method: (req.method ?? 'GET').toUpperCase(), target, host: first(h['x-forwarded-host']) ?? first(h['host']), proto: protoOf(first(h['x-forwarded-proto'])) };
}

/** The client as the trusted ingress saw it: the last address it appended to X-Forwarded-For. */
function clientOf(req: IncomingMessage, original: Original): ClientFacts {
  const chain = (first(req.headers['x-forwarded-for']) ?? '')
    .split(',')
    .map((a) => normaliseAddress(a.trim()))
    .filter((a) => isIP(a) !== 0);
  const realIp = first(req.headers['x-real-ip']);
  const address = chain[chain.length - 1] ?? (realIp && isIP(realIp) !== 0 ? normaliseAddress(realIp) : normaliseAddress(req.socket.remoteAddress));
  const host = canonicalHost(original.host);
  const hostFacts = host.ok ? { host: host.host.header, hostname: host.host.hostname } : { host: '', hostname: '', hostProblem: host.reason };
  return { address, forwardedFor: address, proto: original.proto, ...hostFacts, peerTrusted: true };
}

export function createForwardAuthRoutes(options: ForwardAuthOptions): Array<GuardRoute & { register(router: Router): void }> {
  // The ingress routes /_guard/ to the sidecar itself, so no sidecar route is decided here.
  const access = createAccess({
    policy: options.policy,
    guardRoutes: NO_GUARD_ROUTES,
    identity: options.identity,
    sensitive: options.sensitive,
    mandate: options.requireTwoFactor,
    logger: options.logger,
  });
  const handle = (ingress: Ingress) => async (ctx: Context): Promise<void> => {
    const state = ctx.state as GuardState;
    const peer = normaliseAddress(ctx.req.socket.remoteAddress);
    if (!options.trusted.check(peer, isIP(peer) === 6 ? 'ipv6' : 'ipv4')) {
      options.logger.warn({ requestId: state.requestId, peer }, 'forward-auth request from an address not in forward_auth.trusted: refused');
      sendError(ctx, 403, 'untrusted_ingress', 'Forward-auth answers only the ingress addresses listed in forward_auth.trusted.');
      return;
    }
    const original = originalOf(ingress, ctx.req);
    if ('problem' in original) {
      sendError(ctx, 400, 'bad_forward_auth_request', `The ingress did not describe the original request: ${original.problem}.`);
      return;
    }
    const client = clientOf(ctx.req, original);
    const routing = access.route(original.method, original.target, client);
    const facts = await access.gather(routing, ctx.req, client, state.requestId, 'ingress');
    const result = access.decide(routing, facts, 'ingress', ctx.req.headers);
    // nginx's auth_request passes on only 2xx, 401 and 403: a redirect travels as 401 + Location.
    const redirect = (location: string): void => answerIngressRedirect(ctx, location, ingress === 'nginx' ? 401 : 302);
    if (result.kind === 'reject') {
      // nginx turns any auth answer but 2xx, 401 and 403 into a 500: a refused address is a 403 there.
      const status = ingress === 'nginx' ? 403 : result.status;
      sendError(ctx, status, result.status === 421 ? 'unknown_host' : 'bad_request', `The request address (path, query or host) was refused: ${result.reason}.`);
      return;
    }
    // The sidecar's own pages enforce their own access; the ingress routes them to the sidecar.
    if (result.kind === 'sidecar_route' || result.kind === 'own_route') {
      ctx.status = 200;
      return;
    }
    state.routing = result.routing;
    state.explanation = result.explanation;
    const identity = result.identity;
    const target = result.routing.target;
    switch (result.kind) {
      case 'forward': {
        ctx.status = 200;
        ctx.body = '';
        if (identity.session) ctx.set(options.userHeader, identity.session.user);
        // The Cookie header the app may see, exactly as the full proxy would send it: the app's
        // session cookies only as bound to this sidecar session (bound pairs first, folded names
        // dropped), the sidecar's own cookies removed. The ingress sends it in place of the
        // browser's, so the app's session still never comes from the browser. Absent: no Cookie.
        const cookie = options.identity.upstreamCookieHeader(ctx.req.headers.cookie, identity);
        if (cookie) ctx.set(options.upstreamCookieHeader, cookie);
        return;
      }
      case 'store_unavailable':
        answerStoreUnavailable(ctx, ANSWER_MESSAGES.storeDownIngress);
        return;
      case 'intercept':
        // The app's own login and logout URLs lead to the sidecar's pages (no body reaches the app);
        // signed in, its login URL shows who is signed in, as in the full proxy (THREATS T22).
        redirect(result.intercept === 'logout' || identity.session ? `${GUARD_PREFIX}/logout` : `${GUARD_PREFIX}/login`);
        return;
      case 'login_required':
        if (wantsHtml(ctx.req.headers)) redirect(result.loginUrl);
        else sendError(ctx, 401, 'login_required', ANSWER_MESSAGES.loginRequired, { login_url: result.loginUrl });
        return;
      case 'deny':
        if (result.code === '2fa_required') sendError(ctx, 403, '2fa_required', ANSWER_MESSAGES.twoFactorRequired);
        else sendError(ctx, 403, 'forbidden', ANSWER_MESSAGES.forbidden);
        return;
      case 'step_up_required':
        await options.sensitive.requireStepUp(ctx, identity, result.spec, result.method, target);
        if (ctx.status === 303) redirect(String(ctx.response.get('Location')));
        return;
      case 'two_factor_setup_required':
        await options.requireTwoFactor?.answer(ctx, identity, result.grace, target);
        if (ctx.status === 303) redirect(String(ctx.response.get('Location')));
        return;
    }
  };
  const register = (path: string, ingress: Ingress) => (router: Router) => router.all(path, handle(ingress));
  return [
    { path: `${FORWARD_AUTH_PREFIX}/nginx`, access: 'public', register: register(`${FORWARD_AUTH_PREFIX}/nginx`, 'nginx') },
    { path: `${FORWARD_AUTH_PREFIX}/traefik`, access: 'public', register: register(`${FORWARD_AUTH_PREFIX}/traefik`, 'traefik') },
    { path: `${FORWARD_AUTH_PREFIX}/envoy`, access: 'public', register: register(`${FORWARD_AUTH_PREFIX}/envoy{/*rest}`, 'envoy') },
  ];
}
