/**
 * Three-way merge of one branch (source, "theirs") into another (target, "ours").
 *
 * For every document the source changed since the merge base (from the change log, so the cost
 * follows the number of changes): if only the source changed it, take the source's version; if
 * both changed it, merge field by field against the base. Plain sub-documents merge recursively;
 * arrays and other values are merged as a whole (element-wise merging of arrays is ambiguous once
 * elements move). The same path changed differently on both sides is a conflict, and so is a
 * delete on one side against a change on the other (path '').
 *
 * The plan is computed and applied inside ONE `store.transact(target, ...)` batch, so it is
 * atomic and sees the target exactly as it is written to. A dry run (and a failed merge) runs the
 * same batch and then aborts it, which also detects unique-index violations without writing.
 *
 * Out of scope (not handled here): a manual/interactive strategy, merge gates (checks that must
 * pass before merging), and collection-level merges (created/dropped/renamed collections and
 * indexes on the source are listed in `skippedObjects`, not applied; documents a dropped or
 * renamed collection lost are not logged one by one and are therefore not merged).
 */
import { ArgonError } from '../errors.js';
import type { Store } from '../storage/store.js';
import type { Document, LogEntry, ReadPoint } from '../storage/types.js';
import type { WriteTx } from '../storage/writer.js';
import { collectCandidates, DOC_OPS, type Candidate, type ObjectChange } from './diff.js';
import { MISSING, decodeLossless, decodePlain, isPlainObject, plainValue, sameRaw, sameSlot, type Slot } from './values.js';

export type MergeStrategy = 'fail' | 'ours' | 'theirs';

export interface MergeOptions {
  /** `fail` (default): any conflict aborts the merge; `ours`/`theirs`: conflicts resolve to that side. */
  strategy?: MergeStrategy;
  /** Compute everything (including unique-index checks) and write nothing. */
  dryRun?: boolean;
}

/** The same path changed differently on both sides (`field`), or deleted on one side and changed on the other (`delete`, path ''). */
export interface ValueConflict {
  kind: 'field' | 'delete';
  db: string;
  coll: string;
  id: unknown;
  path: string;
  /** Values as plain JS (undefined: absent). For `delete` conflicts, whole documents. */
  base?: unknown;
  ours?: unknown;
  theirs?: unknown;
  /** The side the conflict was resolved to; absent when the merge failed. */
  resolved?: 'ours' | 'theirs';
}

/** Applying the merged document violated a unique index on the target. */
export interface UniqueConflict {
  kind: 'unique';
  db: string;
  coll: string;
  id: unknown;
  path: '';
  message: string;
  keyPattern?: unknown;
  keyValue?: unknown;
}

export type MergeConflict = ValueConflict | UniqueConflict;

export interface MergeResult {
  status: 'merged' | 'conflicts' | 'up-to-date';
  /** The target made no changes since the merge base. */
  fastForward: boolean;
  /** What was written (or, for a dry run or a failed merge, what would have been). */
  applied: { inserted: number; updated: number; deleted: number };
  conflicts: MergeConflict[];
  /** LSN of the merge batch on the target, when something was written. */
  lsn?: number;
  dryRun: boolean;
  /** Collection-level changes on the source that this merge does not apply. */
  skippedObjects: ObjectChange[];
}

interface Step {
  db: string;
  coll: string;
  id: unknown;
  /** Lossless document to write, or null to delete. */
  doc: Document | null;
  /** Whether the target currently has the document. */
  oursExists: boolean;
}

/** Thrown inside the batch to roll it back (dry runs and failed merges). */
const ROLLBACK = Symbol('rollback');

/**
 * Three-way merge of two values. Returns the merged value (MISSING: absent) and records a
 * conflict for every path both sides changed differently, resolving it to `prefer`.
 */
export function merge3(base: Slot, ours: Slot, theirs: Slot, path: string, prefer: 'ours' | 'theirs', onConflict: (path: string, base: Slot, ours: Slot, theirs: Slot) => void): Slot {
  if (sameSlot(ours, theirs)) return ours;
  if (sameSlot(base, ours)) return theirs;
  if (sameSlot(base, theirs)) return ours;
  if (isPlainObject(ours) && isPlainObject(theirs) && (base === MISSING || isPlainObject(base))) {
    const b: Record<string, unknown> = base === MISSING ? {} : (base as Record<string, unknown>);
    const out: Record<string, unknown> = {};
    const keys = [...Object.keys(ours), ...Object.keys(theirs).filter((k) => !Object.hasOwn(ours, k))];
    for (const key of keys) {
      const merged = merge3(
        Object.hasOwn(b, key) ? b[key] : MISSING,
        Object.hasOwn(ours, key) ? ours[key] : MISSING,
        Object.hasOwn(theirs, key) ? theirs[key] : MISSING,
        path === '' ? key : `${path}.${key}`,
        prefer,
        onConflict,
      );
      if (merged !== MISSING) out[key] = merged;
    }
    return out;
  }
  onConflict(path, base, ours, theirs);
  return prefer === 'theirs' ? theirs : ours;
}

