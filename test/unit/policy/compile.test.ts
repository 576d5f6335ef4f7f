import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compilePolicySource, compilePolicyValue, loadPolicy } from '../../../src/policy/load.ts';
import { PolicyError } from '../../../src/policy/policy-error.ts';

/** Lines joined with '\n', so line numbers in the tests are easy to count. */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const FILE = 'policies/app.yaml';

function errorOf(text: string): PolicyError {
  try {
    compilePolicySource(text, FILE);
  } catch (error) {
    assert.ok(error instanceof PolicyError, `expected PolicyError, got ${String(error)}`);
    return error;
  }
  assert.fail('the policy compiled, but an error was expected');
}

/** The single issue of a policy that must fail, as `file:line:column: message`. */
function onlyIssue(text: string): string {
  const error = errorOf(text);
  assert.equal(error.issues.length, 1, `expected one issue, got:\n${error.message}`);
  return error.message;
}

/** A one-rule policy with the rule's lines (indented 4) after `  - name: r`, starting at line 4. */
const oneRule = (...ruleLines: string[]): string =>
  yaml('version: 1', 'rules:', '  - name: r', ...ruleLines.map((l) => `    ${l}`));

describe('policy errors: schema', () => {
  it('a misspelt access value, at the value', () => {
    assert.equal(
      onlyIssue(oneRule('paths: ["/a"]', 'access: pubic')),
      'policies/app.yaml:5:13: rules[0].access must be one of public, authenticated, deny (got "pubic")',
    );
  });

  it('a missing access, at the rule', () => {
    assert.equal(onlyIssue(oneRule('paths: ["/a"]')), 'policies/app.yaml:3:5: rules[0].access is required');
  });

  it('an unknown key, at the key, with a suggestion', () => {
    assert.equal(
      onlyIssue(oneRule('paths: ["/a"]', 'access: public', 'method: [GET]')),
      'policies/app.yaml:6:5: rules[0] has unknown key "method" (did you mean "methods"?)',
    );
  });

  it('an unknown top-level key: a suggestion, or the list of what is allowed', () => {
    assert.equal(onlyIssue(yaml('version: 1', 'rule: []')), 'policies/app.yaml:2:1: the document has unknown key "rule" (did you mean "rules"?)');
    assert.equal(
      onlyIssue(yaml('version: 1', 'paths: []')),
      'policies/app.yaml:2:1: the document has unknown key "paths" (allowed: version, settings, default, intercept, rules, require_2fa, remember_browser)',
    );
  });

  it('an unknown key inside settings', () => {
    assert.equal(
      onlyIssue(yaml('version: 1', 'settings:', '  case_insensitive: true')),
      'policies/app.yaml:3:3: settings has unknown key "case_insensitive" (did you mean "case_sensitive"?)',
    );
  });

  it('the version is required and must be 1', () => {
    assert.equal(onlyIssue(yaml('rules: []')), 'policies/app.yaml:1:1: version is required');
    assert.equal(onlyIssue(yaml('version: 2')), 'policies/app.yaml:1:10: version must be 1 (got 2)');
  });

  it('an empty file or a list is not a policy', () => {
    assert.equal(onlyIssue(''), 'policies/app.yaml:1:1: the document must be a mapping (got null)');
    assert.equal(onlyIssue(yaml('- a')), 'policies/app.yaml:1:1: the document must be a mapping (got a list)');
  });

  it('empty paths', () => {
    assert.equal(
      onlyIssue(oneRule('paths: []', 'access: public')),
      'policies/app.yaml:4:12: rules[0].paths must list at least one path pattern',
    );
  });

  it('a bad rule name, method case, duration and category', () => {
    const error = errorOf(
      yaml(
        'version: 1',
        'rules:',
        '  - name: Bad_Name',
        '    paths: ["/a"]',
        '    methods: [get]',
        '    access: authenticated',
        '    sensitive: { category: Contact, fresh_for: 10 minutes }',
      ),
    );
    assert.deepEqual(
      error.issues.map((i) => `${i.line}:${i.column}: ${i.message}`),
      [
        '3:11: rules[0].name must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit (got "Bad_Name")',
        '5:15: rules[0].methods[0] must be an upper-case HTTP method name such as GET or POST (got "get")',
        '7:28: rules[0].sensitive.category must be lower-case letters, digits and "-" (got "Contact")',
        '7:48: rules[0].sensitive.fresh_for must be a duration such as 30s, 10m, 12h or 1d (an integer and one of ms, s, m, h, d) (got "10 minutes")',
      ],
    );
  });

  it('fresh_code without 2FA is refused by the schema', () => {
    assert.equal(
      onlyIssue(
        oneRule('paths: ["/a"]', 'access: authenticated', 'sensitive:', '  category: x', '  fresh_for: 10m', '  without_2fa: { high: fresh_code }'),
      ),
      'policies/app.yaml:9:28: rules[0].sensitive.without_2fa.high must be one of pass, email_code, deny: fresh_code is not possible without 2FA (no method is enrolled to send it to) (got "fresh_code")',
    );
  });

  it('reports every problem at once, in file order', () => {
    const error = errorOf(
      yaml('version: 1', 'rules:', '  - name: a', '    access: nope', '  - name: b', '    paths: ["/b"]', '    access: public', '    x: 1'),
    );
    assert.equal(error.issues.length, 3);
    assert.deepEqual(
      error.issues.map((i) => i.line),
      [3, 4, 8],
    );
    assert.equal(error.message.split('\n').length, 3);
  });
});

