import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { compilePolicySource } from '../../../src/policy/load.ts';
import { PolicyError } from '../../../src/policy/policy-error.ts';
import type { CompiledPolicy } from '../../../src/policy/types.ts';
import { PolicyHolder } from '../../../src/policy/watch.ts';
import type { PolicyReloadEvent } from '../../../src/policy/watch.ts';

const policyText = (ruleName: string): string =>
  `version: 1\nrules:\n  - { name: ${ruleName}, paths: ["/x"], access: public }\n`;
const BROKEN = 'version: 1\nrules:\n  - { name: broken, paths: ["/a/**/b"], access: public }\n';

const ruleAtX = (policy: CompiledPolicy): string => policy.match('GET', '/x').rule.name;

/** Collects events; waitFor resolves with the first (past or future) event that satisfies the predicate. */
class EventLog {
  readonly events: PolicyReloadEvent[] = [];
  #waiters: { predicate: (e: PolicyReloadEvent) => boolean; resolve: (e: PolicyReloadEvent) => void }[] = [];
  #seen = 0;

  readonly listener = (event: PolicyReloadEvent): void => {
    this.events.push(event);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.predicate(event)) return true;
      w.resolve(event);
      return false;
    });
  };

  /** Only events after the last waitFor count, so each step waits for its own outcome. */
  waitFor(predicate: (e: PolicyReloadEvent) => boolean, timeoutMs = 5_000): Promise<PolicyReloadEvent> {
    const past = this.events.slice(this.#seen).find(predicate);
    this.#seen = this.events.length;
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no matching policy reload event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => [e.outcome, e.origin]))}`));
      }, timeoutMs);
      this.#waiters.push({
        predicate,
        resolve: (e) => {
          clearTimeout(timer);
          this.#seen = this.events.length;
          resolve(e);
        },
      });
    });
  }
}

describe('PolicyHolder', () => {
  let dir = '';
  const holders: PolicyHolder[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'policy-watch-'));
  });
  afterEach(() => {
    for (const h of holders.splice(0)) h.close();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function open(path: string): Promise<PolicyHolder> {
    const holder = await PolicyHolder.open(path, { debounceMs: 20 });
    holders.push(holder);
    return holder;
  }

  it('refuses to open a broken policy', async () => {
    const file = join(dir, 'broken-at-start.yaml');
    await writeFile(file, BROKEN);
    await assert.rejects(PolicyHolder.open(file), PolicyError);
  });

  it('reload(): a broken file keeps the old policy and reports failure; a fixed file swaps', async () => {
    const file = join(dir, 'explicit.yaml');
    await writeFile(file, policyText('one'));
    const holder = await open(file);
    const log = new EventLog();
    holder.watch(log.listener);
    const first = holder.current;
    assert.equal(ruleAtX(first), 'one');

    await writeFile(file, BROKEN);
    const failed = await holder.reload();
    assert.equal(failed.ok, false);
    assert.ok(!failed.ok && failed.error instanceof PolicyError);
    assert.match(String(!failed.ok && failed.error.message), /explicit\.yaml:3:\d+: rules\[0\]\.paths\[0\] may use "\*\*" only as the last segment/);
    assert.equal(holder.current, first, 'the old policy stays in force');
    const failure = await log.waitFor((e) => e.outcome === 'failure' && e.origin === 'reload');
    assert.ok(failure.error instanceof PolicyError);

    await writeFile(file, policyText('two'));
    const fixed = await holder.reload('signal');
    assert.equal(fixed.ok, true);
    assert.equal(ruleAtX(holder.current), 'two');
    const success = await log.waitFor((e) => e.outcome === 'success' && e.origin === 'signal');
    assert.equal(success.outcome === 'success' && ruleAtX(success.policy), 'two');
  });

  it('watch(): a broken edit is reported and ignored, a fixed edit is swapped in', async () => {
    const file = join(dir, 'watched.yaml');
    await writeFile(file, policyText('one'));
    const holder = await open(file);
    const log = new EventLog();
    holder.watch(log.listener);
    const first = holder.current;

    await writeFile(file, BROKEN);
    const failure = await log.waitFor((e) => e.outcome === 'failure');
    assert.equal(failure.origin, 'watch');
    assert.ok(failure.error instanceof PolicyError);
    assert.equal(holder.current, first);

    await writeFile(file, policyText('two'));
    await log.waitFor((e) => e.outcome === 'success' && ruleAtX(e.policy) === 'two');
    assert.equal(ruleAtX(holder.current), 'two');
  });

  it('watch(): an editor that saves by renaming a new file over the old one', async () => {
    const file = join(dir, 'renamed.yaml');
    await writeFile(file, policyText('one'));
    const holder = await open(file);
    const log = new EventLog();
    holder.watch(log.listener);

    for (const name of ['two', 'three']) {
      const temp = join(dir, `.renamed.yaml.${name}.tmp`);
      await writeFile(temp, policyText(name));
      await rename(temp, file);
      await log.waitFor((e) => e.outcome === 'success' && ruleAtX(e.policy) === name);
      assert.equal(ruleAtX(holder.current), name);
    }
  });

  it('watch(): a directory, including a Kubernetes-style ..data symlink swap', async () => {
    const root = join(dir, 'configmap');
    await mkdir(join(root, '..v1'), { recursive: true });
    await writeFile(join(root, '..v1', 'app.yaml'), policyText('one'));
    await symlink('..v1', join(root, '..data'));
    await symlink(join('..data', 'app.yaml'), join(root, 'app.yaml'));
    const holder = await open(root);
    assert.equal(ruleAtX(holder.current), 'one');
    const log = new EventLog();
    holder.watch(log.listener);

    // what the kubelet does: a new versioned directory, a temporary link, renamed over ..data
    await mkdir(join(root, '..v2'));
    await writeFile(join(root, '..v2', 'app.yaml'), policyText('two'));
    await symlink('..v2', join(root, '..data_tmp'));
    await rename(join(root, '..data_tmp'), join(root, '..data'));
    await log.waitFor((e) => e.outcome === 'success' && ruleAtX(e.policy) === 'two');
    assert.equal(ruleAtX(holder.current), 'two');

    // a new file in the directory adds its rules after the existing ones
    await writeFile(join(root, 'zz-more.yaml'), 'version: 1\nrules:\n  - { name: more, paths: ["/y"], access: deny }\n');
    await log.waitFor((e) => e.outcome === 'success' && e.policy.rules.some((r) => r.name === 'more'));
    assert.deepEqual(
      holder.current.rules.map((r) => r.name),
      ['two', 'more'],
    );
  });

  it('watch(): one file of a ConfigMap volume, across two kubelet swaps that also delete the old version', async () => {
    const root = join(dir, 'configmap-file');
    await mkdir(join(root, '..v1'), { recursive: true });
    await writeFile(join(root, '..v1', 'app.yaml'), policyText('one'));
    await symlink('..v1', join(root, '..data'));
    await symlink(join('..data', 'app.yaml'), join(root, 'app.yaml'));
    const holder = await open(join(root, 'app.yaml'));
    const log = new EventLog();
    holder.watch(log.listener);

    let previous = '..v1';
    for (const [version, name] of [['..v2', 'two'], ['..v3', 'three']] as const) {
      await mkdir(join(root, version));
      await writeFile(join(root, version, 'app.yaml'), policyText(name));
      await symlink(version, join(root, '..data_tmp'));
      await rename(join(root, '..data_tmp'), join(root, '..data'));
      // The kubelet removes the old version right after the swap.
      await rm(join(root, previous), { recursive: true });
      previous = version;
      await log.waitFor((e) => e.outcome === 'success' && ruleAtX(e.policy) === name);
      assert.equal(ruleAtX(holder.current), name);
    }
  });

  it('close() stops watching', async () => {
    const file = join(dir, 'closed.yaml');
    await writeFile(file, policyText('one'));
    const holder = await open(file);
    const log = new EventLog();
    holder.watch(log.listener);
    holder.close();
    await writeFile(file, policyText('two'));
    await assert.rejects(log.waitFor(() => true, 300), /no matching policy reload event/);
    assert.equal(ruleAtX(holder.current), 'one');
  });

  it('reloads run in call order: a slow older reload cannot overwrite a newer one', async () => {
    const policies = [compilePolicySource(policyText('slow'), 'a.yaml'), compilePolicySource(policyText('fast'), 'b.yaml')];
    let call = 0;
    const holder = new PolicyHolder('unused', compilePolicySource(policyText('initial'), 'i.yaml'), {
      load: async () => {
        const mine = call++;
        if (mine === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        return policies[mine] as CompiledPolicy;
      },
    });
    const [slow, fast] = await Promise.all([holder.reload(), holder.reload()]);
    assert.ok(slow.ok && fast.ok);
    assert.equal(ruleAtX(holder.current), 'fast');
  });

  it('a throwing listener does not break reloading', async () => {
    const file = join(dir, 'listener.yaml');
    await writeFile(file, policyText('one'));
    const holder = await open(file);
    holder.watch(() => {
      throw new Error('listener bug');
    });
    await writeFile(file, policyText('two'));
    assert.deepEqual((await holder.reload()).ok, true);
    assert.equal(ruleAtX(holder.current), 'two');
  });
});
