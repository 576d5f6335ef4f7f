import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamAdmission, type Admission } from '../../../src/proxy/admission.ts';

/** THREATS T17: the upstream pool keeps a reserve for signed-in traffic and caps each address. */

function granted(a: Admission): () => void {
  assert.equal(a.ok, true, `expected a place, got ${JSON.stringify(a)}`);
  return (a as { release(): void }).release;
}

test('anonymous requests hold at most their share; signed-in ones get the rest', async () => {
  const pool = new UpstreamAdmission({ maxSockets: 4, anonymousShare: 0.5, queueTimeoutMs: 60_000, perAddress: 100 });
  const anon = [granted(await pool.acquire('anonymous', 'a')), granted(await pool.acquire('anonymous', 'b'))];
  const waiting = pool.acquire('anonymous', 'c');
  const signedIn = [granted(await pool.acquire('signed_in', 'd')), granted(await pool.acquire('signed_in', 'e'))];
  assert.deepEqual(pool.inUse(), { total: 4, anonymous: 2 });
  // Full: a signed-in request waits too, and is served before the anonymous one that came first.
  const signedInWaiting = pool.acquire('signed_in', 'f');
  anon[0]?.();
  const next = granted(await signedInWaiting);
  assert.deepEqual(pool.inUse(), { total: 4, anonymous: 1 });
  signedIn[0]?.();
  granted(await waiting);
  assert.deepEqual(pool.inUse(), { total: 4, anonymous: 2 });
  next();
  signedIn[1]?.();
  anon[1]?.();
});

test('one address gets at most perAddress places, waiting ones included', async () => {
  const pool = new UpstreamAdmission({ maxSockets: 1, anonymousShare: 1, queueTimeoutMs: 60_000, perAddress: 2 });
  const first = granted(await pool.acquire('anonymous', 'x'));
  const second = pool.acquire('anonymous', 'x');
  assert.deepEqual(await pool.acquire('anonymous', 'x'), { ok: false, reason: 'address_limit' });
  assert.equal((await pool.acquire('anonymous', 'y', AbortSignal.abort())).ok, false, 'another address is not capped, but a gone client gets nothing');
  first();
  const release = granted(await second);
  release();
  release();
  assert.deepEqual(pool.inUse(), { total: 0, anonymous: 0 }, 'a double release gives back one place only');
  granted(await pool.acquire('anonymous', 'x'))();
});

test('a request that waits longer than queueTimeout is told the pool is busy; a client that leaves stops waiting', async () => {
  const pool = new UpstreamAdmission({ maxSockets: 1, anonymousShare: 1, queueTimeoutMs: 20, perAddress: 10 });
  const held = granted(await pool.acquire('signed_in', 'a'));
  // The queue timer is unref'd (a waiting request must not keep a draining process alive): run
  // alone, this test would leave the event loop empty before it fires. Hold the loop open meanwhile.
  const loopOpen = setInterval(() => {}, 1_000);
  try {
    assert.deepEqual(await pool.acquire('anonymous', 'b'), { ok: false, reason: 'busy' });
  } finally {
    clearInterval(loopOpen);
  }
  const leaving = new AbortController();
  const gone = pool.acquire('signed_in', 'c', leaving.signal);
  leaving.abort();
  assert.deepEqual(await gone, { ok: false, reason: 'gone' });
  held();
  assert.deepEqual(pool.inUse(), { total: 0, anonymous: 0 });
});
