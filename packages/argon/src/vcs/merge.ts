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
 * Conflicts are settled by the strategy: `fail` leaves them unresolved, `ours`/`theirs` take a
 * side, `manual` asks a resolver (vcs/manual.ts stores the answers) and leaves the others pending.
 * One unresolved conflict and nothing is written.
 *
 * The plan is computed and applied inside ONE `store.transact(target, ...)` batch, so it is
 * atomic and sees the target exactly as it is written to. A dry run (and a failed merge) runs the
 * same batch and then aborts it, which also detects unique-index violations without writing. The
 * target's merge gates (vcs/gates.ts) are checked on the merged state inside that batch, before it
 * commits; webhook gates are asked between a trial batch and the real one (see applyThreeWay).
 *
 * Catalog changes (collections created, dropped, renamed; indexes; validation options) merge the
 * same way, first, in the same batch: see catalog-merge.ts.
 */
import { createHash } from 'node:crypto';
import { serialize, type Document as BsonDocument } from 'bson';
import { ArgonError } from '../errors.js';
import type { Store } from '../storage/store.js';
import type { Document, LogEntry, ReadPoint } from '../storage/types.js';
import type { WriteTx } from '../storage/writer.js';
import { mergeCatalog, type CatalogConflict, type Names } from './catalog-merge.js';
import { DOC_OPS, type ObjectChange } from './diff.js';
import { batchCheck, branchGates, callWebhooks, gateFailure, webhookPayload, type BatchCheck, type GateReport, type WrittenDoc } from './gates.js';
import { MISSING, decodeLossless, idKey, isPlainObject, nsOf, plainValue, sameRaw, sameSlot, valueBytes, type Slot } from './values.js';

export type MergeStrategy = 'fail' | 'ours' | 'theirs' | 'manual';

/** How a conflict was settled: a side, the base, a value given by hand, or deleting the field or document. */
export type Resolution = 'ours' | 'theirs' | 'base' | 'value' | 'delete';

/** A resolver's answer: the value to use (MISSING: absent) and how it was chosen. */
export interface Settlement {
  take: Resolution;
  value: Slot;
}

/**
 * Settles a conflict from its lossless values (MISSING: absent), or leaves it unresolved
 * (undefined). For a unique conflict, `theirs` is the document the merge tried to write.
 */
export type Resolver = (conflict: MergeConflict, base: Slot, ours: Slot, theirs: Slot) => Settlement | undefined;

export interface MergeOptions {
  /** `fail` (default): any conflict aborts the merge; `ours`/`theirs`: conflicts resolve to that side; `manual`: see `resolve`. */
  strategy?: MergeStrategy;
  /** Compute everything (including unique-index checks and gates) and write nothing. */
  dryRun?: boolean;
  /** `manual` only: settles conflicts; the ones it leaves unresolved stop the merge. */
  resolve?: Resolver;
  /** Merge the source as it was at this LSN instead of its head (a manual merge completes what it started from). */
  sourceLsn?: number;
  /** Runs in the batch just before it commits (never on dry runs or failures): bookkeeping that must commit with the merge. */
  onCommit?: (tx: WriteTx) => void;
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
  /** How the conflict was settled; absent when it was not. */
  resolved?: Resolution;
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
  resolved?: Resolution;
}

export type MergeConflict = ValueConflict | UniqueConflict | CatalogConflict;

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
  /** Catalog changes written to the target (collections created, dropped, renamed; indexes; validation). */
  objects: ObjectChange[];
  /** The target's merge gates, checked on the merged state; absent when it has none or nothing would change. */
  gates?: GateReport[];
}

interface Step {
  db: string;
  /** The collection on the target. */
  coll: string;
  /** Its name at the base (another if the source renamed it). */
  baseColl: string;
  id: unknown;
  /** Lossless document to write, or null to delete. */
  doc: Document | null;
  /** Whether the target currently has the document. */
  oursExists: boolean;
}

/** Thrown inside the batch to roll it back (dry runs, failed merges, failed gates). */
const ROLLBACK = Symbol('rollback');

/** Rounds of webhook approval before a merge whose changes keep moving under it gives up. */
const APPROVAL_ROUNDS = 3;

/**
 * Three-way merge of two values. Returns the merged value (MISSING: absent); a path both sides
 * changed differently goes to `onConflict`, whose answer is the merged value there.
 */
export function merge3(base: Slot, ours: Slot, theirs: Slot, path: string, onConflict: (path: string, base: Slot, ours: Slot, theirs: Slot) => Slot): Slot {
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
        onConflict,
      );
      if (merged !== MISSING) out[key] = merged;
    }
    return out;
  }
  return onConflict(path, base, ours, theirs);
}

