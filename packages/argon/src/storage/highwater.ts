import type { BinaryDb } from './versioned.js';

/**
 * The highest encoded `_id` ever stored in each collection incarnation, on any branch. An insert
 * whose `_id` sorts above it cannot collide with anything, so bulk loads with increasing ids
 * (ObjectIds, counters) skip the duplicate-key seek. Raising the mark too far (a batch that then
 * aborts, versions later compacted away) only makes the shortcut apply less often, never wrongly.
 */
export class IdHighWater {
  private readonly marks = new Map<number, Buffer | null>();

  constructor(private readonly docs: BinaryDb) {}

  /** True when no version of `encId` can exist in collection `nsId`. */
  isAbove(nsId: number, encId: Buffer): boolean {
    const mark = this.mark(nsId);
    return mark === null || Buffer.compare(encId, mark) > 0;
  }

  note(nsId: number, encId: Buffer): void {
    const mark = this.mark(nsId);
    if (mark === null || Buffer.compare(encId, mark) > 0) this.marks.set(nsId, Buffer.from(encId));
  }

  private mark(nsId: number): Buffer | null {
    let mark = this.marks.get(nsId);
    if (mark === undefined) {
      mark = null;
      const upper = Buffer.alloc(4);
      upper.writeUInt32BE(nsId + 1);
      const lower = Buffer.alloc(4);
      lower.writeUInt32BE(nsId);
      for (const key of this.docs.getKeys({ start: upper, end: lower, reverse: true, limit: 2 })) {
        if (key.length > 16 && key.readUInt32BE(0) === nsId) {
          mark = Buffer.from(key.subarray(4, key.length - 12));
          break;
        }
      }
      this.marks.set(nsId, mark);
    }
    return mark;
  }
}
