/**
 * The catalog side of a three-way merge: collections created, dropped and renamed, indexes created
 * and dropped, validation options changed. It runs inside the merge batch before the documents,
 * so the document merge sees (and writes to) the target's collections as the merge leaves them.
 *
 * Which collections to look at comes from the source's change log (catalog operations since the
 * base); what to do comes from comparing definitions at the base, the target and the source, as
 * for documents: a definition only the source changed is taken; one both changed is merged per
 * index (by name) and for the validation options; a part both changed differently is a conflict
 * (`kind: 'catalog'`, path `indexes.NAME`, `validation`, or '' for the collection itself).
 *
 * Renames follow the collection, not the name: a document the source changed before renaming
 * `a` to `c` is merged into `c`, and compared with `a` at the base.
 */
import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { CatalogEntry } from '../storage/catalog.js';
import type { Store } from '../storage/store.js';
import type { IndexSpec, LogEntry, ReadPoint, ValidationOptions } from '../storage/types.js';
import type { WriteTx } from '../storage/writer.js';
import { DOC_OPS, type ObjectChange } from './diff.js';
import { MISSING, sameSlot, type Slot } from './values.js';

/** A collection's definition changed differently on both sides (or dropped on one, changed on the other). */
export interface CatalogConflict {
  kind: 'catalog';
  db: string;
  coll: string;
  /** Always null: catalog conflicts name no document. */
  id: null;
  /** `indexes.NAME`, `validation`, or '' for the collection (or its name, for renames). */
  path: string;
  base?: unknown;
  ours?: unknown;
  theirs?: unknown;
  /** Why no side could be applied (an index the target's documents violate). */
  message?: string;
  resolved?: 'ours' | 'theirs' | 'base' | 'value' | 'delete';
}

/** Settles a conflict (see merge.ts): the value to use, or undefined to leave it unresolved. */
export type Settle = (conflict: CatalogConflict, base: Slot, ours: Slot, theirs: Slot) => Slot | undefined;

export interface CatalogMergeInput {
  store: Store;
  tx: WriteTx;
  base: ReadPoint;
  theirs: ReadPoint | string;
  /** The incoming side's log entries since the base. */
  sourceChanges: readonly LogEntry[];
  /** The target's own log entries since the base (documents it changed in a collection the source drops). */
  targetChanges: readonly LogEntry[];
  settle: Settle;
}

/** Where a document the source's log names lives on each side once the catalog is merged. */
export interface Names {
  /** The collection at the source's head. */
  theirs: string;
  /** Its name at the base. */
  base: string;
  /** Its name on the target. */
  ours: string;
}

export interface CatalogMergeResult {
  /** Catalog changes written to the target. */
  applied: ObjectChange[];
  /** Maps a (collection, LSN) of the source's log to the names of that collection on each side. */
  names: (db: string, coll: string, lsn: number) => Names;
}

const CATALOG_OPS = new Set(['createCollection', 'dropCollection', 'renameCollection', 'createIndex', 'dropIndex', 'collMod']);

/** Reports a conflict at `path` of one collection; returns how it was settled (value undefined: not). */
type Conflict = (path: string, base: Slot, ours: Slot, theirs: Slot, message?: string) => { value: Slot | undefined; conflict: CatalogConflict };

interface Rename {
  db: string;
  from: string;
  to: string;
  lsn: number;
}

/** The definition of a collection, without internal ids: what two sides can agree on. */
interface Definition {
  indexes: Record<string, Document>;
  validation: ValidationOptions;
}

function indexSpecDoc(ix: IndexSpec): Document {
  const spec: Document = { key: ix.key };
  if (ix.unique) spec.unique = true;
  if (ix.sparse) spec.sparse = true;
  if (ix.expireAfterSeconds !== undefined) spec.expireAfterSeconds = ix.expireAfterSeconds;
  if (ix.partialFilterExpression !== undefined) spec.partialFilterExpression = ix.partialFilterExpression;
  return spec;
}

function validationOf(entry: CatalogEntry): ValidationOptions {
  const out: ValidationOptions = {};
  if (entry.validator !== undefined) out.validator = entry.validator;
  if (entry.validationLevel !== undefined) out.validationLevel = entry.validationLevel;
  if (entry.validationAction !== undefined) out.validationAction = entry.validationAction;
  return out;
}

