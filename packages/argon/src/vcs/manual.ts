/**
 * Manual merges: conflicts wait for a person instead of failing the merge or taking a side.
 *
 * A `manual` merge with conflicts writes nothing; its conflicts are stored as the target's pending
 * merge (at most one per target), listed, and resolved one by one. Resolving the last one re-runs
 * the three-way merge with the stored resolutions, in one batch (gates included), so changes made
 * to the target meanwhile are merged as usual. A resolution holds only while its conflict still
 * has the values it was chosen for: a conflict whose values changed meanwhile, or a new one, is
 * added as a new pending conflict and the merge waits again. The source is merged as it was when
 * the merge started (like merging a commit); its later changes are for the next merge.
 */
import { deserialize, ObjectId, serialize, type Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { Store } from '../storage/store.js';
import { mergeBranches, type MergeConflict, type MergeResult, type Resolution } from './merge.js';
import { MISSING, idKey, isPlainObject, sameSlot, type Slot } from './values.js';

/** What a client may ask for: a resolution, or `keep` (the side that kept the document, for delete-vs-modify). */
export type Take = Resolution | 'keep';

export interface PendingConflict {
  /** What a resolution names: never reused within the pending merge. */
  id: number;
  kind: MergeConflict['kind'];
  db: string;
  coll: string;
  documentId: unknown;
  /** Dotted path; '' for a whole document (delete-vs-modify, unique). */
  path: string;
  /** Exact values, absent where the side has no such field or document. For `unique`, `theirs` is the document the merge tried to write. */
  base?: unknown;
  ours?: unknown;
  theirs?: unknown;
  /** `unique`: the index violation. */
  message?: string;
  /** null until resolved; `value` only when a value was given. */
  resolution: { take: Resolution; value?: unknown } | null;
}

export interface PendingMerge {
  id: string;
  source: string;
  sourceId: number;
  /** The source state being merged. */
  sourceLsn: number;
  target: string;
  created: Date;
  nextConflictId: number;
  conflicts: PendingConflict[];
}

const TAKES: Record<MergeConflict['kind'], Take[]> = {
  field: ['ours', 'theirs', 'base', 'delete', 'value'],
  delete: ['ours', 'theirs', 'base', 'keep', 'delete', 'value'],
  // `theirs` is what violates the index; `base` would need the same check again.
  unique: ['ours', 'delete', 'value'],
  // A definition (index, validation options, the collection): one side or the other.
  catalog: ['ours', 'theirs', 'base'],
};

/** The pending merge into `target`, or null. */
export function pendingMerge(store: Store, target: string): PendingMerge | null {
  const raw = store.pendingMerge(target);
  if (!raw) return null;
  // Values stay exactly typed; the bookkeeping numbers come back as plain numbers.
  const doc = deserialize(raw, { promoteValues: false, bsonRegExp: true }) as PendingMerge;
  return {
    ...doc,
    target,
    sourceId: Number(doc.sourceId),
    sourceLsn: Number(doc.sourceLsn),
    nextConflictId: Number(doc.nextConflictId),
    conflicts: doc.conflicts.map((c) => ({ ...c, id: Number(c.id) })),
  };
}

function save(store: Store, pending: PendingMerge): Promise<void> {
  return store.setPendingMerge(pending.target, Buffer.from(serialize(pending, { ignoreUndefined: true })));
}

function refuseIfPending(store: Store, target: string): void {
  const pending = pendingMerge(store, target);
  if (!pending) return;
  const open = pending.conflicts.filter((c) => !c.resolution).length;
  throw new ArgonError(
    'MergeInProgress',
    `a manual merge of '${pending.source}' into '${target}' is pending (${open} unresolved conflicts): resolve them (argonConflictsResolve) or abort it (argonMergeAbort) first`,
  );
}

function sideOf(c: PendingConflict, side: 'base' | 'ours' | 'theirs'): Slot {
  return Object.hasOwn(c, side) ? c[side] : MISSING;
}

/**
 * Runs the merge with the resolutions of `conflicts`. Returns its result and the conflicts that
 * still matter: the resolutions it used, then its unresolved conflicts (new ids from `nextId`).
 */
async function runMerge(
  store: Store,
  merge: { source: string; sourceLsn: number; target: string; conflicts: PendingConflict[]; nextConflictId: number },
  options: { dryRun: boolean; completes?: string },
): Promise<{ result: MergeResult; conflicts: PendingConflict[]; nextConflictId: number }> {
  const used = new Map<MergeConflict, PendingConflict>();
  const fresh = new Map<MergeConflict, PendingConflict>();
  const result = await mergeBranches(store, merge.source, merge.target, {
    strategy: 'manual',
    dryRun: options.dryRun,
    sourceLsn: merge.sourceLsn,
    resolve: (c, b, o, t) => {
      const entry = merge.conflicts.find(
        (e) =>
          e.resolution &&
          e.kind === c.kind &&
          e.db === c.db &&
          e.coll === c.coll &&
          e.path === c.path &&
          idKey(e.documentId) === idKey(c.id) &&
          sameSlot(sideOf(e, 'base'), b) &&
          sameSlot(sideOf(e, 'ours'), o) &&
          sameSlot(sideOf(e, 'theirs'), t),
      );
      if (entry?.resolution) {
        used.set(c, entry);
        const { take, value } = entry.resolution;
        return { take, value: take === 'value' ? value : take === 'delete' ? MISSING : sideOf(entry, take) };
      }
      const pending: PendingConflict = { id: 0, kind: c.kind, db: c.db, coll: c.coll, documentId: c.id, path: c.path, resolution: null };
      if (b !== MISSING) pending.base = b;
      if (o !== MISSING) pending.ours = o;
      if (t !== MISSING) pending.theirs = t;
      if (c.kind === 'unique') pending.message = c.message;
      fresh.set(c, pending);
      return undefined;
    },
    onCommit: options.completes === undefined ? undefined : (tx) => {
      if (pendingMerge(store, merge.target)?.id !== options.completes) throw new ArgonError('NoSuchKey', `the pending merge into '${merge.target}' was aborted or replaced while it completed`);
      tx.clearPendingMerge();
    },
  });
  let nextConflictId = merge.nextConflictId;
  const kept = new Set(result.conflicts.filter((c) => c.resolved !== undefined).map((c) => used.get(c)!));
  // A conflict a resolution was used for can still end unresolved (a unique one whose resolved document was refused before).
  const added = result.conflicts.filter((c) => c.resolved === undefined).map((c) => ({ ...(fresh.get(c) ?? used.get(c)!), resolution: null, id: nextConflictId++ }));
  return { result, conflicts: [...kept, ...added], nextConflictId };
}

/**
 * A `manual` merge: merges like `fail` when there is no conflict; otherwise writes nothing and
 * stores the conflicts as the target's pending merge (returned as `pending`), except on a dry run.
 */
export async function startManualMerge(store: Store, source: string, target: string, dryRun: boolean): Promise<MergeResult & { pending?: PendingMerge }> {
  if (!dryRun) refuseIfPending(store, target);
  const sourceLsn = store.headLsn;
  const { result, conflicts, nextConflictId } = await runMerge(store, { source, sourceLsn, target, conflicts: [], nextConflictId: 1 }, { dryRun });
  if (result.status !== 'conflicts' || dryRun) return result;
  refuseIfPending(store, target);
  const pending: PendingMerge = { id: new ObjectId().toHexString(), source, sourceId: store.branchId(source), sourceLsn, target, created: new Date(), nextConflictId, conflicts };
  await save(store, pending);
  return { ...result, pending };
}

function resolutionFor(c: PendingConflict, take: Take, value: unknown): NonNullable<PendingConflict['resolution']> {
  const allowed = TAKES[c.kind];
  if (!allowed.includes(take)) throw new ArgonError('BadValue', `conflict ${c.id} (${c.kind}) can take ${allowed.join(', ')}, not '${take}'`);
  if (take === 'keep') return { take: Object.hasOwn(c, 'ours') ? 'ours' : 'theirs' };
  if (take !== 'value') return { take };
  if (value === undefined) throw new ArgonError('BadValue', "taking 'value' needs a value");
  if (c.path !== '') return { take, value };
  if (!isPlainObject(value)) throw new ArgonError('BadValue', `conflict ${c.id} is about a whole document: the value must be a document`);
  if (value._id !== undefined && idKey(value._id) !== idKey(c.documentId)) throw new ArgonError('BadValue', `the document must keep _id ${JSON.stringify(c.documentId)}`);
  return { take, value: { _id: c.documentId, ...value } };
}

/**
 * Resolves one conflict of the pending merge into `target` (again, if it was). When none is left
 * unresolved, the merge completes: `result` is that attempt's result and `merge` is null, or the
 * pending merge with the conflicts that appeared meanwhile.
 */
export async function resolveConflict(store: Store, target: string, conflictId: number, take: Take, value?: unknown): Promise<{ merge: PendingMerge | null; result?: MergeResult }> {
  const pending = pendingMerge(store, target);
  if (!pending) throw new ArgonError('NoSuchKey', `no merge into '${target}' is pending`);
  const conflict = pending.conflicts.find((c) => c.id === conflictId);
  if (!conflict) throw new ArgonError('NoSuchKey', `the pending merge into '${target}' has no conflict ${conflictId}`);
  conflict.resolution = resolutionFor(conflict, take, value);
  await save(store, pending);
  if (pending.conflicts.some((c) => !c.resolution)) return { merge: pending };

  const source = store.listBranches().find((b) => b.id === pending.sourceId)?.name;
  if (source === undefined) throw new ArgonError('BranchNotFound', `the source of the pending merge ('${pending.source}') no longer exists: abort the merge`);
  const { result, conflicts, nextConflictId } = await runMerge(store, { ...pending, source }, { dryRun: false, completes: pending.id });
  if (result.status !== 'conflicts') return { merge: null, result };
  const current = pendingMerge(store, target);
  if (current?.id !== pending.id) return { merge: current, result };
  const next: PendingMerge = { ...current, nextConflictId, conflicts };
  await save(store, next);
  return { merge: next, result };
}

/** Drops the pending merge into `target`; the target was never changed by it. */
export async function abortMerge(store: Store, target: string): Promise<PendingMerge> {
  const pending = pendingMerge(store, target);
  if (!pending) throw new ArgonError('NoSuchKey', `no merge into '${target}' is pending`);
  await store.setPendingMerge(target, null);
  return pending;
}

/** A pending merge as clients see it: counts first, conflicts with their values. */
export function pendingDoc(pending: PendingMerge): Document {
  const { nextConflictId: _next, sourceId: _id, ...shown } = pending;
  return { ...shown, unresolved: pending.conflicts.filter((c) => !c.resolution).length };
}
