import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { createAccess, type Channel, type Facts } from '../../../src/access/decide.ts';
import type { Identity, MandateFacts } from '../../../src/access/ports.ts';
import { GuardRouteTable } from '../../../src/access/routing.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { compilePolicySource } from '../../../src/policy/load.ts';
import type { ClientFacts } from '../../../src/proxy/client-address.ts';
import type { SessionRecord } from '../../../src/session/sessions.ts';
import { StoreUnavailableError } from '../../../src/store/ephemeral.ts';

/** The access decision alone: each result kind, on each channel, from given facts (no HTTP). */

const policy = compilePolicySource(
  [
    'version: 1',
    'intercept:',
    '  login: { paths: ["/login"], methods: [POST] }',
    'rules:',
    '  - { name: public, paths: ["/pub"], access: public }',
    '  - { name: closed, paths: ["/closed"], access: deny }',
    '  - { name: members, paths: ["/members"], access: authenticated }',
    '  - name: export',
    '    paths: ["/export"]',
    '    access: authenticated',
    '    sensitive:',
    '      category: export',
    '      fresh_for: 10m',
    '      without_2fa: { low: deny, medium: deny, high: deny }',
    '      with_2fa: { low: phishing_resistant, medium: phishing_resistant, high: phishing_resistant }',
    '  - { name: reports, paths: ["/reports"], access: authenticated }',
    'require_2fa:',
    '  for: [reports]',
    '',
  ].join('\n'),
  'policies/p.yaml',
);

const client: ClientFacts = { address: '203.0.113.9', forwardedFor: '203.0.113.9', proto: 'https', host: 'app.example.com', hostname: 'app.example.com', peerTrusted: false };
const session = { id: 's1', user: 'ann@example.com', twoFactor: null } as unknown as SessionRecord;
const signedIn: Identity = { user: { authenticated: true, twoFactorEnabled: false }, session };
const withTwoFactor: Identity = { user: { authenticated: true, twoFactorEnabled: true }, session };
const anonymous: Identity = { user: { authenticated: false }, session: null };
const PAGE = { accept: 'text/html' };
const API = { accept: 'application/json' };

function accessWith(options: { identity?: Identity; mandate?: MandateFacts | null; failing?: boolean; known?: Identity | undefined; traced?: boolean } = {}) {
  const identity = options.identity ?? signedIn;
  return createAccess({
    policy: () => policy,
    guardRoutes: new GuardRouteTable([{ path: '/_guard/security', access: 'authenticated' }]),
    identity: {
      resolve: async () => {
        if (options.failing) throw new StoreUnavailableError('down');
        return identity;
      },
      resolveKnown: () => options.known,
    },
    ...(options.traced ? { trace: () => ({ begin: () => ({ end: () => undefined, fail: () => undefined }) }) } : {}),
    sensitive: { userState: async (who) => ({ ...who.user, risk: 'low', fresh: true, freshPhishingResistant: false }) },
    ...(options.mandate === null ? {} : { mandate: options.mandate ?? { userState: async (_who, user) => ({ ...user, twoFactorGrace: 'prompt' as const }) } }),
    logger: createLogger('silent'),
  });
}

async function check(path: string, channel: Channel, headers: Record<string, string>, options: Parameters<typeof accessWith>[0] = {}, method = 'GET') {
  const access = accessWith(options);
  const routing = access.route(method, path, client);
  const req = { headers } as unknown as IncomingMessage;
  const facts: Facts = await access.gather(routing, req, client, 'r1', channel);
  return access.decide(routing, facts, channel, headers);
}

