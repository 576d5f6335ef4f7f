/**
 * THREATS T2, extended to the query: an app routed by `?do=` (DokuWiki, MediaWiki, phpBB…) is only
 * as safe as the agreement between the sidecar's reading of the query and the app's. Advisories:
 * oauth2-proxy GHSA-7rh7-c77v-6434 (a skip-auth regex matched path+query), HTTP parameter pollution
 * (OWASP: `?a=1&a=2` is read first-wins by some stacks, last-wins by PHP), Python's `;` separator
 * (CVE-2021-23336), PHP's name mangling (`a.b`, ` a` → `a_b`, `a`) and array forms (`do[x]=`).
 *
 * Each trick must be refused (400) or decided exactly as the spelling the app would read, and a
 * request that passes must reach the upstream with exactly the query the policy decided on
 * (checked with a recording upstream; requests are written raw).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../helpers/stack.ts';
import { hostOf, rawExchange, startRecordingUpstream, type RecordingUpstream } from '../helpers/raw-http.ts';

const POLICY = `version: 1
intercept:
  login:  { paths: ["/doku.php"], query: { do: login } }
  logout: { paths: ["/doku.php"], query: { do: logout } }
rules:
  - name: wiki-admin
    paths: ["/doku.php"]
    query: { do: admin }
    access: deny
  - name: wiki-show
    paths: ["/doku.php"]
    query: { do: [show, ""] }
    access: public
  - name: wiki-page
    paths: ["/doku.php"]
    query: { do: false }
    access: public
`;

let stack: Stack;
let recorder: RecordingUpstream;

before(async () => {
  recorder = await startRecordingUpstream();
  stack = await startStack({ policy: POLICY, upstreamUrl: recorder.url });
});

after(async () => {
  await stack?.close();
  await recorder?.close();
});

interface Seen {
  readonly status: number;
  readonly location: string | undefined;
  readonly body: string;
  /** Targets the upstream received for this request. */
  readonly forwarded: string[];
}

async function get(target: string): Promise<Seen> {
  const from = recorder.requests.length;
  const r = await rawExchange(
    stack.url,
    `GET ${target} HTTP/1.1\r\nHost: ${hostOf(stack.url)}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
  );
  return {
    status: r.first.status,
    location: r.first.header('location'),
    body: r.first.body.toString('utf8'),
    forwarded: recorder.targets().slice(from),
  };
}

const refused = (seen: Seen, target: string, reason: RegExp): void => {
  assert.equal(seen.status, 400, `${target}: ${seen.status} ${seen.body}`);
  assert.match(seen.body, reason, target);
  assert.deepEqual(seen.forwarded, [], `${target} reached the upstream`);
};

test('a repeated consulted parameter is refused, whichever spelling repeats it', async () => {
  for (const target of ['/doku.php?do=login&do=x', '/doku.php?do=show&do=admin', '/doku.php?do=show&DO=admin', '/doku.php?do=show&d%6f=admin', '/doku.php?do=show&+do=admin']) {
    refused(await get(target), target, /more than once/);
  }
});

test('an escaped, folded or upper-case spelling of a name or value is decided as the app reads it', async () => {
  for (const target of ['/doku.php?d%6f=admin', '/doku.php?do=%61dmin', '/doku.php?do=ADMIN', '/doku.php?Do=Admin', '/doku.php?+do=admin', '/doku.php?%20do=admin']) {
    const seen = await get(target);
    assert.equal(seen.status, 403, `${target}: ${seen.status}`);
    assert.deepEqual(seen.forwarded, [], target);
  }
  for (const target of ['/doku.php?d%6f=login', '/doku.php?do=LOGIN', '/doku.php?do=log%69n']) {
    const seen = await get(target);
    assert.ok([302, 303].includes(seen.status), `${target}: ${seen.status}`);
    assert.equal(seen.location, '/_guard/login', target);
    assert.deepEqual(seen.forwarded, [], target);
  }
});

test('";", NUL, array forms, bad or double escapes and encoded separators are refused', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/doku.php?id=start;do=admin', /';' in the query/],
    ['/doku.php?do=show;admin', /';' in the query/],
    ['/doku.php?do=admin%00', /NUL/],
    ['/doku.php?do%00=admin', /NUL/],
    ['/doku.php?do[]=admin', /array form/],
    ['/doku.php?do[admin]=1', /array form/],
    ['/doku.php?do=%2561dmin', /encoded separator/],
    ['/doku.php?do=show%26do%3Dadmin', /encoded separator/],
    ['/doku.php?do=%zz', /malformed/],
    ['/doku.php?do=%C0%80', /UTF-8/],
  ];
  for (const [target, reason] of cases) refused(await get(target), target, reason);
});

test('"+" is a space: "ad+min" is not "admin", and is not public either', async () => {
  const seen = await get('/doku.php?do=ad+min');
  assert.equal(seen.status, 401, 'no rule names "ad min": the default (authenticated) applies');
  assert.deepEqual(seen.forwarded, []);
});

test('whatever passes reaches the upstream with exactly the query the policy decided on', async () => {
  for (const target of ['/doku.php?do=show', '/doku.php?id=start', '/doku.php?do=&id=wiki:syntax', '/doku.php?id=a%2Fb&tag=x&tag=y', '/doku.php', '/doku.php?do=Show&q=%26%3D%3B']) {
    const seen = await get(target);
    assert.equal(seen.status, 200, `${target}: ${seen.status} ${seen.body}`);
    assert.deepEqual(seen.forwarded, [target], target);
  }
});

test('rules without a query condition decide as before: the query is not consulted', async () => {
  const plain = await startStack({
    policy: 'version: 1\nrules:\n  - name: pub\n    paths: ["/pub/**"]\n    access: public\n',
    upstreamUrl: recorder.url,
  });
  try {
    const from = recorder.requests.length;
    for (const target of ['/pub/x?a=1&a=2', '/pub/x?do[]=1', '/pub/x?a;b']) {
      const r = await rawExchange(plain.url, `GET ${target} HTTP/1.1\r\nHost: ${hostOf(plain.url)}\r\nConnection: close\r\n\r\n`);
      assert.equal(r.first.status, 200, target);
    }
    assert.deepEqual(recorder.targets().slice(from), ['/pub/x?a=1&a=2', '/pub/x?do[]=1', '/pub/x?a;b']);
  } finally {
    await plain.close();
  }
});
