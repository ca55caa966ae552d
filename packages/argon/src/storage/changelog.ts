import { serialize, deserialize } from 'bson';
import type { Change, ChangeKind } from './types.js';

/**
 * A commit's change list is stored as a run of BSON documents of at most CHUNK changes each,
 * so a batch of a million inserts never hits BSON's 16 MiB document limit.
 */
const CHUNK = 10_000;

const KIND_CODES: Record<ChangeKind, number> = {
  insert: 1,
  update: 2,
  delete: 3,
  createCollection: 4,
  dropCollection: 5,
  createIndex: 6,
  dropIndex: 7,
  renameCollection: 8,
};
const KINDS = Object.fromEntries(Object.entries(KIND_CODES).map(([k, v]) => [v, k])) as Record<number, ChangeKind>;

export function encodeChanges(time: number, changes: readonly Change[]): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at === 0 || at < changes.length; at += CHUNK) {
    const chunk = changes.slice(at, at + CHUNK).map((c) => ({ o: KIND_CODES[c.op], d: c.db, c: c.coll, i: c.id }));
    parts.push(Buffer.from(serialize({ t: time, c: chunk }, { ignoreUndefined: true })));
  }
  return Buffer.concat(parts);
}

export function decodeChanges(buf: Buffer): { time: number; changes: Change[] } {
  const changes: Change[] = [];
  let time = 0;
  for (let at = 0; at < buf.length; ) {
    const size = buf.readInt32LE(at);
    const doc = deserialize(buf.subarray(at, at + size));
    time = doc.t;
    for (const c of doc.c as { o: number; d: string; c: string; i?: unknown }[]) {
      const change: Change = { op: KINDS[c.o]!, db: c.d, coll: c.c };
      if ('i' in c) change.id = c.i;
      changes.push(change);
    }
    at += size;
  }
  return { time, changes };
}
