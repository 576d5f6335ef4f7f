import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandWords, helpFor, wantsHelp } from '../../../src/cli/help.ts';
import { findSecretReferences } from '../../../src/cli/secrets-check.ts';

const USAGE = `Usage: tool <command>

Commands:
  serve [--config FILE]            run it
  policy check FILE                check
  policy explain --path P
                 [--json]
                                   explain
  admin status EMAIL               status
  admin audit EMAIL                audit
    (admin: [--config FILE]; exit codes)
`;

describe('--help from the usage text', () => {
  it('one subcommand: its own lines, continuation lines included', () => {
    assert.equal(helpFor(USAGE, ['policy', 'explain']), 'Usage: smartpush-guard policy explain …\n\n  policy explain --path P\n                 [--json]\n                                   explain\n');
  });
  it('a group: every entry of the group and its note', () => {
    const help = helpFor(USAGE, ['admin'])!;
    assert.match(help, /^Usage: smartpush-guard admin …/);
    assert.match(help, /admin status EMAIL/);
    assert.match(help, /admin audit EMAIL/);
    assert.match(help, /\(admin: \[--config FILE\]; exit codes\)/);
    assert.doesNotMatch(help, /policy/);
  });
  it('an unknown subcommand falls back to the group; an unknown command has no help', () => {
    assert.match(helpFor(USAGE, ['policy', 'nope'])!, /policy check[^]*policy explain/);
    assert.equal(helpFor(USAGE, ['bogus']), null);
    assert.equal(helpFor(USAGE, []), USAGE);
  });
  it('reads the command words and the help flag from a command line', () => {
    assert.deepEqual(commandWords(['policy', 'explain', 'GET', '/x']), ['policy', 'explain']);
    assert.deepEqual(commandWords(['admin', 'status', 'ann@example.com', '--help']), ['admin', 'status']);
    assert.deepEqual(commandWords(['--help']), []);
    assert.equal(wantsHelp(['serve', '--config', 'x', '-h']), true);
    assert.equal(wantsHelp(['policy', 'explain', '--', '--help']), false);
    assert.equal(wantsHelp(['serve']), false);
  });
});

describe('secret references of a config', () => {
  it('finds every {env} and {file}, wherever it is, and nothing else', () => {
    const refs = findSecretReferences({
      session: { keys: { file: 'k.json' } },
      admin: { tokens: [{ name: 'a', token: { env: 'TOKEN' } }] },
      channels: { email: { kind: 'smtp', password: { env: 'SMTP_PASSWORD' } } },
      audit: { file: 'audit.jsonl' },
      store: { sqlite: 'guard.db' },
    });
    assert.deepEqual(refs, [
      { key: 'session.keys', ref: { file: 'k.json' } },
      { key: 'admin.tokens[0].token', ref: { env: 'TOKEN' } },
      { key: 'channels.email.password', ref: { env: 'SMTP_PASSWORD' } },
    ]);
  });
});
