import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySource, compilePolicyValue } from '../../../src/policy/load.ts';
import { PolicyError } from '../../../src/policy/policy-error.ts';
import { explainRequest, formatExplanation } from '../../../src/policy/explain.ts';
import { parseQuery } from '../../../src/policy/query.ts';
import type { CompiledPolicy } from '../../../src/policy/types.ts';
import { withQuery } from '../../../src/config/login-schema.ts';

/** A wiki routed by `?do=`: login/logout intercepted, admin denied, edit/save sensitive-free but named. */
const WIKI = {
  version: 1,
  intercept: {
    login: { paths: ['/doku.php'], query: { do: 'login' } },
    logout: { paths: ['/doku.php'], query: { do: 'logout' } },
  },
  rules: [
    { name: 'wiki-admin', paths: ['/doku.php'], query: { do: 'admin' }, access: 'deny' },
    { name: 'wiki-edit', paths: ['/doku.php'], query: { do: ['edit', 'save'] }, access: 'authenticated' },
    { name: 'wiki-show', paths: ['/doku.php'], query: { do: false }, access: 'public' },
    { name: 'wiki-with-id', paths: ['/doku.php'], query: { id: true }, access: 'public' },
    { name: 'wiki-rest', paths: ['/doku.php'], access: 'authenticated' },
  ],
};

const policy = compilePolicyValue(WIKI, 'wiki.yaml');

/** The deciding rule's name for a raw target (GET, anonymous), or `reject: reason`. */
function ruleFor(p: CompiledPolicy, target: string, method = 'GET'): string {
  const result = explainRequest(p, { method, rawPath: target, user: { authenticated: false } });
  return result.rejected !== null ? `reject: ${result.rejected}` : result.rule.name;
}

describe('query-aware policy: matching', () => {
  it('a single value, a list of values, presence and absence', () => {
    assert.equal(ruleFor(policy, '/doku.php?do=login'), 'intercept:login');
    assert.equal(ruleFor(policy, '/doku.php?do=logout'), 'intercept:logout');
    assert.equal(ruleFor(policy, '/doku.php?do=admin&page=config'), 'wiki-admin');
    assert.equal(ruleFor(policy, '/doku.php?id=start&do=edit'), 'wiki-edit');
    assert.equal(ruleFor(policy, '/doku.php?do=save'), 'wiki-edit');
    assert.equal(ruleFor(policy, '/doku.php'), 'wiki-show', 'no query: do is absent');
    assert.equal(ruleFor(policy, '/doku.php?id=start'), 'wiki-show', 'do absent with another parameter');
    assert.equal(ruleFor(policy, '/doku.php?do=recent&id=start'), 'wiki-with-id', 'do present with another value falls through');
    assert.equal(ruleFor(policy, '/doku.php?do=recent'), 'wiki-rest');
    assert.equal(ruleFor(policy, '/doku.php?do='), 'wiki-rest', 'an empty value is present');
    assert.equal(ruleFor(policy, '/doku.php?do'), 'wiki-rest', 'a name without "=" is present');
    assert.equal(ruleFor(policy, '/other?do=admin'), 'default', 'the path must match as well');
  });

  it('values are decoded once: + is a space, %XX a byte, %25 is not decoded twice', () => {
    assert.equal(ruleFor(policy, '/doku.php?do=%61dmin'), 'wiki-admin');
    assert.equal(ruleFor(policy, '/doku.php?d%6f=admin'), 'wiki-admin', 'an escaped name is the same name');
    assert.equal(ruleFor(policy, '/doku.php?do=ad+min'), 'wiki-rest', '"ad min" is not "admin"');
    assert.match(ruleFor(policy, '/doku.php?do=%2561dmin'), /^reject: encoded separator/);
  });

  it('names fold as PHP reads them (leading spaces, "." and " " as "_") and, by default, case', () => {
    const p = compilePolicyValue({ version: 1, rules: [{ name: 'x', paths: ['/'], query: { a_b: 'v' }, access: 'deny' }] });
    for (const target of ['/?a_b=v', '/?a.b=v', '/?a+b=v', '/?a%20b=v', '/?+a_b=v', '/?A_B=V']) assert.equal(ruleFor(p, target), 'x', target);
    assert.match(ruleFor(p, '/?a.b=v&a_b=w'), /^reject: the query gives the parameter "a_b" more than once/);
  });

  it('case: values and names compare case-insensitively unless settings.case_sensitive', () => {
    assert.equal(ruleFor(policy, '/doku.php?do=ADMIN'), 'wiki-admin');
    assert.equal(ruleFor(policy, '/doku.php?DO=Admin'), 'wiki-admin');
    const strict = compilePolicyValue({ ...WIKI, settings: { case_sensitive: true } });
    assert.equal(ruleFor(strict, '/doku.php?do=ADMIN'), 'wiki-rest');
    assert.equal(ruleFor(strict, '/doku.php?DO=admin'), 'wiki-show', 'DO is another parameter: do is absent');
  });

  it('rules without query match any query, as before', () => {
    const plain = compilePolicyValue({ version: 1, rules: [{ name: 'admin', paths: ['/admin/**'], access: 'deny' }] });
    for (const target of ['/admin?x=1&x=2', '/admin?a;b', '/admin?%zz', '/admin?do[]=1&%00']) {
      assert.equal(ruleFor(plain, target), 'admin', `${target}: nothing is consulted, nothing refused`);
    }
  });

  it('parameters the policy names are never ambiguous: repeats, array forms, ";", NUL, bad escapes, controls → refused', () => {
    const cases: Array<[string, RegExp]> = [
      ['/doku.php?do=login&do=admin', /more than once/],
      ['/doku.php?do=show&DO=admin', /more than once/],
      ['/doku.php?do=show&d%6f=admin', /more than once/],
      ['/doku.php?do[]=admin', /array form/],
      ['/doku.php?do[admin]=1', /array form/],
      ['/doku.php?x=1;do=admin', /';' in the query/],
      ['/doku.php?do=admin%00', /NUL/],
      ['/doku.php?do%00x=admin', /NUL/],
      ['/doku.php?do=%zz', /malformed percent-escape/],
      ['/doku.php?do=%C0%AE', /invalid UTF-8/],
      ['/doku.php?do=ad%0Amin', /control character/],
      ['/doku.php?do=show%26do%3Dadmin', /encoded separator/],
      ['/doku.php?do=show%3Bdo', /encoded separator/],
      ['/doku.php?x%26do=admin', /encoded separator/],
    ];
    for (const [target, reason] of cases) assert.match(ruleFor(policy, target), reason, target);
    // Parameters the policy does not name may repeat and hold anything a form sends.
    assert.equal(ruleFor(policy, '/doku.php?do=edit&tag=a&tag=b&q=%26%3D'), 'wiki-edit');
    assert.equal(ruleFor(policy, '/doku.php?do=edit&sel[]=1'), 'wiki-edit');
  });

  it('parseQuery does not run when the policy names no parameter', () => {
    assert.deepEqual(parseQuery('a=1&a=2;%00', { consulted: new Set(), caseSensitive: false }), { ok: true, query: new Map() });
  });
});

