import type { RetryPolicy } from '../types.js';

/** What a task gets when its file says nothing about retries. */
export const DEFAULT_RETRIES: Readonly<RetryPolicy> = Object.freeze({ count: 0, backoff: 'exponential', delayMs: 1000, maxDelayMs: 30_000 });

/** The most retries a file may ask for: beyond this, a task is broken, not flaky. */
export const MAX_RETRIES = 100;

/**
 * Milliseconds to wait after attempt `failedAttempt` (1 = the first try) failed, before the next.
 *
 * - fixed: `delayMs` every time.
 * - exponential, with "full jitter": `random() * min(maxDelayMs, delayMs * 2^(failedAttempt - 1))`,
 *   rounded down. The ceiling doubles per failure up to the cap; the wait is uniform below it, so
 *   tasks that failed together (a database restarting) do not all retry at the same instant. The
 *   cost is that any one wait may be short: `delayMs` bounds the first wait rather than fixing it.
 */
export function retryDelay(policy: RetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  if (!Number.isInteger(failedAttempt) || failedAttempt < 1) throw new RangeError(`failedAttempt must be an integer ≥ 1, not ${failedAttempt}`);
  if (policy.backoff === 'fixed') return policy.delayMs;
  // 2 ** large is Infinity, which min() caps: no overflow however many attempts.
  const ceiling = Math.min(policy.maxDelayMs, policy.delayMs * 2 ** (failedAttempt - 1));
  return Math.floor(random() * ceiling);
}
