import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRIES, formatDuration, parseDuration, retryDelay } from '../src/pipelines/index.js';
import type { RetryPolicy } from '../src/types.js';

/** mulberry32: a small seeded generator, so the jitter tests see the same numbers every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('parseDuration: units, combos, decimals, whitespace', () => {
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1d1h1m1s1ms'), 90_061_001);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration(' 10m '), 600_000);
});

test('parseDuration: refusals say why', () => {
  assert.throws(() => parseDuration('-1s'), { name: 'RangeError', message: "'-1s' is negative; durations cannot be" });
  assert.throws(() => parseDuration(''), /empty duration/);
  assert.throws(() => parseDuration('10'), /'10' is not a duration \(at '10'\)/);
  assert.throws(() => parseDuration('1m 30s'), /not a duration \(at ' 30s'\)/);
  assert.throws(() => parseDuration('5 minutes'), /not a duration/);
  assert.throws(() => parseDuration('1s1s'), /repeats or misorders units/);
  assert.throws(() => parseDuration('1ms1s'), /repeats or misorders units/);
  assert.throws(() => parseDuration('1e3s'), /not a duration/);
  assert.throws(() => parseDuration(`${'9'.repeat(20)}d`), /too long/);
});

test('formatDuration: two largest units, parseable back', () => {
  const cases: [number, string][] = [
    [0, '0ms'], [450, '450ms'], [999.6, '1000ms'], [1000, '1s'], [1500, '1.5s'], [59_940, '59.9s'], [59_960, '1m'],
    [90_000, '1m30s'], [3_600_000, '1h'], [3_723_000, '1h2m'], [93_600_000, '1d2h'], [-1500, '-1.5s'],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `formatDuration(${ms})`);
  for (const ms of [1500, 90_000, 3_660_000, 93_600_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
});

test('retryDelay: fixed is the delay every time', () => {
  const policy: RetryPolicy = { count: 5, backoff: 'fixed', delayMs: 2000, maxDelayMs: 500 };
  for (const attempt of [1, 2, 10]) assert.equal(retryDelay(policy, attempt, () => 0.99), 2000);
});

test('retryDelay: exponential full jitter stays within [0, min(max, delay·2^(n-1)))', () => {
  const policy: RetryPolicy = { ...DEFAULT_RETRIES, count: 10 };
  const random = seeded(42);
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(30_000, 1000 * 2 ** (attempt - 1));
    const delays = Array.from({ length: 200 }, () => retryDelay(policy, attempt, random));
    for (const d of delays) assert.ok(Number.isInteger(d) && d >= 0 && d < ceiling, `attempt ${attempt}: ${d} outside [0, ${ceiling})`);
    // The jitter spreads: a seeded sample of 200 reaches both ends of its range.
    assert.ok(Math.min(...delays) < ceiling * 0.1 && Math.max(...delays) > ceiling * 0.9, `attempt ${attempt} is not spread`);
  }
});

test('retryDelay: exact values at the edges of random', () => {
  const policy: RetryPolicy = { count: 3, backoff: 'exponential', delayMs: 1000, maxDelayMs: 5000 };
  assert.equal(retryDelay(policy, 1, () => 0), 0);
  assert.equal(retryDelay(policy, 1, () => 0.5), 500);
  assert.equal(retryDelay(policy, 2, () => 0.5), 1000);
  assert.equal(retryDelay(policy, 3, () => 0.5), 2000);
  assert.equal(retryDelay(policy, 4, () => 0.5), 2500);
  assert.equal(retryDelay(policy, 5000, () => 0.999999), 4999);
  assert.throws(() => retryDelay(policy, 0), RangeError);
  assert.throws(() => retryDelay(policy, 1.5), RangeError);
});