describe('policy errors: YAML syntax', () => {
  it('a bad indentation, at its position', () => {
    const message = onlyIssue(yaml('version: 1', 'rules:', '  - name: a', '   paths: ["/a"]'));
    assert.match(message, /^policies\/app\.yaml:4:\d+: YAML: /);
  });

  it('an unclosed flow sequence', () => {
    assert.match(onlyIssue(yaml('version: 1', 'rules:', '  - name: a', '    paths: ["/a"', '    access: public')), /^policies\/app\.yaml:\d+:\d+: YAML: .*\]/);
  });

  it('a duplicate key', () => {
    assert.equal(
      onlyIssue(yaml('version: 1', 'version: 1')),
      'policies/app.yaml:2:1: YAML: Map keys must be unique',
    );
  });

  it('several documents in one file', () => {
    assert.match(onlyIssue(yaml('version: 1', '---', 'version: 1')), /^policies\/app\.yaml:2:1: YAML: Source contains multiple documents/);
  });

  it('an unresolved alias', () => {
    assert.match(onlyIssue(yaml('version: 1', 'rules: *nothing')), /^policies\/app\.yaml:\d+:\d+: YAML: .*alias/i);
  });
});

describe('policy errors: compilation', () => {
  it('"**" anywhere but last', () => {
    assert.equal(
      onlyIssue(oneRule('paths: ["/ok", "/a/**/b"]', 'access: public')),
      'policies/app.yaml:4:20: rules[0].paths[1] may use "**" only as the last segment, e.g. /static/** (got "/a/**/b")',
    );
    assert.match(onlyIssue(oneRule('paths: ["/a/b**"]', 'access: public')), /4:13: rules\[0\]\.paths\[0\] may use "\*\*" only as a whole segment/);
  });

  it('HEAD or OPTIONS listed', () => {
    assert.equal(
      onlyIssue(oneRule('paths: ["/a"]', 'methods: [GET, HEAD]', 'access: public')),
      'policies/app.yaml:5:20: rules[0].methods[1] is HEAD: HEAD and OPTIONS are decided as GET; list GET instead',
    );
    assert.match(onlyIssue(oneRule('paths: ["/a"]', 'methods: [OPTIONS]', 'access: public')), /HEAD and OPTIONS are decided as GET; list GET instead$/);
  });

  it('a method not in known_methods', () => {
    assert.equal(
      onlyIssue(oneRule('paths: ["/a"]', 'methods: [PROPFIND]', 'access: public')),
      'policies/app.yaml:5:15: rules[0].methods[0] "PROPFIND" is not in settings.known_methods (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)',
    );
  });

  it('known_methods with HEAD but without GET', () => {
    assert.match(onlyIssue(yaml('version: 1', 'settings:', '  known_methods: [HEAD, POST]')), /3:18: settings.known_methods lists HEAD but not GET/);
  });

  it('duplicate rule names point at both', () => {
    assert.equal(
      onlyIssue(
        yaml('version: 1', 'rules:', '  - name: a', '    paths: ["/a"]', '    access: public', '  - name: a', '    paths: ["/b"]', '    access: deny'),
      ),
      'policies/app.yaml:6:11: rules[1].name "a" is already used by the rule at policies/app.yaml:3:11; rule names must be unique',
    );
  });

  it('the name "default" is reserved', () => {
    assert.match(onlyIssue(yaml('version: 1', 'rules:', '  - name: default', '    paths: ["/a"]', '    access: public')), /3:11: .*reserved/);
  });

  it('sensitive on a public rule, at the key', () => {
    assert.equal(
      onlyIssue(oneRule('paths: ["/a"]', 'access: public', 'sensitive: { category: x, fresh_for: 10m }')),
      'policies/app.yaml:6:5: rules[0].sensitive is only allowed with access: authenticated (this rule has access: public)',
    );
  });

  it('fresh_for outside 1m..24h', () => {
    assert.equal(
      onlyIssue(oneRule('paths: ["/a"]', 'access: authenticated', 'sensitive: { category: x, fresh_for: 30s }')),
      'policies/app.yaml:6:42: rules[0].sensitive.fresh_for must be between 1m and 24h (got "30s")',
    );
    assert.match(onlyIssue(oneRule('paths: ["/a"]', 'access: authenticated', 'sensitive: { category: x, fresh_for: 2d }')), /between 1m and 24h \(got "2d"\)/);
    compilePolicySource(oneRule('paths: ["/a"]', 'access: authenticated', 'sensitive: { category: x, fresh_for: 24h }'), FILE);
    compilePolicySource(oneRule('paths: ["/a"]', 'access: authenticated', 'sensitive: { category: x, fresh_for: 60s }'), FILE);
  });

  const badPatterns: [string, RegExp][] = [
    ['api/x', /must start with "\/"/],
    ['/a//b', /empty segment "\/\/"/],
    ['/a/./b', /"\." or "\.\." segments/],
    ['/a/../b', /"\." or "\.\." segments/],
    ['/a\\\\b', /backslash/],
    ['/a%2Fb', /encoded slash/],
    ['/a%2fb', /encoded slash/],
    ['/a%5cb', /encoded slash or backslash/],
    ['/a?x=1', /"\?" or "#"/],
    ['/a#x', /"\?" or "#"/],
    ['/a;jsessionid', /settings.path_parameters is reject/],
    ['/a/%zz', /not a canonical path: malformed percent-escape/],
    ['/a/é', /not a canonical path/],
    ['/a/:1x', /invalid parameter name/],
    ['/a/:id/:id', /parameter ":id" twice/],
    ['/_guard/login', /\/_guard\//],
    ['/_GUARD', /\/_guard\//],
    ['/_g*', /\/_guard\//],
  ];
  for (const [pattern, expected] of badPatterns) {
    it(`refuses the pattern ${pattern}`, () => {
      const message = onlyIssue(oneRule(`paths: ["${pattern}"]`, 'access: public'));
      assert.match(message, /^policies\/app\.yaml:4:13: rules\[0\]\.paths\[0\] /);
      assert.match(message, expected);
    });
  }

  it('allows ";" in patterns when path_parameters is allow', () => {
    const policy = compilePolicySource(
      yaml('version: 1', 'settings: { path_parameters: allow }', 'rules:', '  - name: r', '    paths: ["/a;b"]', '    access: deny'),
      FILE,
    );
    assert.equal(policy.match('GET', '/a;b').rule.name, 'r');
  });

  it('applies the same pattern checks to intercept routes', () => {
    assert.match(
      onlyIssue(yaml('version: 1', 'intercept:', '  login: { paths: ["/_guard/login"] }')),
      /^policies\/app\.yaml:3:20: intercept\.login\.paths\[0\] must not match under \/_guard\//,
    );
    assert.match(
      onlyIssue(yaml('version: 1', 'intercept:', '  logout: { paths: ["/logout"], methods: [HEAD] }')),
      /3:43: intercept\.logout\.methods\[0\] is HEAD/,
    );
  });
});

describe('compiled rules', () => {
  it('carry their source location, defaults and intercepts first', () => {
    const policy = compilePolicySource(
      yaml(
        'version: 1',
        'default: { access: deny }',
        'intercept:',
        '  logout: { paths: ["/logout"], methods: [GET, POST] }',
        '  login: { paths: ["/login"], methods: [POST] }',
        'rules:',
        '  - name: export',
        '    paths: ["/export"]',
        '    access: authenticated',
        '    sensitive: { category: export, fresh_for: 10m, with_2fa: { low: email_code } }',
      ),
      FILE,
    );
    assert.deepEqual(
      policy.rules.map((r) => [r.index, r.name, r.access, r.intercept]),
      [
        [0, 'intercept:login', 'public', 'login'],
        [1, 'intercept:logout', 'public', 'logout'],
        [2, 'export', 'authenticated', null],
      ],
    );
    assert.deepEqual(policy.rules[2]?.source, { file: FILE, line: 7, column: 5 });
    assert.deepEqual(policy.rules[0]?.methods, new Set(['POST']));
    assert.deepEqual(policy.rules[2]?.sensitive, {
      category: 'export',
      freshForMs: 600_000,
      withoutTwoFactor: { low: 'email_code', medium: 'email_code', high: 'email_code' },
      withTwoFactor: { low: 'email_code', medium: 'pass', high: 'fresh_code' },
      nudgeEnableTwoFactor: true,
    });
    assert.equal(policy.defaultRule.access, 'deny');
    assert.equal(policy.defaultRule.name, 'default');
    assert.equal(policy.unknownMethodRule.access, 'deny');
    assert.equal(policy.unknownMethodRule.name, 'builtin:unknown-method');
    assert.equal(policy.settings.caseSensitive, false);
    assert.equal(policy.settings.pathParameters, 'reject');
    assert.deepEqual(policy.settings.knownMethods, new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']));
    assert.equal(policy.origin, FILE);
  });

  it('defaults: authenticated when no default is given', () => {
    const policy = compilePolicySource(yaml('version: 1'), FILE);
    assert.equal(policy.defaultRule.access, 'authenticated');
    assert.equal(policy.rules.length, 0);
  });

  it('compilePolicyValue reports paths without lines', () => {
    assert.throws(
      () => compilePolicyValue({ version: 1, rules: [{ name: 'a', paths: ['/a'], access: 'pubic' }] }, 'inline'),
      (error: unknown) =>
        error instanceof PolicyError &&
        error.message === 'inline: rules[0].access must be one of public, authenticated, deny (got "pubic")',
    );
  });
});

describe('loading a directory', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'policy-dir-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = (name: string, text: string) => writeFile(join(dir, name), text);

  it('concatenates the rules of *.yaml and *.yml files in name order, skipping test files', async () => {
    const sub = join(dir, 'ok');
    await import('node:fs/promises').then((fs) => fs.mkdir(sub));
    await writeFile(join(sub, '20-b.yml'), yaml('version: 1', 'rules:', '  - { name: b, paths: ["/x"], access: deny }'));
    await writeFile(
      join(sub, '10-a.yaml'),
      yaml('version: 1', 'default: { access: public }', 'rules:', '  - { name: a, paths: ["/x"], methods: [POST], access: public }'),
    );
    await writeFile(join(sub, 'a.test.yaml'), yaml('cases: []'));
    await writeFile(join(sub, 'notes.txt'), 'not yaml');
    const policy = await loadPolicy(sub);
    assert.deepEqual(
      policy.rules.map((r) => r.name),
      ['a', 'b'],
    );
    assert.equal(policy.match('POST', '/x').rule.name, 'a');
    assert.equal(policy.match('GET', '/x').rule.name, 'b');
    assert.equal(policy.defaultRule.access, 'public');
    assert.deepEqual(policy.rules[1]?.source, { file: join(sub, '20-b.yml'), line: 3, column: 5 });
  });

  it('refuses settings, default or intercept in two files, and duplicate names across files', async () => {
    const sub = join(dir, 'twice');
    await import('node:fs/promises').then((fs) => fs.mkdir(sub));
    await writeFile(join(sub, 'a.yaml'), yaml('version: 1', 'settings: { case_sensitive: true }', 'rules:', '  - { name: a, paths: ["/a"], access: deny }'));
    await writeFile(join(sub, 'b.yaml'), yaml('version: 1', 'settings: { case_sensitive: false }', 'rules:', '  - { name: a, paths: ["/b"], access: deny }'));
    await assert.rejects(loadPolicy(sub), (error: unknown) => {
      assert.ok(error instanceof PolicyError);
      assert.deepEqual(error.issues.map((i) => `${i.file}:${i.line}:${i.column}`), [`${join(sub, 'b.yaml')}:2:1`, `${join(sub, 'b.yaml')}:4:13`]);
      assert.match(error.issues[0]?.message ?? '', /^settings is already defined in .*a\.yaml:2:1; define it in only one file$/);
      assert.match(error.issues[1]?.message ?? '', /rules\[0\]\.name "a" is already used by the rule at .*a\.yaml:4:13/);
      return true;
    });
  });

  it('reports errors of every file, and an empty directory', async () => {
    const sub = join(dir, 'broken');
    await import('node:fs/promises').then((fs) => fs.mkdir(sub));
    await assert.rejects(loadPolicy(sub), /holds no policy files/);
    await writeFile(join(sub, 'a.yaml'), yaml('version: 1', 'rules: [{ name: a, paths: ["/a"], access: x }]'));
    await writeFile(join(sub, 'b.yaml'), yaml('version: [1'));
    await assert.rejects(loadPolicy(sub), (error: unknown) => {
      assert.ok(error instanceof PolicyError);
      assert.equal(error.issues.length, 2);
      assert.equal(error.issues[0]?.file, join(sub, 'a.yaml'));
      assert.equal(error.issues[1]?.file, join(sub, 'b.yaml'));
      return true;
    });
  });

  it('a missing file', async () => {
    await assert.rejects(loadPolicy(join(dir, 'nope.yaml')), /nope\.yaml: cannot read the policy: ENOENT/);
  });

  it('a single file', async () => {
    await write('single.yaml', yaml('version: 1', 'rules: [{ name: a, paths: ["/a"], access: public }]'));
    const policy = await loadPolicy(join(dir, 'single.yaml'));
    assert.equal(policy.match('GET', '/a').rule.name, 'a');
    assert.equal(policy.origin, join(dir, 'single.yaml'));
  });
});
