import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import {
  CookieJar,
  apiSignIn,
  form,
  openLoginPage,
  sameOriginForm,
  send,
  setCookieFor,
  startRecordedStack,
  type RecordedRequest,
  type RecordedStack,
  type Reply,
} from '../helpers/browser-like.ts';

/**
 * THREATS T12, login bypass through other content types (measured: @koa/bodyparser returns {} for
 * text/plain and multipart). A login POST in any content type is either parsed by the sidecar or
 * refused (415/400); the credentials never reach the upstream in the client's request. The
 * upstream here is a recording proxy in front of the demo app: it keeps every request it receives,
 * so the only request allowed to carry the password is the sidecar's own server-side replay
 * (POST /login, application/x-www-form-urlencoded, the sidecar's x-request-id, exactly the two
 * fields, none of the client's headers).
 */

const EMAIL = 'merchant@example.com';
const PASSWORD = 'smartpush-demo';
/** Only client requests carry this header: seen upstream, it means the client's request was forwarded. */
const CLIENT_MARK = 'x-test-client-request';

let rs: RecordedStack;
before(async () => {
  rs = await startRecordedStack();
});
after(async () => {
  await rs.close();
});

interface Variant {
  readonly name: string;
  readonly contentType: string | undefined;
  readonly body: Buffer | string;
  readonly extraHeaders?: Readonly<Record<string, string>>;
  readonly chunked?: boolean;
  /** What the sidecar must answer; undefined: parsed (200/303/401) or refused (400/415) are both fine. */
  readonly expect?: readonly number[];
}

const BOUNDARY = '----spgT12boundary';
const REFUSED = [400, 415] as const;

