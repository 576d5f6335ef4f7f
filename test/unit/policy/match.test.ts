import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicyValue } from '../../../src/policy/load.ts';
import type { CompiledPolicy } from '../../../src/policy/types.ts';

interface RuleInput {
  name: string;
  paths: string[];
  access?: 'public' | 'authenticated' | 'deny';
  methods?: string[];
  hosts?: string[];
}

function policyOf(rules: RuleInput[], extra: Record<string, unknown> = {}): CompiledPolicy {
  return compilePolicyValue({ version: 1, ...extra, rules: rules.map((r) => ({ access: 'public', ...r })) }, 'match-test');
}

/** Name of the deciding rule for each path (GET, no host). */
const names = (policy: CompiledPolicy, paths: string[], method = 'GET', host?: string): string[] =>
  paths.map((p) => policy.match(method, p, host).rule.name);

describe('policy matcher: segment kinds', () => {
  it('literal segments', () => {
    const policy = policyOf([{ name: 'me', paths: ['/api/me'] }, { name: 'root', paths: ['/'] }]);
    assert.deepEqual(names(policy, ['/api/me', '/api/me/x', '/api', '/api/mex', '/', '/x']), ['me', 'default', 'default', 'default', 'root', 'default']);
  });

  it('":name" captures one non-empty segment, keeping the request case', () => {
    const policy = policyOf([{ name: 'post', paths: ['/users/:user/posts/:id'] }]);
    const m = policy.match('GET', '/Users/Ann/posts/42');
    assert.equal(m.rule.name, 'post');
    assert.deepEqual(m.params, { user: 'Ann', id: '42' });
    assert.equal(policy.match('GET', '/users/ann/posts').rule.name, 'default');
    assert.equal(policy.match('GET', '/users//posts/1').rule.name, 'default', 'an empty segment is no parameter');
    assert.deepEqual(policy.match('GET', '/nothing').params, {});
  });

  it('"*" matches exactly one non-empty segment', () => {
    const policy = policyOf([{ name: 'star', paths: ['/a/*/c'] }]);
    assert.deepEqual(names(policy, ['/a/b/c', '/a/xyz/c/', '/a/c', '/a/b/x/c', '/a//c']), ['star', 'star', 'default', 'default', 'default']);
    assert.deepEqual(policy.match('GET', '/a/b/c').params, {});
  });

  it('a glob within one segment, with regexp characters escaped', () => {
    const policy = policyOf([
      { name: 'csv', paths: ['/files/report-*.csv'] },
      { name: 'odd', paths: ['/odd/(x)+*$'] },
    ]);
    assert.deepEqual(
      names(policy, ['/files/report-2024.csv', '/files/report-.csv', '/files/report-2024.txt', '/files/xreport-1.csv', '/files/report-1xcsv', '/files/report-1.csv/x', '/files/a/report-1.csv']),
      ['csv', 'csv', 'default', 'default', 'default', 'default', 'default'],
    );
    assert.deepEqual(names(policy, ['/odd/(x)+abc$', '/odd/(x)+$', '/odd/xx+abc$', '/odd/(x)abc$']), ['odd', 'odd', 'default', 'default']);
  });

  it('"**" matches zero or more segments', () => {
    const policy = policyOf([{ name: 'static', paths: ['/static/**'] }]);
    assert.deepEqual(
      names(policy, ['/static', '/static/', '/static/a', '/static/a/b/c.css', '/staticx', '/stat', '/', '/x/static']),
      ['static', 'static', 'static', 'static', 'default', 'default', 'default', 'default'],
    );
    const all = policyOf([{ name: 'all', paths: ['/**'] }]);
    assert.deepEqual(names(all, ['/', '/a', '/a/b/c']), ['all', 'all', 'all']);
  });

  it('params before a "**"', () => {
    const policy = policyOf([{ name: 'tenant', paths: ['/t/:tenant/**'] }]);
    const m = policy.match('GET', '/t/Acme/x/y');
    assert.equal(m.rule.name, 'tenant');
    assert.deepEqual(m.params, { tenant: 'Acme' });
    assert.equal(policy.match('GET', '/t/acme').rule.name, 'tenant');
    assert.equal(policy.match('GET', '/t').rule.name, 'default');
  });

  it('a trailing slash is insignificant in requests and in patterns', () => {
    const policy = policyOf([
      { name: 'a', paths: ['/api/me'] },
      { name: 'b', paths: ['/api/you/'] },
    ]);
    assert.deepEqual(names(policy, ['/api/me/', '/api/me', '/api/you', '/api/you/']), ['a', 'a', 'b', 'b']);
  });

  it('a path without its leading slash is read as if it had one', () => {
    const policy = policyOf([{ name: 'a', paths: ['/api/me'] }]);
    assert.equal(policy.match('GET', 'api/me').rule.name, 'a');
  });
});

