import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyHolder, type PolicyReloadEvent, type PolicyTimers } from '../../src/policy/watch.ts';
import type { CompiledPolicy } from '../../src/policy/types.ts';
import { startStack } from '../helpers/stack.ts';

/**
 * Issue 14 item 14: hot reload puts only complete, stable policy files in force, logs what changed,
 * and never drops a sensitive rule silently. Timers are injected: the tests move time themselves,
 * and file changes are announced with changed() (what the watcher calls), so nothing races.
 */

class ManualTimers implements PolicyTimers {
  now = 0;
  #next = 1;
  readonly #pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.#pending].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

const FULL = `version: 1
rules:
  - name: static
    paths: ["/static/**"]
    access: public
  - name: contact-export
    paths: ["/api/contacts/export"]
    access: authenticated
    sensitive:
      category: contact-export
      fresh_for: 10m
      without_2fa: { low: email_code, medium: email_code, high: email_code }
      with_2fa: { low: pass, medium: pass, high: fresh_code }
`;
/** The first of two writes of FULL: valid on its own, and without the sensitive rule. */
const FIRST_HALF = FULL.slice(0, FULL.indexOf('  - name: contact-export'));
const FULL_V2 = FULL.replace('fresh_for: 10m', 'fresh_for: 5m');

const exportRule = (policy: CompiledPolicy): string => policy.match('GET', '/api/contacts/export').rule.name;

interface Harness {
  readonly file: string;
  readonly holder: PolicyHolder;
  readonly timers: ManualTimers;
  readonly events: PolicyReloadEvent[];
  /** The next reload outcome (bounded). */
  next(): Promise<PolicyReloadEvent>;
}

async function harness(settleMs = 2000): Promise<Harness> {
  const file = join(mkdtempSync(join(tmpdir(), 'spg-reload-')), 'policy.yaml');
  writeFileSync(file, FULL);
  const timers = new ManualTimers();
  const holder = await PolicyHolder.open(file, { settleMs, timers });
  const events: PolicyReloadEvent[] = [];
  let waiter: ((e: PolicyReloadEvent) => void) | null = null;
  holder.watch(
    (event) => {
      events.push(event);
      waiter?.(event);
      waiter = null;
    },
    { fileEvents: false },
  );
  const next = (): Promise<PolicyReloadEvent> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reload event; events so far: ${events.map((e) => e.outcome).join(', ')}`)), 10_000);
      waiter = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
    });
  return { file, holder, timers, events, next };
}

test('an in-place rewrite in two writes 500 ms apart never puts the first half in force', async () => {
  const h = await harness();
  try {
    writeFileSync(h.file, FIRST_HALF); // write 1 (truncate + first half)
    h.holder.changed();
    h.timers.advance(500);
    writeFileSync(h.file, FULL_V2); // write 2, 500 ms later
    h.holder.changed();
    h.timers.advance(1999);
    assert.equal(h.events.length, 0, 'nothing is loaded while the file may still be written');
    assert.equal(exportRule(h.holder.current), 'contact-export');
    const loaded = h.next();
    h.timers.advance(1);
    const event = await loaded;
    assert.equal(event.outcome, 'success');
    assert.equal(h.holder.current.rules.find((r) => r.name === 'contact-export')?.sensitive?.freshForMs, 5 * 60_000, 'the complete file is in force');
    assert.deepEqual(event.outcome === 'success' && event.diff.changed, ['contact-export']);
    assert.equal(h.events.length, 1, 'the half was never loaded');
  } finally {
    h.holder.close();
  }
});

test('a change that arrives without an event (or between the event and the settle) restarts the wait', async () => {
  const h = await harness();
  try {
    writeFileSync(h.file, FIRST_HALF);
    h.holder.changed();
    h.timers.advance(1000);
    writeFileSync(h.file, FULL_V2); // no event for this write
    h.timers.advance(1000);
    assert.equal(h.events.length, 0, 'the files differ from what the event saw: wait again');
    assert.equal(exportRule(h.holder.current), 'contact-export');
    const loaded = h.next();
    h.timers.advance(2000);
    assert.equal((await loaded).outcome, 'success');
    assert.equal(h.holder.current.rules.find((r) => r.name === 'contact-export')?.sensitive?.freshForMs, 5 * 60_000);
  } finally {
    h.holder.close();
  }
});

test('a watched change that drops or weakens a sensitive rule is held until an explicit reload (SIGHUP) confirms it', async () => {
  const h = await harness();
  try {
    writeFileSync(h.file, FIRST_HALF);
    h.holder.changed();
    const held = h.next();
    h.timers.advance(2000);
    const event = await held;
    assert.equal(event.outcome, 'held');
    assert.deepEqual(event.outcome === 'held' && event.diff.weakened, ['sensitive rule "contact-export" was removed']);
    assert.equal(exportRule(h.holder.current), 'contact-export', 'the previous policy stays in force');

    const relaxed = FULL.replace('high: fresh_code', 'high: pass').replace('paths: ["/api/contacts/export"]', 'paths: ["/api/contacts/export"]\n    methods: [GET]');
    writeFileSync(h.file, relaxed);
    h.holder.changed();
    const again = h.next();
    h.timers.advance(2000);
    const second = await again;
    assert.equal(second.outcome, 'held');
    assert.deepEqual(second.outcome === 'held' && second.diff.weakened, [
      'sensitive rule "contact-export": now covers only methods GET',
      'sensitive rule "contact-export": with_2fa.high fresh_code → pass',
    ]);

    const confirmed = await h.holder.reload(); // SIGHUP
    assert.equal(confirmed.ok, true);
    assert.equal(h.holder.current.rules.find((r) => r.name === 'contact-export')?.sensitive?.withTwoFactor.high, 'pass');
  } finally {
    h.holder.close();
  }
});

test('the service logs the diff of every reload and a warning naming each weakened sensitive rule', async () => {
  const stack = await startStack({ policy: FULL, config: { policy_reload: { settle: '100ms' } }, start: { watchPolicy: true } });
  const waitForLog = async (msg: RegExp): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 400; i++) {
      const found = stack.logs.find((line) => msg.test(String(line['msg'])));
      if (found) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no log line ${msg} in ${JSON.stringify(stack.logs.map((l) => l['msg']))}`);
  };
  try {
    // Edited the documented way: a new file renamed over the old one.
    const next = `${stack.policyFile}.new`;
    writeFileSync(next, FIRST_HALF);
    renameSync(next, stack.policyFile);
    const held = await waitForLog(/^policy change held/);
    assert.deepEqual(held['weakened'], ['sensitive rule "contact-export" was removed']);
    assert.deepEqual(held['removed'], ['contact-export']);
    const warning = await waitForLog(/^policy reload weakens protection/);
    assert.match(String(warning['msg']), /sensitive rule "contact-export" was removed/);
    assert.equal(exportRule(stack.guard.policy.current), 'contact-export');
    await stack.guard.policy.reload('SIGHUP');
    const applied = await waitForLog(/^policy reloaded$/);
    assert.deepEqual(applied['removed'], ['contact-export']);
    assert.equal(stack.guard.policy.current.rules.some((r) => r.name === 'contact-export'), false);
  } finally {
    await stack.close();
  }
});