function plainDoc(raw: Buffer | null): Document | undefined {
  return raw ? decodePlain(raw) : undefined;
}

/** What a three-way application needs; computed inside the batch, so it sees the target as written. */
interface ThreeWayPlan {
  base: ReadPoint;
  /** The incoming side. */
  theirs: ReadPoint | string;
  /** Change-log entries naming the documents the incoming side changed since the base. */
  sourceChanges: LogEntry[];
  fastForward: boolean;
  /** Bookkeeping written with the changes (e.g. the merge record). */
  onWrite?: (tx: WriteTx) => void;
}

/** Merges `source` into `target`. See the module comment for the rules. */
export function mergeBranches(store: Store, source: string, target: string, options: MergeOptions = {}): Promise<MergeResult> {
  return applyThreeWay(store, target, options, () => {
    const divergence = store.divergence(source, target);
    // After an earlier merge of the same source, its state then is the base, and only the source's
    // later changes are candidates: re-merging must not see already merged work as conflicts.
    const previous = store.lastMerge(source, target);
    const sourceChanges = previous ? divergence.a.filter((e) => e.lsn > previous.lsn!) : divergence.a;
    const sourceLsn = store.headLsn;
    return {
      base: previous ?? divergence.base,
      theirs: source,
      sourceChanges,
      fastForward: divergence.b.length === 0 && sourceChanges.length > 0,
      onWrite: (tx) => tx.recordMerge(store.branchId(source), sourceLsn),
    };
  });
}

/**
 * Undoes the changes a branch made in an LSN range, as a new change: a three-way merge whose base
 * is the branch at the end of the range and whose incoming side is the branch just before it, so
 * later edits to the same fields are kept or reported as conflicts.
 */
export function revertRange(store: Store, branch: string, range: { fromLsn: number; toLsn?: number }, options: MergeOptions = {}): Promise<MergeResult> {
  return applyThreeWay(store, branch, options, () => {
    const toLsn = range.toLsn ?? range.fromLsn;
    if (range.fromLsn < 1 || toLsn < range.fromLsn) throw new ArgonError('BadValue', `invalid LSN range ${range.fromLsn}..${toLsn}`);
    return {
      base: { branch, lsn: toLsn },
      theirs: { branch, lsn: range.fromLsn - 1 },
      sourceChanges: [...store.log(branch, { fromLsn: range.fromLsn, toLsn })],
      fastForward: false,
    };
  });
}