function slot(raw: Buffer | null): Slot {
  return raw ? decodeLossless(raw) : MISSING;
}

/** What a three-way application needs; computed inside the batch, so it sees the target as written. */
interface ThreeWayPlan {
  base: ReadPoint;
  /** The incoming side. */
  theirs: ReadPoint | string;
  /** Change-log entries naming the documents the incoming side changed since the base. */
  sourceChanges: LogEntry[];
  /** The target's own change-log entries since the base (for catalog conflicts). */
  targetChanges: LogEntry[];
  fastForward: boolean;
  /** What the operation is, for webhook gates (`event` and its own fields). */
  describe: BsonDocument;
  /** Bookkeeping written with the changes (e.g. the merge record, which keeps `report`). */
  onWrite?: (tx: WriteTx, report: BsonDocument) => void;
}

/** Merges `source` into `target`. See the module comment for the rules. */
export function mergeBranches(store: Store, source: string, target: string, options: MergeOptions = {}): Promise<MergeResult> {
  return applyThreeWay(store, target, options, () => {
    const sourceLsn = options.sourceLsn ?? store.headLsn;
    const theirs = options.sourceLsn === undefined ? source : { branch: source, lsn: sourceLsn };
    const divergence = store.divergence(theirs, target);
    // After an earlier merge of the same source, its state then is the base, and only the source's
    // later changes are candidates: re-merging must not see already merged work as conflicts.
    const previous = store.lastMerge(source, target);
    const sourceChanges = previous ? divergence.a.filter((e) => e.lsn > previous.lsn!) : divergence.a;
    return {
      base: previous ?? divergence.base,
      theirs,
      sourceChanges,
      targetChanges: divergence.b,
      fastForward: divergence.b.length === 0 && sourceChanges.length > 0,
      describe: { event: 'merge', source, sourceLsn },
      onWrite: (tx, report) => tx.recordMerge(store.branchId(source), sourceLsn, Buffer.from(serialize(report))),
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
      targetChanges: [...store.log(branch, { fromLsn: toLsn + 1 })],
      fastForward: false,
      describe: { event: 'revert', fromLsn: range.fromLsn, toLsn },
    };
  });
}

/** The strategy's resolver. A unique violation has no side to take, so only `manual` can settle one. */
function strategyResolver(options: MergeOptions): Resolver {
  switch (options.strategy ?? 'fail') {
    case 'ours':
      return (c, _b, o) => (c.kind === 'unique' ? undefined : { take: 'ours', value: o });
    case 'theirs':
      return (c, _b, _o, t) => (c.kind === 'unique' ? undefined : { take: 'theirs', value: t });
    case 'manual':
      return options.resolve ?? (() => undefined);
    default:
      return () => undefined;
  }
}

/** One batch's outcome. */
interface Attempt {
  result: MergeResult;
  /** Webhook gates have yet to approve these changes (none did, or they approved others). */
  awaitingApproval: boolean;
  /** Digest of the changes, which an approval refers to. */
  digest: string;
  /** What webhook gates are sent. */
  payload: BsonDocument;
}

/**
 * Runs the merge batch, then, when the target has webhook gates, asks them about the changes a
 * trial batch found and commits in a second batch only if it writes exactly the approved changes
 * (re-asking when the branches moved in between). In-batch gates run in every batch, on the state
 * that commits.
 */
async function applyThreeWay(store: Store, target: string, options: MergeOptions, makePlan: () => ThreeWayPlan): Promise<MergeResult> {
  const gates = branchGates(store, target);
  const webhooks = gates.filter((g) => g.kind === 'webhook');
  const gating = gates.length > 0 ? { check: await batchCheck(gates), webhooks: webhooks.length > 0 } : null;
  const dryRun = options.dryRun ?? false;
  const finish = (result: MergeResult): MergeResult => {
    if (!dryRun && result.gates?.some((g) => !g.passed)) throw gateFailure(target, result.gates);
    return result;
  };
  let attempt = await runBatch(store, target, options, makePlan, gating);
  for (let round = 1; attempt.awaitingApproval; round++) {
    if (round > APPROVAL_ROUNDS) throw new ArgonError('WriteConflict', `the merge into '${target}' changed while its webhook gates ran, ${APPROVAL_ROUNDS} times: try again`);
    const approvals = await callWebhooks(webhooks, attempt.payload);
    const reports = [...attempt.result.gates!, ...approvals];
    if (dryRun || reports.some((g) => !g.passed)) return finish({ ...attempt.result, gates: reports });
    attempt = await runBatch(store, target, options, makePlan, gating, { digest: attempt.digest, reports: approvals });
  }
  return finish(attempt.result);
}