describe('policy matcher: case', () => {
  it('is case-insensitive by default, for literals, globs and patterns alike', () => {
    const policy = policyOf([
      { name: 'lit', paths: ['/Api/Me'] },
      { name: 'glob', paths: ['/files/Report-*.CSV'] },
    ]);
    assert.deepEqual(names(policy, ['/api/me', '/API/ME', '/aPi/mE/', '/FILES/report-1.csv', '/files/REPORT-x.Csv']), ['lit', 'lit', 'lit', 'glob', 'glob']);
  });

  it('compares exactly with case_sensitive: true', () => {
    const policy = policyOf(
      [
        { name: 'lit', paths: ['/api/me'] },
        { name: 'glob', paths: ['/files/report-*.csv'] },
        { name: 'p', paths: ['/u/:Id'] },
      ],
      { settings: { case_sensitive: true } },
    );
    assert.deepEqual(names(policy, ['/api/me', '/API/me', '/files/report-1.csv', '/files/Report-1.csv']), ['lit', 'default', 'glob', 'default']);
    assert.deepEqual(policy.match('GET', '/u/AbC').params, { Id: 'AbC' });
  });
});

describe('policy matcher: hosts', () => {
  const policy = policyOf([
    { name: 'exact', paths: ['/x'], hosts: ['app.example.com'] },
    { name: 'wild', paths: ['/x'], hosts: ['*.example.com'] },
    { name: 'upper', paths: ['/y'], hosts: ['API.Example.COM'] },
    { name: 'any', paths: ['/x'] },
  ]);
  it('exact hosts and "*." subdomains (not the apex)', () => {
    assert.equal(policy.match('GET', '/x', 'app.example.com').rule.name, 'exact');
    assert.equal(policy.match('GET', '/x', 'a.example.com').rule.name, 'wild');
    assert.equal(policy.match('GET', '/x', 'a.b.example.com').rule.name, 'wild');
    assert.equal(policy.match('GET', '/x', 'example.com').rule.name, 'any');
    assert.equal(policy.match('GET', '/x', 'badexample.com').rule.name, 'any');
    assert.equal(policy.match('GET', '/x', 'example.com.evil.net').rule.name, 'any');
    assert.equal(policy.match('GET', '/x', '.example.com').rule.name, 'any', 'an empty label is no subdomain');
  });
  it('a rule with hosts does not match a request without a host', () => {
    assert.equal(policy.match('GET', '/x').rule.name, 'any');
  });
  it('host patterns are compared lower-case', () => {
    assert.equal(policy.match('GET', '/y', 'api.example.com').rule.name, 'upper');
    assert.deepEqual(policy.rules[2]?.hosts, ['api.example.com']);
  });
});