async function applyThreeWay(store: Store, target: string, options: MergeOptions, makePlan: () => ThreeWayPlan): Promise<MergeResult> {
  const strategy = options.strategy ?? 'fail';
  const dryRun = options.dryRun ?? false;
  let result: MergeResult | undefined;

  const run = (tx: WriteTx): void => {
    const { base, theirs, sourceChanges, fastForward, onWrite } = makePlan();
    const candidates = new Map<string, Candidate>();
    collectCandidates(sourceChanges, candidates);
    const skippedObjects: ObjectChange[] = [];
    for (const entry of sourceChanges) {
      for (const c of entry.changes) {
        if (DOC_OPS.has(c.op)) continue;
        const item: ObjectChange = { side: 'from', op: c.op as ObjectChange['op'], db: c.db, coll: c.coll, lsn: entry.lsn };
        if (c.id !== undefined) item.name = String(c.id);
        skippedObjects.push(item);
      }
    }

    const conflicts: MergeConflict[] = [];
    const steps: Step[] = [];
    const prefer = strategy === 'theirs' ? 'theirs' : 'ours';
    const resolved = strategy === 'fail' ? undefined : prefer;
    for (const key of [...candidates.keys()].sort()) {
      const { db, coll, id } = candidates.get(key)!;
      const baseRaw = store.getRaw(base, db, coll, id);
      const theirsRaw = store.getRaw(theirs, db, coll, id);
      if (sameRaw(baseRaw, theirsRaw)) continue; // changed and changed back on the source
      const oursRaw = store.getRaw(target, db, coll, id);
      if (sameRaw(oursRaw, theirsRaw)) continue; // the target already has it
      const theirsDoc = theirsRaw && decodeLossless(theirsRaw);
      if (sameRaw(baseRaw, oursRaw)) {
        steps.push({ db, coll, id, doc: theirsDoc, oursExists: oursRaw !== null });
        continue;
      }
      if (oursRaw === null || theirsRaw === null) {
        const conflict: ValueConflict = { kind: 'delete', db, coll, id, path: '', base: plainDoc(baseRaw), ours: plainDoc(oursRaw), theirs: plainDoc(theirsRaw) };
        if (resolved) conflict.resolved = resolved;
        conflicts.push(conflict);
        if (prefer === 'theirs') steps.push({ db, coll, id, doc: theirsDoc, oursExists: oursRaw !== null });
        continue;
      }
      const oursDoc = decodeLossless(oursRaw);
      const merged = merge3(baseRaw ? decodeLossless(baseRaw) : MISSING, oursDoc, theirsDoc!, '', prefer, (path, b, o, t) => {
        const conflict: ValueConflict = { kind: 'field', db, coll, id, path, base: plainValue(b), ours: plainValue(o), theirs: plainValue(t) };
        if (resolved) conflict.resolved = resolved;
        conflicts.push(conflict);
      });
      if (!sameSlot(merged, oursDoc)) steps.push({ db, coll, id, doc: merged as Document, oursExists: true });
    }

    // Deletes first, then updates, then inserts: that order frees unique keys before they are reused.
    const rank = (s: Step) => (s.doc === null ? 0 : s.oursExists ? 1 : 2);
    let pending = steps.sort((x, y) => rank(x) - rank(y));
    const applied = { inserted: 0, updated: 0, deleted: 0 };
    const failOnConflict = strategy === 'fail' && conflicts.length > 0;
    if (!failOnConflict) {
      // A step refused for a unique key may succeed once others moved out of its way: retry until no progress.
      while (pending.length > 0) {
        const refused: { step: Step; error: ArgonError }[] = [];
        for (const step of pending) {
          try {
            apply(tx, step, applied);
          } catch (error) {
            if (error instanceof ArgonError && error.code === 11000) refused.push({ step, error });
            else throw error;
          }
        }
        if (refused.length === pending.length) {
          for (const { step, error } of refused) {
            const conflict: UniqueConflict = { kind: 'unique', db: step.db, coll: step.coll, id: step.id, path: '', message: error.message };
            if (error.info.keyPattern !== undefined) conflict.keyPattern = error.info.keyPattern;
            if (error.info.keyValue !== undefined) conflict.keyValue = error.info.keyValue;
            conflicts.push(conflict);
          }
          break;
        }
        pending = refused.map((r) => r.step);
      }
    } else {
      for (const step of pending) count(step, applied);
    }

    const failed = failOnConflict || conflicts.some((c) => c.kind === 'unique');
    const wrote = applied.inserted + applied.updated + applied.deleted > 0;
    if (wrote) onWrite?.(tx);
    result = {
      status: failed ? 'conflicts' : wrote || conflicts.length > 0 ? 'merged' : 'up-to-date',
      fastForward,
      applied,
      conflicts,
      dryRun,
      skippedObjects,
    };
    if (failed || dryRun) throw ROLLBACK;
  };

  try {
    const committed = await store.transact(target, run, { asMerge: true });
    const r = result!;
    if (r.applied.inserted + r.applied.updated + r.applied.deleted > 0) r.lsn = committed.lsn;
    return r;
  } catch (error) {
    if (error === ROLLBACK) return result!;
    throw error;
  }
}

function apply(tx: WriteTx, step: Step, applied: MergeResult['applied']): void {
  if (step.doc === null) {
    if (tx.delete(step.db, step.coll, step.id)) applied.deleted++;
  } else if (step.oursExists) {
    tx.replace(step.db, step.coll, step.doc);
    applied.updated++;
  } else {
    tx.insert(step.db, step.coll, step.doc);
    applied.inserted++;
  }
}

function count(step: Step, applied: MergeResult['applied']): void {
  if (step.doc === null) applied.deleted++;
  else if (step.oursExists) applied.updated++;
  else applied.inserted++;
}
