import { randomInt } from 'node:crypto';

/**
 * Randomness for randomized tests. PLINTH_FUZZ_SEED pins the seed (CI pins it so a landing never
 * hinges on luck); without it every run draws a new one. Tests print the seed so a failure can
 * be replayed.
 */
export function fuzzSeed(): number {
  const pinned = process.env.PLINTH_FUZZ_SEED;
  if (pinned === undefined || pinned === '') return randomInt(2 ** 31);
  if (!/^\d+$/.test(pinned)) throw new Error(`PLINTH_FUZZ_SEED must be a whole number, not ${JSON.stringify(pinned)}`);
  return Number(pinned);
}

/** SplitMix32: tiny and well mixed, which is all a test's choices need. */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed | 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return ((z ^ (z >>> 15)) >>> 0) / 2 ** 32;
  }

  /** A whole number from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255);
    return out;
  }
}