/** Every content type an attacker might try, with the body it would carry (`extra`: more fields, e.g. _csrf). */
function variants(extra: Readonly<Record<string, string>> = {}): Variant[] {
  const fields: Record<string, string> = { ...extra, email: EMAIL, password: PASSWORD };
  const multipart =
    Object.entries(fields)
      .map(([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
      .join('') + `--${BOUNDARY}--\r\n`;
  const urlencoded = form(fields);
  const json = JSON.stringify(fields);
  const xml = `<?xml version="1.0"?><login>${Object.entries(fields).map(([n, v]) => `<${n}>${v}</${n}>`).join('')}</login>`;
  return [
    { name: 'text/plain', contentType: 'text/plain', body: urlencoded, expect: [415] },
    { name: 'text/plain carrying JSON', contentType: 'text/plain;charset=UTF-8', body: json, expect: [415] },
    { name: 'multipart/form-data', contentType: `multipart/form-data; boundary=${BOUNDARY}`, body: multipart, expect: [415] },
    { name: 'application/xml', contentType: 'application/xml', body: xml, expect: [415] },
    { name: 'text/xml', contentType: 'text/xml', body: xml, expect: [415] },
    { name: 'urlencoded; charset=utf-16 (UTF-16 body)', contentType: 'application/x-www-form-urlencoded; charset=utf-16', body: Buffer.from(urlencoded, 'utf16le') },
    { name: 'urlencoded; charset=utf-16 (ASCII body)', contentType: 'application/x-www-form-urlencoded; charset=utf-16', body: urlencoded },
    { name: 'no content type', contentType: undefined, body: urlencoded, expect: [415] },
    { name: 'no content type, JSON body', contentType: undefined, body: json, expect: [415] },
    { name: 'an empty content type', contentType: '', body: urlencoded, expect: [415] },
    { name: 'application/octet-stream', contentType: 'application/octet-stream', body: urlencoded, expect: [415] },
    { name: 'application/vnd.api+json', contentType: 'application/vnd.api+json', body: json },
    { name: 'application/csp-report', contentType: 'application/csp-report', body: json },
    { name: 'a made-up type', contentType: 'application/x-www-form-urlencodedx', body: urlencoded, expect: [415] },
    { name: 'urlencoded with a parameter', contentType: 'application/x-www-form-urlencoded; foo=bar', body: urlencoded },
    { name: 'URLENCODED in capitals', contentType: 'APPLICATION/X-WWW-FORM-URLENCODED', body: urlencoded },
    { name: 'urlencoded, gzip content-encoding', contentType: 'application/x-www-form-urlencoded', body: gzipSync(urlencoded), extraHeaders: { 'content-encoding': 'gzip' } },
    { name: 'urlencoded, unknown content-encoding', contentType: 'application/x-www-form-urlencoded', body: urlencoded, extraHeaders: { 'content-encoding': 'x-custom' } },
    { name: 'urlencoded, chunked', contentType: 'application/x-www-form-urlencoded', body: urlencoded, chunked: true },
    { name: 'application/json', contentType: 'application/json', body: json },
    { name: 'application/json; charset=utf-16', contentType: 'application/json; charset=utf-16', body: Buffer.from(json, 'utf16le') },
    { name: 'JSON with array fields', contentType: 'application/json', body: JSON.stringify({ ...extra, email: [EMAIL], password: [PASSWORD] }), expect: [400] },
    { name: 'urlencoded with repeated fields', contentType: 'application/x-www-form-urlencoded', body: `${urlencoded}&password=${PASSWORD}`, expect: [400] },
    { name: 'urlencoded with bracket fields', contentType: 'application/x-www-form-urlencoded', body: `${form(extra)}&email[]=${encodeURIComponent(EMAIL)}&password[]=${PASSWORD}`, expect: [400] },
  ];
}

/** Requests that reached the upstream since `from`. */
function since(from: number): RecordedRequest[] {
  return rs.recorder.requests.slice(from);
}

function carriesPassword(request: RecordedRequest): boolean {
  const body = request.body.toString('latin1') + request.body.toString('utf16le');
  return body.includes(PASSWORD) || decodeURIComponent(request.url).includes(PASSWORD) || JSON.stringify(request.headers).includes(PASSWORD);
}

function isSidecarReplay(request: RecordedRequest, email = EMAIL): boolean {
  return (
    request.method === 'POST' &&
    request.url === '/login' &&
    request.headers[CLIENT_MARK] === undefined &&
    request.headers['content-type'] === 'application/x-www-form-urlencoded' &&
    typeof request.headers['x-request-id'] === 'string' &&
    // The replay carries the same Host and X-Forwarded-* as proxied traffic (issue 12), never the client's own.
    request.headers['x-forwarded-host'] === new URL(rs.url).host &&
    request.headers.host === new URL(rs.url).host &&
    request.body.toString('utf8') === form({ email, password: PASSWORD })
  );
}

/**
 * The whole T12 property for one client request: the answer is a parse or a refusal, a refusal
 * reached nobody, and whatever reached the upstream with the password is the sidecar's replay.
 */
function assertNoCredentialPassedUnseen(reply: Reply, upstream: RecordedRequest[], variant: Variant): void {
  const allowed = variant.expect ?? [200, 303, 401, ...REFUSED];
  assert.ok(allowed.includes(reply.status), `${variant.name}: answered ${reply.status}, expected one of ${allowed.join('/')}: ${reply.text.slice(0, 200)}`);
  assert.deepEqual(
    upstream.filter((r) => r.headers[CLIENT_MARK] !== undefined).map((r) => `${r.method} ${r.url}`),
    [],
    `${variant.name}: the client's request reached the upstream`,
  );
  for (const request of upstream.filter(carriesPassword)) {
    assert.ok(isSidecarReplay(request), `${variant.name}: the upstream received the password in ${request.method} ${request.url} (${String(request.headers['content-type'])})`);
  }
  if ((REFUSED as readonly number[]).includes(reply.status)) {
    assert.deepEqual(upstream.map((r) => `${r.method} ${r.url}`), [], `${variant.name}: refused, yet the upstream was asked`);
    assert.equal(setCookieFor(reply.setCookies, 'spg_session'), undefined);
  } else {
    assert.ok(upstream.filter((r) => isSidecarReplay(r)).length <= 1, `${variant.name}: more than the one replay reached the upstream`);
    // After an accepted password the sidecar asks the profile (the directory) which account the new
    // upstream session is: its own GET, never the client's request and never with the password.
    for (const r of upstream.filter((r) => !isSidecarReplay(r))) {
      assert.ok(
        r.method === 'GET' && r.url === '/api/me' && r.headers[CLIENT_MARK] === undefined && !carriesPassword(r),
        `${variant.name}: ${r.method} ${r.url} reached the upstream besides the one replay`,
      );
    }
  }
}

async function post(path: string, variant: Variant, extra: Readonly<Record<string, string | undefined>> = {}): Promise<Reply> {
  return send(`${rs.url}${path}`, {
    method: 'POST',
    headers: { ...sameOriginForm(rs.url), 'content-type': variant.contentType, [CLIENT_MARK]: '1', ...variant.extraHeaders, ...extra },
    body: variant.body,
    ...(variant.chunked ? { chunked: true } : {}),
  });
}

describe('the intercepted POST /login', () => {
  for (const variant of variants()) {
    test(`${variant.name}: parsed or refused, never passed on`, async () => {
      const from = rs.recorder.requests.length;
      const reply = await post('/login', variant);
      assertNoCredentialPassedUnseen(reply, since(from), variant);
    });
  }

  test('control: the plain form is parsed and signs in through the replay', async () => {
    const from = rs.recorder.requests.length;
    const reply = await post('/login', { name: 'form', contentType: 'application/x-www-form-urlencoded', body: form({ email: EMAIL, password: PASSWORD }) });
    assert.equal(reply.status, 303);
    assert.ok(setCookieFor(reply.setCookies, 'spg_session'));
    const upstream = since(from);
    // The replay, then the sidecar's own profile read naming the account (no password in it).
    assert.deepEqual(upstream.map((r) => `${r.method} ${r.url}`), ['POST /login', 'GET /api/me']);
    assert.ok(isSidecarReplay(upstream[0] as RecordedRequest));
    assert.ok(!carriesPassword(upstream[1] as RecordedRequest));
  });
});

describe('POST /_guard/api/login', () => {
  for (const variant of variants()) {
    test(`${variant.name}: parsed or refused, never passed on`, async () => {
      const from = rs.recorder.requests.length;
      const reply = await post('/_guard/api/login', variant, { accept: 'application/json' });
      const isJson = variant.contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
      // Only JSON is this endpoint's language.
      assertNoCredentialPassedUnseen(reply, since(from), isJson ? variant : { ...variant, expect: [415] });
    });
  }
});

describe('POST /_guard/login (the sidecar\'s own form, with a valid token)', () => {
  // Each variant is built per test with that visitor's token, so the only thing that differs from a
  // good sign-in is the encoding.
  for (const [index, { name }] of variants().entries()) {
    test(`${name}: parsed or refused, never passed on`, async () => {
      const jar = new CookieJar();
      const { token } = await openLoginPage(rs.url, jar);
      const variant = variants({ _csrf: token })[index] as Variant;
      const from = rs.recorder.requests.length;
      const reply = await post('/_guard/login', variant, { cookie: jar.header() });
      const isJson = variant.contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
      // JSON is not this endpoint's language.
      assertNoCredentialPassedUnseen(reply, since(from), isJson ? { ...variant, expect: [415] } : variant);
    });
  }
});

describe('login routes spelled differently, by a signed-in user', () => {
  // A signed-in user's request to a route the policy does not intercept is proxied. If a spelling
  // of the login route escaped the interception, the upstream would check the password unseen
  // (no regulation) and its new session cookie would be bound to the user's sidecar session.
  for (const path of ['/login/', '/LOGIN', '/Login?next=/dashboard', '/./login', '/x/../login', '/%6Cogin', '/login/.', '/login//', '/login;jsessionid=1', '/login%2F', '/login.', '/login%00', '/login%20']) {
    test(`POST ${path} with credentials never reaches the upstream as the client's request`, async () => {
      const jar = new CookieJar();
      await apiSignIn(rs.url, jar);
      const from = rs.recorder.requests.length;
      const reply = await send(`${rs.url}${path}`, {
        method: 'POST',
        headers: { ...sameOriginForm(rs.url), [CLIENT_MARK]: '1', cookie: jar.header() },
        body: form({ email: 'owner@example.com', password: PASSWORD }),
      });
      const upstream = since(from);
      assert.deepEqual(
        upstream.filter((r) => r.headers[CLIENT_MARK] !== undefined).map((r) => `${r.method} ${r.url} → ${reply.status}`),
        [],
        `the client's POST ${path} reached the upstream`,
      );
      for (const request of upstream.filter(carriesPassword)) assert.ok(isSidecarReplay(request, 'owner@example.com'), `POST ${path}: the password reached the upstream outside the replay`);
    });
  }
});

describe('credentials elsewhere than in a POST body', () => {
  const query = `email=${encodeURIComponent(EMAIL)}&password=${PASSWORD}`;

  for (const method of ['GET', 'HEAD']) {
    test(`${method} /login?${query} is not passed on`, async () => {
      const from = rs.recorder.requests.length;
      const reply = await send(`${rs.url}/login?${query}`, { method, headers: { accept: 'text/html', [CLIENT_MARK]: '1' } });
      assert.equal(reply.status, 303);
      assert.ok(!(reply.location ?? '').includes(PASSWORD), `the redirect carries the password: ${String(reply.location)}`);
      assert.deepEqual(since(from).map((r) => `${r.method} ${r.url}`), []);
    });
  }

  test(`POST /login?${query} with an empty form body is refused and not passed on`, async () => {
    const from = rs.recorder.requests.length;
    const reply = await send(`${rs.url}/login?${query}`, { method: 'POST', headers: { ...sameOriginForm(rs.url), [CLIENT_MARK]: '1' }, body: '' });
    assert.ok((REFUSED as readonly number[]).includes(reply.status), `answered ${reply.status}`);
    assert.deepEqual(since(from).map((r) => `${r.method} ${r.url}`), []);
  });

  // The policy intercepts GET and POST on /login; a signed-in user's other methods are proxied.
  // An upstream whose login handler ignores the method (Express app.all, Rails match via: :all,
  // PHP's $_REQUEST) would then check the password unseen and without regulation, and its new
  // session cookie would be bound to the caller's sidecar session.
  for (const method of ['PUT', 'PATCH', 'DELETE']) {
    test(`${method} /login with credentials from a signed-in user is not passed on`, async () => {
      const jar = new CookieJar();
      await apiSignIn(rs.url, jar);
      const from = rs.recorder.requests.length;
      const reply = await send(`${rs.url}/login`, {
        method,
        headers: { ...sameOriginForm(rs.url), [CLIENT_MARK]: '1', cookie: jar.header() },
        body: form({ email: 'owner@example.com', password: PASSWORD }),
      });
      assert.deepEqual(
        since(from).filter(carriesPassword).map((r) => `${r.method} ${r.url}`),
        [],
        `the client's ${method} /login with the password reached the upstream (sidecar answered ${reply.status})`,
      );
    });
  }
});
