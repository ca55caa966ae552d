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
  collMod: 9,
};
const KINDS = Object.fromEntries(Object.entries(KIND_CODES).map(([k, v]) => [v, k])) as Record<number, ChangeKind>;

/** Optional flag bits (`f`): absent in records written before they existed, which read as 0. */
const REPLACEMENT = 1;
const DROP_DATABASE = 2;

function flagsOf(c: Change): number | undefined {
  const f = (c.replacement ? REPLACEMENT : 0) | (c.dropDatabase ? DROP_DATABASE : 0);
  return f === 0 ? undefined : f;
}

export function encodeChanges(time: number, changes: readonly Change[], author?: string): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at === 0 || at < changes.length; at += CHUNK) {
    const chunk = changes.slice(at, at + CHUNK).map((c) => ({ o: KIND_CODES[c.op], d: c.db, c: c.coll, i: c.id, f: flagsOf(c) }));
    parts.push(Buffer.from(serialize({ t: time, a: author, c: chunk }, { ignoreUndefined: true })));
  }
  return Buffer.concat(parts);
}

export function decodeChanges(buf: Buffer): { time: number; author?: string; changes: Change[] } {
  const changes: Change[] = [];
  let time = 0;
  let author: string | undefined;
  for (let at = 0; at < buf.length; ) {
    const size = buf.readInt32LE(at);
    const doc = deserialize(buf.subarray(at, at + size));
    time = doc.t;
    author = doc.a;
    for (const c of doc.c as { o: number; d: string; c: string; i?: unknown; f?: number }[]) {
      const change: Change = { op: KINDS[c.o]!, db: c.d, coll: c.c };
      if ('i' in c) change.id = c.i;
      const flags = c.f ?? 0;
      if (flags & REPLACEMENT) change.replacement = true;
      if (flags & DROP_DATABASE) change.dropDatabase = true;
      changes.push(change);
    }
    at += size;
  }
  return { time, author, changes };
}
