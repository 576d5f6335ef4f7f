import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../observability/logger.ts';
import type { Upstream } from '../proxy/forward.ts';
import type { Access } from '../access/decide.ts';
import type { IdentityResolver } from '../access/ports.ts';
import { GUARD_PREFIX } from '../access/routing.ts';
import { ANSWER_MESSAGES, refuseSocket } from '../http/answer.ts';
import type { ClientLimits } from './client-limits.ts';
import { bindUpstreamCookies } from './proxy.ts';
import type { Traffic } from './traffic.ts';

/**
 * Websocket upgrades: the same access decision as HTTP requests (channel `socket`: no risk
 * assessment, no pages), then `proxy.ws` or a JSON refusal on the raw socket.
 */

/** Where a socket refused for want of 2FA tells its page to send the user. */
const ENABLE_URL = `${GUARD_PREFIX}/security/enable`;

export interface UpgradeEntryDeps {
  readonly access: Access;
  readonly traffic: Traffic;
  readonly upstream: Upstream;
  readonly identity: Pick<IdentityResolver, 'upstreamCookieHeader'>;
  readonly requestIdHeader: string;
  readonly logger: Logger;
  readonly clientLimits?: ClientLimits | undefined;
}

export function createUpgradeEntry(deps: UpgradeEntryDeps): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { access, traffic, logger: log } = deps;

  return function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    traffic.inFlight++;
    let counted = true;
    const release = (): void => {
      if (counted) {
        counted = false;
        traffic.inFlight--;
      }
    };
    socket.once('close', release);
    socket.on('error', () => socket.destroy());
    void (async () => {
      const { client, requestId } = traffic.factsOf(req);
      const refuse = (status: number, error: string, extra: Record<string, unknown> = {}): void => {
        refuseSocket(socket, status, error, extra);
        log.info({ requestId, method: req.method, status, client: client.address, upgrade: true, error }, 'upgrade refused');
      };
      if (deps.clientLimits?.overConnectionCap(req.socket)) {
        traffic.refused('connections_per_address', requestId, client);
        refuse(429, 'too_many_connections', { message: ANSWER_MESSAGES.connections });
        return;
      }
      const protocol = (req.headers.upgrade ?? '').toLowerCase();
      if (protocol !== 'websocket' || req.method !== 'GET') {
        refuse(400, 'unsupported_upgrade');
        return;
      }
      if (traffic.draining) {
        refuse(503, 'shutting_down');
        return;
      }
      const routing = access.route('GET', req.url ?? '', client);
      const facts = await access.gather(routing, req, client, requestId, 'socket');
      const result = access.decide(routing, facts, 'socket', req.headers);
      switch (result.kind) {
        case 'forward':
          break;
        case 'reject':
          refuse(result.status, result.status === 421 ? 'unknown_host' : 'bad_request', { message: result.reason });
          return;
        case 'sidecar_route':
        case 'own_route':
          refuse(404, 'not_found');
          return;
        case 'store_unavailable':
          refuse(503, 'store_unavailable', { message: ANSWER_MESSAGES.storeDown });
          return;
        case 'login_required':
          refuse(401, 'login_required', { login_url: result.loginUrl });
          return;
        case 'two_factor_setup_required':
        case 'deny':
          if (result.kind === 'deny' && result.code === 'forbidden') refuse(403, 'forbidden');
          else refuse(403, '2fa_required', { enable_url: ENABLE_URL });
          return;
        // A socket can neither show the step-up page nor the sidecar's sign-in.
        case 'step_up_required':
        case 'intercept':
          refuse(403, 'forbidden');
          return;
      }
      bindUpstreamCookies(deps.identity, req, result.identity);
      deps.upstream.ws(req, socket, head, result.routing.target.forwarded, {
        forwardedFor: client.forwardedFor,
        proto: client.proto,
        host: client.host,
        requestId,
        requestIdHeader: deps.requestIdHeader,
      }, (failure) => {
        if (socket.writable) refuse(502, `upstream_${failure}`);
        else socket.destroy();
      });
      log.info({ requestId, method: 'GET', path: result.routing.target.path, rule: result.routing.match.rule.name, client: client.address, upgrade: true }, 'upgrade');
    })().catch((error: unknown) => {
      log.error({ err: error, upgrade: true }, 'upgrade failed');
      socket.destroy();
    });
  };
}