function definition(entry: CatalogEntry | null): Definition | typeof MISSING {
  if (!entry) return MISSING;
  const indexes: Record<string, Document> = {};
  for (const ix of [...entry.indexes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) indexes[ix.name] = indexSpecDoc(ix);
  return { indexes, validation: validationOf(entry) };
}

function renamesIn(entries: readonly LogEntry[]): Rename[] {
  const out: Rename[] = [];
  for (const e of entries) for (const c of e.changes) if (c.op === 'renameCollection') out.push({ db: c.db, from: c.coll, to: String(c.id), lsn: e.lsn });
  return out.sort((a, b) => a.lsn - b.lsn);
}

/** The name a collection called `coll` at `lsn` has after every later rename. */
function forward(renames: Rename[], db: string, coll: string, lsn: number): string {
  let name = coll;
  for (const r of renames) if (r.lsn > lsn && r.db === db && r.from === name) name = r.to;
  return name;
}

/** The name a collection called `coll` at the end had before every rename. */
function backward(renames: Rename[], db: string, coll: string): string {
  let name = coll;
  for (let i = renames.length - 1; i >= 0; i--) if (renames[i]!.db === db && renames[i]!.to === name) name = renames[i]!.from;
  return name;
}

export function mergeCatalog(input: CatalogMergeInput): CatalogMergeResult {
  const { store, tx, base, theirs, settle } = input;
  const applied: ObjectChange[] = [];
  const theirRenames = renamesIn(input.sourceChanges);
  const ourRenames = renamesIn(input.targetChanges);
  const record = (op: ObjectChange['op'], db: string, coll: string, name?: string) => applied.push({ side: 'from', op, db, coll, lsn: tx.lsn, ...(name === undefined ? {} : { name }) });

  /** The target's name for a collection the base calls `baseName` (after the renames merged here). */
  const oursName = new Map<string, string>();
  const ourNameOf = (db: string, baseName: string, theirName: string): string =>
    oursName.get(`${db}\0${baseName}`) ?? (store.catalogEntry(base, db, baseName) ? forward(ourRenames, db, baseName, -1) : theirName);

  // Renames first: they decide under which name the rest of the merge finds each collection.
  const origins = new Map<string, Rename>();
  for (const r of theirRenames) {
    const origin = backward(theirRenames, r.db, r.from);
    const final = forward(theirRenames, r.db, r.to, r.lsn);
    if (origin !== final && store.catalogEntry(base, r.db, origin)) origins.set(`${r.db}\0${origin}`, { db: r.db, from: origin, to: final, lsn: r.lsn });
  }
  for (const r of origins.values()) {
    const ours = forward(ourRenames, r.db, r.from, -1);
    const oursExists = tx.collection(r.db, ours) !== null;
    let target: Slot = oursExists ? ours : MISSING;
    if (ours === r.from && oursExists) target = r.to;
    else if (ours !== r.to) target = settle({ kind: 'catalog', db: r.db, coll: r.from, id: null, path: '', base: r.from, ours: oursExists ? ours : undefined, theirs: r.to }, r.from, oursExists ? ours : MISSING, r.to) ?? (oursExists ? ours : MISSING);
    if (typeof target === 'string' && target !== ours && oursExists && !tx.collection(r.db, target)) {
      tx.renameCollection(r.db, ours, target);
      record('renameCollection', r.db, ours, target);
    }
    oursName.set(`${r.db}\0${r.from}`, typeof target === 'string' ? target : ours);
  }

  // Then every other collection whose definition the source changed.
  const touched = new Map<string, { db: string; coll: string }>();
  for (const e of input.sourceChanges) {
    for (const c of e.changes) {
      if (!CATALOG_OPS.has(c.op)) continue;
      const coll = c.op === 'renameCollection' ? forward(theirRenames, c.db, String(c.id), e.lsn) : forward(theirRenames, c.db, c.coll, e.lsn);
      touched.set(`${c.db}\0${coll}`, { db: c.db, coll });
    }
  }
  for (const { db, coll } of touched.values()) {
    const baseName = backward(theirRenames, db, coll);
    const ours = ourNameOf(db, baseName, coll);
    const b = definition(store.catalogEntry(base, db, baseName));
    const o = definition(tx.collection(db, ours));
    const t = definition(store.catalogEntry(theirs, db, coll));
    if (sameSlot(t, b) || sameSlot(o, t)) continue;
    const conflict: Conflict = (path, cb, co, ct, message) => {
      const c: CatalogConflict = { kind: 'catalog', db, coll: ours, id: null, path, base: cb === MISSING ? undefined : cb, ours: co === MISSING ? undefined : co, theirs: ct === MISSING ? undefined : ct, ...(message ? { message } : {}) };
      return { value: settle(c, cb, co, ct), conflict: c };
    };
    const changedDocs = input.targetChanges.some((e) => e.changes.some((c) => DOC_OPS.has(c.op) && c.db === db && c.coll === ours));
    if (t === MISSING) {
      // Dropped on the source: drop on the target too, unless the target changed it meanwhile.
      const keep = (!sameSlot(o, b) || changedDocs) && conflict('', b, o, MISSING, changedDocs ? 'the target changed documents of a collection the source dropped' : undefined).value !== MISSING;
      if (!keep && o !== MISSING && tx.dropCollection(db, ours)) record('dropCollection', db, ours);
      continue;
    }
    if (o === MISSING && b !== MISSING) {
      // Dropped on the target, changed on the source: the target's documents are gone, so only keeping the drop settles it.
      const { value, conflict: c } = conflict('', b, MISSING, t, 'the target dropped a collection whose definition the source changed');
      // Its documents are gone from the target: a merge cannot bring them back, so only 'ours' settles it.
      if (value !== MISSING) delete c.resolved;
      continue;
    }
    if (o === MISSING) {
      tx.createCollection(db, ours);
      record('createCollection', db, ours);
    }
    mergeDefinition(tx, db, ours, b === MISSING ? null : b, o === MISSING ? { indexes: {}, validation: {} } : o, t, conflict, record);
  }
  return {
    applied,
    names: (db, coll, lsn) => {
      const theirName = forward(theirRenames, db, coll, lsn);
      const baseName = backward(theirRenames, db, theirName);
      return { theirs: theirName, base: baseName, ours: ourNameOf(db, baseName, theirName) };
    },
  };
}

/** Three-way merge of two existing definitions: per index name, then the validation options. */
function mergeDefinition(
  tx: WriteTx,
  db: string,
  coll: string,
  b: Definition | null,
  o: Definition,
  t: Definition,
  conflict: Conflict,
  record: (op: ObjectChange['op'], db: string, coll: string, name?: string) => void,
): void {
  const names = [...new Set([...Object.keys(o.indexes), ...Object.keys(t.indexes)])];
  for (const name of names) {
    const at = (d: Definition | null): Slot => d?.indexes[name] ?? MISSING;
    const [cb, co, ct] = [at(b), at(o), at(t)];
    if (sameSlot(co, ct) || sameSlot(cb, ct)) continue;
    const value = sameSlot(cb, co) ? ct : conflict(`indexes.${name}`, cb, co, ct).value;
    if (value === undefined || sameSlot(value, co)) continue;
    if (co !== MISSING) {
      tx.dropIndex(db, coll, name);
      record('dropIndex', db, coll, name);
    }
    if (value === MISSING) continue;
    try {
      tx.createIndex(db, coll, { name, ...(value as Document) } as IndexSpec);
      record('createIndex', db, coll, name);
    } catch (error) {
      // The target's documents violate it (a unique index), or another index has its key: no side to take.
      if (!(error instanceof ArgonError)) throw error;
      delete conflict(`indexes.${name}`, cb, co, ct, error.message).conflict.resolved;
    }
  }
  const [vb, vo, vt] = [b?.validation ?? {}, o.validation, t.validation];
  if (sameSlot(vo, vt) || sameSlot(vb, vt)) return;
  const value = sameSlot(vb, vo) ? vt : conflict('validation', vb, vo, vt).value;
  if (value === undefined || value === MISSING || sameSlot(value, vo)) return;
  tx.setValidation(db, coll, value as ValidationOptions);
  record('collMod', db, coll);
}