describe('policy matcher: first match wins across branch kinds', () => {
  it('rule 0 "/a/**" beats rule 1 "/a/b"', () => {
    const policy = policyOf([{ name: 'r0', paths: ['/a/**'] }, { name: 'r1', paths: ['/a/b'] }]);
    assert.deepEqual(names(policy, ['/a/b', '/a', '/a/b/c']), ['r0', 'r0', 'r0']);
  });

  it('rule 0 "/a/:x" beats rule 1 "/a/b"; the other way round, the literal wins', () => {
    const p1 = policyOf([{ name: 'r0', paths: ['/a/:x'] }, { name: 'r1', paths: ['/a/b'] }]);
    assert.deepEqual(names(p1, ['/a/b', '/a/c']), ['r0', 'r0']);
    assert.deepEqual(p1.match('GET', '/a/b').params, { x: 'b' });
    const p2 = policyOf([{ name: 'r0', paths: ['/a/b'] }, { name: 'r1', paths: ['/a/:x'] }]);
    assert.deepEqual(names(p2, ['/a/b', '/a/c']), ['r0', 'r1']);
    assert.deepEqual(p2.match('GET', '/a/b').params, {});
  });

  it('glob against literal, wildcard against globstar', () => {
    const p1 = policyOf([{ name: 'glob', paths: ['/a/b*'] }, { name: 'lit', paths: ['/a/bc'] }]);
    assert.equal(p1.match('GET', '/a/bc').rule.name, 'glob');
    const p2 = policyOf([{ name: 'lit', paths: ['/a/bc'] }, { name: 'glob', paths: ['/a/b*'] }]);
    assert.deepEqual(names(p2, ['/a/bc', '/a/bd']), ['lit', 'glob']);
    const p3 = policyOf([{ name: 'star', paths: ['/a/*/c'] }, { name: 'rest', paths: ['/a/b/**'] }]);
    assert.deepEqual(names(p3, ['/a/b/c', '/a/b/d', '/a/x/c']), ['star', 'rest', 'star']);
    const p4 = policyOf([{ name: 'deep', paths: ['/a/b/c/d'] }, { name: 'rest', paths: ['/**'] }, { name: 'never', paths: ['/a/b/c/d'] }]);
    assert.deepEqual(names(p4, ['/a/b/c/d', '/z']), ['deep', 'rest']);
  });

  it('a deeper subtree with a lower index does not let its higher-index terminal win', () => {
    // Visiting /a/b (subtree minimum 0, via /a/b/c) must not replace rule 1 with rule 2.
    const policy = policyOf([
      { name: 'r0', paths: ['/a/b/c'] },
      { name: 'r1', paths: ['/a/**'] },
      { name: 'r2', paths: ['/a/b'] },
    ]);
    assert.deepEqual(names(policy, ['/a/b', '/a/b/c', '/a/b/d']), ['r1', 'r0', 'r1']);
  });

  it('a rule skipped for its method or host lets a later rule decide', () => {
    const policy = policyOf([
      { name: 'post-x', paths: ['/x'], methods: ['POST'] },
      { name: 'host-x', paths: ['/x'], hosts: ['a.test'] },
      { name: 'any', paths: ['/:anything'] },
    ]);
    assert.equal(policy.match('POST', '/x').rule.name, 'post-x');
    assert.equal(policy.match('GET', '/x', 'a.test').rule.name, 'host-x');
    assert.equal(policy.match('GET', '/x', 'b.test').rule.name, 'any');
    assert.equal(policy.match('DELETE', '/x').rule.name, 'any');
  });

  it('a rule with several paths, and intercepts before every rule', () => {
    const policy = compilePolicyValue({
      version: 1,
      intercept: { login: { paths: ['/login'], methods: ['POST'] } },
      rules: [
        { name: 'all', paths: ['/**'], access: 'public' },
        { name: 'two', paths: ['/one', '/two/:n'], access: 'deny' },
      ],
    });
    assert.equal(policy.match('POST', '/login').rule.name, 'intercept:login');
    assert.equal(policy.match('GET', '/login').rule.name, 'all');
    const p2 = policyOf([{ name: 'two', paths: ['/one', '/two/:n'] }]);
    assert.deepEqual(names(p2, ['/one', '/two/2', '/two']), ['two', 'two', 'default']);
    assert.deepEqual(p2.match('GET', '/two/2').params, { n: '2' });
  });
});

describe('policy matcher: methods', () => {
  const policy = policyOf([
    { name: 'get-only', paths: ['/g'], methods: ['GET'] },
    { name: 'post-only', paths: ['/p'], methods: ['POST'] },
  ]);

  it('HEAD and OPTIONS are decided exactly as GET', () => {
    assert.deepEqual(names(policy, ['/g'], 'HEAD'), ['get-only']);
    assert.deepEqual(names(policy, ['/g'], 'OPTIONS'), ['get-only']);
    assert.deepEqual(names(policy, ['/p'], 'HEAD'), ['default']);
    assert.deepEqual(names(policy, ['/p'], 'OPTIONS'), ['default']);
    assert.deepEqual(names(policy, ['/p'], 'POST'), ['post-only']);
    assert.deepEqual(names(policy, ['/g'], 'POST'), ['default']);
  });

  it('an unknown method gets the unknown-method rule (deny), whatever the path', () => {
    for (const method of ['PROPFIND', 'TRACE', 'CONNECT', 'get', 'Get', '']) {
      const m = policy.match(method, '/g');
      assert.equal(m.rule, policy.unknownMethodRule, method);
      assert.equal(m.rule.access, 'deny');
      assert.equal(m.rule.name, 'builtin:unknown-method');
    }
  });

  it('settings.known_methods decides what is known', () => {
    const custom = policyOf([{ name: 'dav', paths: ['/dav/**'], methods: ['PROPFIND'] }], {
      settings: { known_methods: ['GET', 'HEAD', 'POST', 'PROPFIND'] },
    });
    assert.equal(custom.match('PROPFIND', '/dav/x').rule.name, 'dav');
    assert.equal(custom.match('DELETE', '/dav/x').rule.name, 'builtin:unknown-method');
    assert.equal(custom.match('OPTIONS', '/dav/x').rule.name, 'builtin:unknown-method');
    assert.equal(custom.match('HEAD', '/x').rule.name, 'default');
  });
});