async function runBatch(
  store: Store,
  target: string,
  options: MergeOptions,
  makePlan: () => ThreeWayPlan,
  /** The target's gates, if it has any: the in-batch check, and whether webhooks must approve. */
  gating: { check: BatchCheck; webhooks: boolean } | null,
  approval?: { digest: string; reports: GateReport[] },
): Promise<Attempt> {
  const strategy = options.strategy ?? 'fail';
  const dryRun = options.dryRun ?? false;
  const resolver = strategyResolver(options);
  let attempt: Attempt | undefined;

  const run = (tx: WriteTx): void => {
    const { base, theirs, sourceChanges, targetChanges, fastForward, describe, onWrite } = makePlan();
    const conflicts: MergeConflict[] = [];
    const settle = (conflict: MergeConflict, b: Slot, o: Slot, t: Slot): Slot | undefined => {
      const settlement = resolver(conflict, b, o, t);
      if (settlement) conflict.resolved = settlement.take;
      conflicts.push(conflict);
      return settlement?.value;
    };
    // The catalog first: the documents then go to the collections as the merge leaves them.
    const catalog = mergeCatalog({ store, tx, base, theirs, sourceChanges, targetChanges, settle });
    const candidates = new Map<string, { db: string; names: Names; id: unknown }>();
    for (const entry of sourceChanges) {
      for (const c of entry.changes) {
        if (!DOC_OPS.has(c.op)) continue;
        const names = catalog.names(c.db, c.coll, entry.lsn);
        candidates.set(`${nsOf(c.db, names.theirs)}\0${idKey(c.id)}`, { db: c.db, names, id: c.id });
      }
    }

    const steps: Step[] = [];
    for (const key of [...candidates.keys()].sort()) {
      const { db, names, id } = candidates.get(key)!;
      const coll = names.ours;
      const baseColl = names.base;
      const baseRaw = store.getRaw(base, db, baseColl, id);
      const theirsRaw = store.getRaw(theirs, db, names.theirs, id);
      if (sameRaw(baseRaw, theirsRaw)) continue; // changed and changed back on the source
      const oursRaw = tx.getRaw(db, coll, id);
      if (sameRaw(oursRaw, theirsRaw)) continue; // the target already has it
      const theirsDoc = theirsRaw && decodeLossless(theirsRaw);
      if (sameRaw(baseRaw, oursRaw)) {
        steps.push({ db, coll, baseColl, id, doc: theirsDoc, oursExists: oursRaw !== null });
        continue;
      }
      if (oursRaw === null || theirsRaw === null) {
        const [b, o, t] = [slot(baseRaw), slot(oursRaw), slot(theirsRaw)];
        const value = settle({ kind: 'delete', db, coll, id, path: '', base: plainValue(b), ours: plainValue(o), theirs: plainValue(t) }, b, o, t);
        if (value !== undefined && !sameSlot(value, o)) steps.push({ db, coll, baseColl, id, doc: value === MISSING ? null : (value as Document), oursExists: oursRaw !== null });
        continue;
      }
      const oursDoc = decodeLossless(oursRaw);
      const merged = merge3(slot(baseRaw), oursDoc, theirsDoc!, '', (path, b, o, t) => {
        const value = settle({ kind: 'field', db, coll, id, path, base: plainValue(b), ours: plainValue(o), theirs: plainValue(t) }, b, o, t);
        return value === undefined ? o : value;
      });
      if (!sameSlot(merged, oursDoc)) steps.push({ db, coll, baseColl, id, doc: merged as Document, oursExists: true });
    }

    // Deletes first, then updates, then inserts: that order frees unique keys before they are reused.
    const rank = (s: Step) => (s.doc === null ? 0 : s.oursExists ? 1 : 2);
    let pending = steps.sort((x, y) => rank(x) - rank(y));
    const applied = { inserted: 0, updated: 0, deleted: 0 };
    const written: WrittenDoc[] = [];
    if (conflicts.some((c) => c.resolved === undefined)) {
      for (const step of pending) count(step, applied);
    } else {
      // Documents a step already tried, so that settling a unique conflict cannot go round in circles.
      const tried = new Map<Step, Set<string>>();
      // A step refused for a unique key may succeed once others moved out of its way: retry until no progress.
      while (pending.length > 0) {
        const refused: { step: Step; error: ArgonError }[] = [];
        for (const step of pending) {
          try {
            apply(tx, step, applied, written);
          } catch (error) {
            if (error instanceof ArgonError && error.code === 11000) refused.push({ step, error });
            else throw error;
          }
        }
        if (refused.length < pending.length) {
          pending = refused.map((r) => r.step);
          continue;
        }
        pending = [];
        for (const { step, error } of refused) {
          const conflict: UniqueConflict = { kind: 'unique', db: step.db, coll: step.coll, id: step.id, path: '', message: error.message };
          if (error.info.keyPattern !== undefined) conflict.keyPattern = error.info.keyPattern;
          if (error.info.keyValue !== undefined) conflict.keyValue = error.info.keyValue;
          const seen = tried.get(step) ?? new Set([valueBytes(step.doc).toString('hex')]);
          tried.set(step, seen);
          const ours = slot(tx.getRaw(step.db, step.coll, step.id));
          const value = settle(conflict, slot(store.getRaw(base, step.db, step.baseColl, step.id)), ours, step.doc!);
          if (value === undefined || sameSlot(value, ours)) continue;
          const doc = value === MISSING ? null : (value as Document);
          const bytes = valueBytes(doc).toString('hex');
          if (seen.has(bytes)) {
            delete conflict.resolved;
            continue;
          }
          seen.add(bytes);
          step.doc = doc;
          pending.push(step);
        }
      }
    }

    const unresolved = conflicts.some((c) => c.resolved === undefined);
    const result: MergeResult = {
      status: unresolved ? 'conflicts' : written.length > 0 || conflicts.length > 0 || catalog.applied.length > 0 ? 'merged' : 'up-to-date',
      fastForward,
      applied,
      conflicts,
      dryRun,
      objects: catalog.applied,
    };
    attempt = { result, awaitingApproval: false, digest: '', payload: {} };
    if (!unresolved && written.length > 0 && gating) {
      attempt.digest = digestOf(written);
      attempt.payload = webhookPayload({ ...describe, target, base: { branch: base.branch, lsn: base.lsn }, strategy, dryRun, applied }, written);
      result.gates = gating.check(tx, written);
      if (approval?.digest === attempt.digest) result.gates.push(...approval.reports);
      else attempt.awaitingApproval = gating.webhooks;
    }
    if (unresolved || dryRun || attempt.awaitingApproval || result.gates?.some((g) => !g.passed)) throw ROLLBACK;
    if (written.length > 0 || catalog.applied.length > 0) {
      const report: BsonDocument = { time: new Date(tx.time), strategy, applied, conflicts: conflicts.length };
      if (catalog.applied.length > 0) report.objects = catalog.applied.map(({ op, db, coll, name }) => ({ op, db, coll, ...(name === undefined ? {} : { name }) }));
      if (result.gates) report.gates = result.gates;
      onWrite?.(tx, report);
    }
    options.onCommit?.(tx);
  };

  try {
    const committed = await store.transact(target, run, { asMerge: true });
    const { applied, objects } = attempt!.result;
    if (applied.inserted + applied.updated + applied.deleted + objects.length > 0) attempt!.result.lsn = committed.lsn;
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
  return attempt!;
}

/** Identifies a set of changes: namespace, `_id` and resulting bytes of every written document. */
function digestOf(written: WrittenDoc[]): string {
  const hash = createHash('sha256');
  for (const w of written) {
    hash.update(`${nsOf(w.db, w.coll)}\0${idKey(w.id)}\0`);
    hash.update(valueBytes(w.doc));
  }
  return hash.digest('hex');
}

function apply(tx: WriteTx, step: Step, applied: MergeResult['applied'], written: WrittenDoc[]): void {
  if (step.doc === null) {
    if (!tx.delete(step.db, step.coll, step.id)) return;
    applied.deleted++;
    written.push({ db: step.db, coll: step.coll, id: step.id, op: 'delete', doc: null });
  } else if (step.oursExists) {
    tx.replace(step.db, step.coll, step.doc);
    applied.updated++;
    written.push({ db: step.db, coll: step.coll, id: step.id, op: 'update', doc: step.doc });
  } else {
    tx.insert(step.db, step.coll, step.doc);
    applied.inserted++;
    written.push({ db: step.db, coll: step.coll, id: step.id, op: 'insert', doc: step.doc });
  }
}

function count(step: Step, applied: MergeResult['applied']): void {
  if (step.doc === null) applied.deleted++;
  else if (step.oursExists) applied.updated++;
  else applied.inserted++;
}