describe('query-aware policy: documents', () => {
  it('rejects an empty query, a bracketed name, a number and the same name twice after folding', () => {
    const bad = (query: unknown): string => {
      try {
        compilePolicyValue({ version: 1, rules: [{ name: 'r', paths: ['/'], access: 'public', query }] }, 'p.yaml');
      } catch (error) {
        assert.ok(error instanceof PolicyError);
        return error.message;
      }
      assert.fail(`accepted ${JSON.stringify(query)}`);
    };
    assert.match(bad({}), /must name at least one parameter/);
    assert.match(bad({ 'do[]': 'x' }), /parameter name/);
    assert.match(bad({ page: 2 }), /must be a value, a list of values, true/);
    assert.match(bad({ do: [] }), /at least one value/);
    assert.match(bad({ do: 'a&b' }), /must be the decoded value|must be a value/);
    assert.match(bad({ do: 'x', DO: 'y' }), /names the same parameter as "do"/);
  });

  it('explain shows the query, what was consulted and the rule condition', () => {
    const result = explainRequest(policy, { method: 'GET', rawPath: '/doku.php?D%6f=Admin&id=start', user: { authenticated: false } });
    assert.equal(result.rejected, null);
    const text = formatExplanation(result);
    assert.match(text, /query: {10}D%6f=Admin&id=start \(consulted: do=admin, id=start\)/);
    assert.match(text, /matched rule "wiki-admin" \(wiki\.yaml\) \(query do=admin\)/);
    assert.match(text, /decision: {7}deny/);
  });

  it('a YAML policy with query keeps file:line:column in errors', () => {
    const text = 'version: 1\nrules:\n  - name: r\n    paths: ["/"]\n    access: public\n    query: { do: 3 }\n';
    assert.throws(() => compilePolicySource(text, 'q.yaml'), (error: unknown) => error instanceof PolicyError && /q\.yaml:6:/.test(error.message));
  });

  it('login.upstream.query and login.logout.query become the replayed target', () => {
    assert.equal(withQuery('/doku.php', { do: 'login' }), '/doku.php?do=login');
    assert.equal(withQuery('/index.php', { action: 'log out', a: 'b&c' }), '/index.php?action=log+out&a=b%26c');
    assert.equal(withQuery('/logout', undefined), '/logout');
  });
});
