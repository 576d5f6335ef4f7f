import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counts } from '../../../src/core/counts.ts';

test('a count goes up and down per key, never below zero, and an unknown key is zero', () => {
  const counts = new Counts();
  assert.equal(counts.get('a'), 0);
  assert.equal(counts.add('a'), 1);
  assert.equal(counts.add('a'), 2);
  assert.equal(counts.add('b'), 1);
  counts.remove('a');
  assert.equal(counts.get('a'), 1);
  counts.remove('a');
  counts.remove('a');
  counts.remove('never');
  assert.equal(counts.get('a'), 0);
  assert.equal(counts.get('never'), 0);
  assert.equal(counts.add('a'), 1, 'a key back from zero counts from zero');
  assert.equal(counts.get('b'), 1);
});

test('a key that goes to zero and back over and over, among many others, keeps its place and its count', () => {
  const counts = new Counts();
  for (let i = 0; i < 5000; i++) counts.add(`steady-${i}`);
  for (let i = 0; i < 10_000; i++) {
    assert.equal(counts.add('hot'), 1);
    counts.remove('hot');
    assert.equal(counts.get('hot'), 0);
  }
  assert.equal(counts.keys, 5001, 'one zero key held, not one per round');
  assert.equal(counts.get('steady-4999'), 1);
});

test('keys left at zero are dropped a batch at a time, counts above zero stay', () => {
  const counts = new Counts();
  for (let i = 0; i < 5000; i++) counts.add(`k${i}`);
  counts.add('k0');
  for (let i = 0; i < 5000; i++) counts.remove(`k${i}`);
  assert.ok(counts.keys < 1024, `at most one batch of zeros is held (${counts.keys})`);
  assert.equal(counts.get('k0'), 1);
  for (let i = 1; i < 5000; i++) assert.equal(counts.get(`k${i}`), 0);
});