describe('policy matcher: default rule', () => {
  it('applies when nothing matches, with default.access', () => {
    const policy = policyOf([{ name: 'a', paths: ['/a'] }], { default: { access: 'deny' } });
    const m = policy.match('GET', '/b');
    assert.equal(m.rule, policy.defaultRule);
    assert.equal(m.rule.access, 'deny');
    assert.equal(m.rule.index, 1);
  });
});

describe('policy matcher: 10,000 rules', () => {
  const COUNT = 10_000;
  const rules: RuleInput[] = [];
  for (let i = 0; i < COUNT; i++) {
    const paths =
      i % 4 === 0 ? [`/s${i}/a`] : i % 4 === 1 ? [`/s${i}/:id/x`] : i % 4 === 2 ? [`/s${i}/f-*.txt`] : [`/s${i}/**`];
    rules.push({ name: `r${i}`, paths, methods: i % 2 === 0 ? ['GET'] : ['GET', 'POST'] });
  }
  // Later duplicates and a late catch-all under /s0 must never win over earlier rules.
  rules.push({ name: 'late-dup', paths: ['/s0/a', `/s${COUNT - 1}/x`] });
  rules.push({ name: 'late-param', paths: ['/:any/a'] });
  const policy = policyOf(rules);

  it('compiles', () => {
    assert.equal(policy.rules.length, COUNT + 2);
  });

  it('matches the first, the last and absent paths correctly', () => {
    assert.equal(policy.match('GET', '/s0/a').rule.name, 'r0');
    assert.equal(policy.match('GET', '/s1/42/x').rule.name, 'r1');
    assert.deepEqual(policy.match('GET', '/s1/42/x').params, { id: '42' });
    assert.equal(policy.match('GET', '/s2/f-data.txt').rule.name, 'r2');
    assert.equal(policy.match('GET', '/s3').rule.name, 'r3');
    assert.equal(policy.match('GET', `/s${COUNT - 1}/x`).rule.name, `r${COUNT - 1}`);
    assert.equal(policy.match('GET', `/s${COUNT - 1}/deep/er`).rule.name, `r${COUNT - 1}`);
    assert.equal(policy.match('GET', `/s${COUNT - 4}/a`).rule.name, `r${COUNT - 4}`);
    assert.equal(policy.match('POST', `/s${COUNT - 4}/a`).rule.name, 'late-param', 'GET-only rule skipped for POST');
    assert.equal(policy.match('GET', '/s5000/a').rule.name, 'r5000');
    assert.equal(policy.match('GET', '/s5001/a').rule.name, 'late-param');
    assert.equal(policy.match('GET', '/nope').rule.name, 'default');
    assert.equal(policy.match('GET', `/s${COUNT}/a`).rule.name, 'late-param');
    assert.equal(policy.match('GET', `/s${COUNT}/b`).rule.name, 'default');
    assert.equal(policy.match('GET', '/s2/f-data.csv').rule.name, 'default');
  });

  it('agrees with a linear first-match scan on a sample of paths', () => {
    const sample = ['/s0/a', '/s4/a', '/s8/a', '/s9/1/x', '/s10/f-.txt', '/s11', '/s11/q', '/x/a', '/s12/b', '/s9999/a/b'];
    for (const path of sample) {
      const linear = policy.rules.find((r) => r.paths.some((p) => simpleMatch(p, path)) && (r.methods === null || r.methods.has('GET')));
      assert.equal(policy.match('GET', path).rule.name, linear?.name ?? 'default', path);
    }
  });
});

/** A deliberately naive matcher for the patterns used above, as an oracle. */
function simpleMatch(pattern: string, path: string): boolean {
  const p = pattern.split('/').slice(1);
  const s = path.split('/').slice(1);
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    if (seg === '**') return true;
    const actual = s[i];
    if (actual === undefined || actual === '') return false;
    if (seg.startsWith(':') || seg === '*') continue;
    if (seg.includes('*')) {
      const [pre, post] = seg.split('*') as [string, string];
      if (!(actual.startsWith(pre) && actual.endsWith(post) && actual.length >= pre.length + post.length)) return false;
      continue;
    }
    if (seg !== actual) return false;
  }
  return s.length === p.length;
}
