import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import Koa from 'koa';
import { ANONYMOUS } from '../../../src/access/ports.ts';
import type { AccessResult } from '../../../src/access/result.ts';
import { CONTENT_SECURITY_POLICY, answerRefusal, redirect, refuseSocket, sendJson } from '../../../src/http/answer.ts';

/** The one answer module: every refusal of the access decision, with the own headers on each. */

function contextFor(headers: Record<string, string>) {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/members';
  req.headers = headers;
  const res = new ServerResponse(req);
  return new Koa().createContext(req, res);
}

const decided = { routing: { kind: 'routed' }, explanation: {}, identity: ANONYMOUS } as unknown as Omit<Extract<AccessResult, { kind: 'deny' }>, 'kind' | 'code'>;

describe('answer: the access decision\'s refusals', () => {
  it('sign-in: 303 for a page, 401 JSON with login_url for an API client, both with the own headers', () => {
    const page = contextFor({ accept: 'text/html' });
    answerRefusal(page, { ...decided, kind: 'login_required', loginUrl: '/_guard/login?return_to=%2Fmembers' });
    assert.equal(page.status, 303);
    assert.equal(page.response.get('Location'), '/_guard/login?return_to=%2Fmembers');
    assert.equal(page.response.get('Content-Security-Policy'), CONTENT_SECURITY_POLICY);
    const api = contextFor({ accept: 'application/json' });
    answerRefusal(api, { ...decided, kind: 'login_required', loginUrl: '/_guard/login' });
    assert.equal(api.status, 401);
    assert.deepEqual(JSON.parse(String(api.body)), { error: 'login_required', message: 'Sign in to continue.', login_url: '/_guard/login' });
    assert.equal(api.response.get('Cache-Control'), 'no-store');
  });

  it('denied, 2FA required, store down (with Retry-After), refused target', () => {
    const cases: Array<[AccessResult, number, string]> = [
      [{ ...decided, kind: 'deny', code: 'forbidden' }, 403, 'forbidden'],
      [{ ...decided, kind: 'deny', code: '2fa_required' }, 403, '2fa_required'],
      [{ ...decided, kind: 'store_unavailable' }, 503, 'store_unavailable'],
      [{ kind: 'reject', status: 400, reason: 'an encoded slash' }, 400, 'bad_request'],
      [{ kind: 'reject', status: 421, reason: 'unknown host' }, 421, 'unknown_host'],
    ];
    for (const [result, status, error] of cases) {
      const ctx = contextFor({ accept: 'application/json' });
      assert.equal(answerRefusal(ctx, result), true);
      assert.equal(ctx.status, status);
      assert.equal((JSON.parse(String(ctx.body)) as { error: string }).error, error);
      assert.equal(ctx.response.get('X-Frame-Options'), 'DENY');
      if (status === 503) assert.equal(ctx.response.get('Retry-After'), '5');
    }
  });

  it('leaves results that start a flow or pass to their entry', () => {
    const ctx = contextFor({});
    assert.equal(answerRefusal(ctx, { ...decided, kind: 'forward' }), false);
    assert.equal(answerRefusal(ctx, { kind: 'sidecar_route' }), false);
  });

  it('redirects and JSON answers carry the own headers', () => {
    const ctx = contextFor({});
    redirect(ctx, '/_guard/security');
    assert.equal(ctx.status, 303);
    assert.equal(ctx.response.get('Referrer-Policy'), 'no-referrer');
    const json = contextFor({});
    sendJson(json, { status: 'ok' });
    assert.equal(json.status, 200);
    assert.equal(json.response.get('Content-Security-Policy'), CONTENT_SECURITY_POLICY);
  });

  it('a websocket refusal is a complete HTTP/1.1 answer on the raw socket, then the socket closes', () => {
    let written = '';
    let destroyed = false;
    refuseSocket({ end: (data) => (written = data), destroy: () => (destroyed = true) }, 401, 'login_required', { login_url: '/_guard/login' });
    const body = '{"error":"login_required","login_url":"/_guard/login"}';
    assert.equal(written, `HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.equal(destroyed, true);
  });
});
