/**
 * Recently read or written documents at the head of each branch, as stored values (flag byte +
 * BSON). A branch's head only changes through its own writes (its parent's later writes are past
 * its fork point and invisible to it), so the cache is exact with write-through on commit and no
 * other invalidation. As-of reads and reads inside a write batch never use it.
 *
 * Eviction is by two generations rather than strict LRU, so a hit costs one map lookup: entries
 * live in `young` until it fills half the budget, then the whole generation becomes `old`, and
 * whatever is read again from `old` moves back to `young`.
 */
export class HeadCache {
  private young = new Map<string, Buffer | null>();
  private old = new Map<string, Buffer | null>();
  private youngBytes = 0;

  constructor(private readonly maxBytes: number) {}

  static key(branchId: number, group: Buffer): string {
    return `${branchId}:${group.toString('latin1')}`;
  }

  get(key: string): Buffer | null | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  /** `null` records a known absence (deleted or never written). */
  set(key: string, value: Buffer | null): void {
    if (this.maxBytes <= 0) return;
    this.old.delete(key);
    this.young.set(key, value);
    this.youngBytes += key.length + (value?.length ?? 0) + 64;
    if (this.youngBytes > this.maxBytes / 2) {
      this.old = this.young;
      this.young = new Map();
      this.youngBytes = 0;
    }
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngBytes = 0;
  }
}
