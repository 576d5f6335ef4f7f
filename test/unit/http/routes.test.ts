import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardAccess, mountRoutes } from '../../../src/http/route.ts';
import { routeTable, type RouteDeps } from '../../../src/http/routes.ts';
import { GuardRouteTable, isGuardPath } from '../../../src/access/routing.ts';

/** The route table is read, never called, here: the handlers' deps can be empty stand-ins. */
const deps = (passkeys: boolean): RouteDeps =>
  ({ site: { brandCss: '', logo: null }, ...(passkeys ? { passkeys: {} } : {}) }) as unknown as RouteDeps;

test('every route of the table is a sidecar path, listed once per method', () => {
  const rows = routeTable(deps(true));
  const seen = new Set<string>();
  for (const r of rows) {
    assert.ok(isGuardPath(r.path), `${r.path} is under /_guard/`);
    const key = `${r.method} ${r.path}`;
    assert.ok(!seen.has(key), `${key} is listed once`);
    seen.add(key);
  }
});

test('the access each path gets: sign-in and its pending steps public, everything of an account authenticated', () => {
  const access = new GuardRouteTable(guardAccess(routeTable(deps(true))));
  for (const path of ['/_guard/login', '/_guard/api/login', '/_guard/verify', '/_guard/api/login/verify', '/_guard/api/login/resend', '/_guard/logout', '/_guard/api/logout', '/_guard/verify/passkey', '/_guard/api/login/passkey/options', '/_guard/lang', '/_guard/help/otp', '/_guard/assets/guard.css', '/_guard/assets/passkey.js']) {
    assert.equal(access.lookup(path).access, 'public', path);
  }
  for (const path of ['/_guard/security', '/_guard/security/enable', '/_guard/step-up', '/_guard/step-up/passkey', '/_guard/api/2fa', '/_guard/api/2fa/passkeys', '/_guard/api/sessions/abc/revoke', '/_guard/api/remembered-browsers/abc', '/_guard/two-factor-required', '/_guard/api/2fa/required/skip']) {
    assert.equal(access.lookup(path).access, 'authenticated', path);
  }
});

test('without passkeys none of their routes exist', () => {
  const paths = new Set(routeTable(deps(false)).map((r) => r.path));
  for (const path of ['/_guard/security/passkeys', '/_guard/verify/passkey', '/_guard/api/login/passkey/verify', '/_guard/assets/passkey.js']) assert.ok(!paths.has(path), path);
});

test('a path whose methods disagree on access stops the start', () => {
  const handle = (): void => undefined;
  assert.throws(
    () =>
      mountRoutes([
        { method: 'GET', path: '/_guard/x', who: 'public', handle },
        { method: 'POST', path: '/_guard/x', who: 'authenticated', handle },
      ]),
    /both public and authenticated/,
  );
});
