/**
 * Differences between two read points (branches, or branches as of an LSN/time).
 *
 * Candidates come from the change log (`Store.divergence`): only documents either side changed
 * since the merge base are read, so the cost follows the number of changes, not the data size.
 * Collection-level changes (create/drop/rename) do not log each document they affect, so for
 * those collections both sides are scanned in full.
 */
import type { Store } from '../storage/store.js';
import type { Document, LogEntry, ReadPoint } from '../storage/types.js';
import { MISSING, decodeLossless, decodePlain, idKey, isPlainObject, nsOf, plainValue, sameRaw, sameSlot, type Slot } from './values.js';

export interface FieldChange {
  /** Dotted path; array elements by index (`a.3`). */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

export interface DocChange {
  id: unknown;
  before?: Document;
  after?: Document;
  /** For modified documents: what changed, field by field. */
  fields?: FieldChange[];
}

export interface CollectionDiff {
  db: string;
  coll: string;
  added: DocChange[];
  removed: DocChange[];
  modified: DocChange[];
}

/** A collection-level change from the change log, and which side of the comparison made it. */
export interface ObjectChange {
  /** `from`: only the `from` point has it; `to`: only the `to` point has it. */
  side: 'from' | 'to';
  op: 'createCollection' | 'dropCollection' | 'createIndex' | 'dropIndex' | 'renameCollection' | 'collMod';
  db: string;
  coll: string;
  /** Index name for index changes, new collection name for renames. */
  name?: string;
  lsn: number;
}

export interface RefDiff {
  collections: CollectionDiff[];
  summary: { [ns: string]: { added: number; removed: number; modified: number } };
  objects: ObjectChange[];
}

/** A document some log entry touched, identified by namespace and `_id` key. */
export interface Candidate {
  db: string;
  coll: string;
  id: unknown;
}

export const DOC_OPS = new Set(['insert', 'update', 'delete']);

/** Adds the documents a list of log entries touched to `into` (keyed by ns + id key). */
export function collectCandidates(entries: readonly LogEntry[], into: Map<string, Candidate>): void {
  for (const entry of entries) {
    for (const change of entry.changes) {
      if (!DOC_OPS.has(change.op)) continue;
      into.set(`${nsOf(change.db, change.coll)}\0${idKey(change.id)}`, { db: change.db, coll: change.coll, id: change.id });
    }
  }
}

function collectObjects(entries: readonly LogEntry[], side: 'from' | 'to', out: ObjectChange[], rescan: Map<string, { db: string; coll: string }>): void {
  for (const entry of entries) {
    for (const change of entry.changes) {
      if (DOC_OPS.has(change.op)) continue;
      const op = change.op as ObjectChange['op'];
      const item: ObjectChange = { side, op, db: change.db, coll: change.coll, lsn: entry.lsn };
      if (change.id !== undefined) item.name = String(change.id);
      out.push(item);
      if (op === 'createCollection' || op === 'dropCollection' || op === 'renameCollection') {
        rescan.set(nsOf(change.db, change.coll), { db: change.db, coll: change.coll });
        if (op === 'renameCollection' && item.name !== undefined) rescan.set(nsOf(change.db, item.name), { db: change.db, coll: item.name });
      }
    }
  }
}

/** Field-level differences between two values (recursive over plain objects and arrays). */
export function diffFields(before: Slot, after: Slot, path = '', out: FieldChange[] = []): FieldChange[] {
  if (sameSlot(before, after)) return out;
  if (before === MISSING) {
    out.push({ path, kind: 'added', after: plainValue(after) });
  } else if (after === MISSING) {
    out.push({ path, kind: 'removed', before: plainValue(before) });
  } else if (isPlainObject(before) && isPlainObject(after)) {
    for (const key of Object.keys(before)) diffFields(before[key], key in after ? after[key] : MISSING, join(path, key), out);
    for (const key of Object.keys(after)) if (!(key in before)) diffFields(MISSING, after[key], join(path, key), out);
  } else if (Array.isArray(before) && Array.isArray(after)) {
    const n = Math.max(before.length, after.length);
    for (let i = 0; i < n; i++) diffFields(i < before.length ? before[i] : MISSING, i < after.length ? after[i] : MISSING, join(path, String(i)), out);
  } else {
    out.push({ path, kind: 'changed', before: plainValue(before), after: plainValue(after) });
  }
  return out;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** What changes going from `from` to `to`. */
export function diffRefs(store: Store, from: ReadPoint | string, to: ReadPoint | string): RefDiff {
  const divergence = store.divergence(from, to);
  const candidates = new Map<string, Candidate>();
  collectCandidates(divergence.a, candidates);
  collectCandidates(divergence.b, candidates);
  const objects: ObjectChange[] = [];
  const rescan = new Map<string, { db: string; coll: string }>();
  collectObjects(divergence.a, 'from', objects, rescan);
  collectObjects(divergence.b, 'to', objects, rescan);
  for (const { db, coll } of rescan.values()) {
    for (const point of [from, to]) {
      for (const raw of store.scanRaw(point, db, coll)) {
        const id = decodeLossless(raw)._id;
        candidates.set(`${nsOf(db, coll)}\0${idKey(id)}`, { db, coll, id });
      }
    }
  }

  const byNs = new Map<string, CollectionDiff>();
  const keys = [...candidates.keys()].sort();
  for (const key of keys) {
    const { db, coll, id } = candidates.get(key)!;
    const a = store.getRaw(from, db, coll, id);
    const b = store.getRaw(to, db, coll, id);
    if (sameRaw(a, b)) continue;
    const ns = nsOf(db, coll);
    let cd = byNs.get(ns);
    if (!cd) byNs.set(ns, (cd = { db, coll, added: [], removed: [], modified: [] }));
    if (a === null) {
      const after = decodePlain(b!);
      cd.added.push({ id: after._id, after });
    } else if (b === null) {
      const before = decodePlain(a);
      cd.removed.push({ id: before._id, before });
    } else {
      const before = decodePlain(a);
      cd.modified.push({ id: before._id, before, after: decodePlain(b), fields: diffFields(decodeLossless(a), decodeLossless(b)) });
    }
  }
  const collections = [...byNs.keys()].sort().map((ns) => byNs.get(ns)!);
  const summary: RefDiff['summary'] = {};
  for (const c of collections) summary[nsOf(c.db, c.coll)] = { added: c.added.length, removed: c.removed.length, modified: c.modified.length };
  return { collections, summary, objects };
}