describe('access: one decision for every entry', () => {
  it('forwards what passes, and hands the sidecar\'s own routes to them (HTTP only)', async () => {
    assert.equal((await check('/pub', 'http', PAGE, { identity: anonymous })).kind, 'forward');
    assert.equal((await check('/members', 'http', PAGE)).kind, 'forward');
    assert.equal((await check('/_guard/security', 'http', PAGE)).kind, 'own_route');
    assert.equal((await check('/_guard/security', 'socket', API)).kind, 'sidecar_route');
    assert.equal((await check('/_guard/security', 'ingress', API)).kind, 'sidecar_route');
  });

  it('refuses an ambiguous target before anything is looked up', async () => {
    const result = await check('/a/%2e%2e%2fsecret', 'http', PAGE, { failing: true });
    assert.equal(result.kind, 'reject');
  });

  it('says what is owed: sign-in, an intercepted login, a step-up with its method, denial', async () => {
    const login = await check('/members?x=1', 'http', PAGE, { identity: anonymous });
    assert.equal(login.kind, 'login_required');
    assert.equal(login.kind === 'login_required' && login.loginUrl, '/_guard/login?return_to=%2Fmembers%3Fx%3D1');
    const intercept = await check('/login', 'http', PAGE, { identity: anonymous }, 'POST');
    assert.equal(intercept.kind === 'intercept' && intercept.intercept, 'login');
    const stepUp = await check('/export', 'http', API, { identity: withTwoFactor });
    assert.equal(stepUp.kind, 'step_up_required');
    assert.equal(stepUp.kind === 'step_up_required' && stepUp.method, 'phishing_resistant');
    const closed = await check('/closed', 'http', PAGE);
    assert.equal(closed.kind === 'deny' && closed.code, 'forbidden');
  });

  it('a websocket is decided on the identity alone: no freshness, so a sensitive rule is a step-up it cannot take', async () => {
    const result = await check('/export', 'socket', API, { identity: withTwoFactor });
    assert.equal(result.kind, 'step_up_required');
  });

  it('require_2fa in the grace period: a page is asked to set up 2FA, an API client and a socket go on', async () => {
    assert.equal((await check('/reports', 'http', PAGE)).kind, 'two_factor_setup_required');
    assert.equal((await check('/reports', 'http', API)).kind, 'forward');
    assert.equal((await check('/reports', 'socket', PAGE)).kind, 'forward');
    assert.equal((await check('/reports', 'ingress', API)).kind, 'forward');
  });

  it('require_2fa without the mandate service fails closed', async () => {
    const result = await check('/reports', 'http', API, { mandate: null });
    assert.equal(result.kind === 'deny' && result.code, '2fa_required');
  });

  it('fails closed when the store is down: public routes go on, anything needing a session is refused', async () => {
    assert.equal((await check('/pub', 'http', PAGE, { failing: true })).kind, 'forward');
    assert.equal((await check('/members', 'http', PAGE, { failing: true })).kind, 'store_unavailable');
    assert.equal((await check('/members', 'socket', API, { failing: true })).kind, 'store_unavailable');
    const closed = await check('/closed', 'http', PAGE, { failing: true });
    assert.equal(closed.kind === 'deny' && closed.code, 'forbidden', 'a rule that denies everyone says so, store or no store (every entry alike)');
    assert.equal((await check('/closed', 'ingress', API, { failing: true })).kind, 'deny');
  });
});

describe('access: facts known without waiting (the hot path)', () => {
  const known = (path: string, headers: Record<string, string | undefined>, options: Parameters<typeof accessWith>[0] = {}, channel: Channel = 'http') => {
    const access = accessWith(options);
    const routing = access.route('GET', path, client);
    return access.knownFacts(routing, { headers } as unknown as IncomingMessage, client, channel);
  };
  const COOKIE = { cookie: 'spg_session=x' };

  it('no cookie: anonymous at once, on every rule', () => {
    for (const path of ['/pub', '/members', '/export', '/reports']) {
      const facts = known(path, {});
      assert.equal(facts?.identity.session, null, path);
      assert.equal(facts?.user.authenticated, false, path);
    }
  });

  it('a session the resolver knows decides a rule that needs nothing more, as gather would', async () => {
    for (const path of ['/pub', '/members', '/_guard/security']) {
      const facts = known(path, COOKIE, { known: signedIn });
      assert.equal(facts?.identity, signedIn, path);
      const access = accessWith({ identity: signedIn });
      const routing = access.route('GET', path, client);
      assert.deepEqual(facts, await access.gather(routing, { headers: COOKIE } as unknown as IncomingMessage, client, 'r1', 'http'), path);
    }
    assert.equal(known('/reports', COOKIE, { known: withTwoFactor })?.identity, withTwoFactor, 'require_2fa, and the user has it');
  });

  it('anything that needs a lookup goes to gather', () => {
    assert.equal(known('/members', COOKIE, { known: undefined }), null, 'the resolver cannot tell at once');
    assert.equal(known('/export', COOKIE, { known: signedIn }), null, 'a sensitive rule needs risk and freshness');
    assert.equal(known('/reports', COOKIE, { known: signedIn }), null, 'require_2fa without 2FA needs the grace state');
    assert.equal(known('/members', COOKIE, { known: signedIn, traced: true }), null, 'a traced request, for its spans');
    assert.equal(known('/members', {}, { traced: true }), null);
  });

  it('a websocket upgrade of a sensitive rule is decided on the identity alone, as gather does', () => {
    assert.equal(known('/export', COOKIE, { known: signedIn }, 'socket')?.identity, signedIn);
  });
});
