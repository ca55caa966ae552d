import { deserialize } from 'bson';
import { ArgonError } from '../errors.js';
import { catalogGroup, encodeCatalogEntry, type CatalogEntry } from './catalog.js';
import { encodeChanges } from './changelog.js';
import type { IdHighWater } from './highwater.js';
import { indexKeys } from './indexkeys.js';
import { encodeCompound, encodeValue, prefixSuccessor } from './keys.js';
import { validateCollectionName } from './names.js';
import type { BranchRecord, Tables } from './tables.js';
import type { Change, CompiledValidator, Document, IndexInfo, IndexSpec, ValidationOptions } from './types.js';
import { validateDocument, validateId } from './validate.js';
import { getVisible, scanVisible, versionKey, type View } from './versioned.js';

export const LIVE = 1;
export const GONE = 0;
const GONE_BYTE = Buffer.from([GONE]);

/** Counters allocated inside a transaction; applied to the store only if it commits. */
export interface Counters {
  nextNsId: number;
  nextIndexId: number;
}

export interface CollectionStats {
  count: number;
  bytes: number;
}

export function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

export function docGroup(nsId: number, encId: Buffer): Buffer {
  return Buffer.concat([u32(nsId), encId]);
}

/** Stored BSON was serialized by us from JS strings, so its UTF-8 needs no second validation. */
export function decodeBson(bson: Buffer): Document {
  return deserialize(bson, { validation: { utf8: false } }) as Document;
}

export function decodeDoc(value: Buffer): Document | null {
  return value[0] === LIVE ? decodeBson(value.subarray(1)) : null;
}

export function decodeStats(value: Buffer | undefined): CollectionStats {
  return value ? { count: value.readDoubleBE(0), bytes: value.readDoubleBE(8) } : { count: 0, bytes: 0 };
}

export function indexDirections(spec: IndexSpec): (1 | -1)[] {
  return Object.values(spec.key).map((d) => (d === -1 ? -1 : 1));
}

/**
 * One atomic write batch on one branch. Every method validates completely before it writes,
 * so a failed operation leaves the batch as it was and the caller may go on (MongoDB's
 * unordered inserts) or throw to abort the whole batch.
 */
export class WriteTx {
  readonly changes: Change[] = [];
  /** Document groups written by this batch and their new stored values (null: deleted). */
  readonly writtenDocs: [group: Buffer, stored: Buffer | null][] = [];
  /** Catalog entries changed in this batch, keyed by catalog group (hex); null = dropped. */
  private readonly catalogOverlay = new Map<string, CatalogEntry | null>();
  private readonly statsDelta = new Map<number, CollectionStats>();
  ownBytes = 0;

  /** Who makes this batch's writes (see author.ts); kept in the change log. */
  author?: string;

  /** Writes of this batch skip collection validators (MongoDB's bypassDocumentValidation). */
  bypassDocumentValidation = false;

  constructor(
    private readonly t: Tables,
    readonly branch: BranchRecord,
    /** Sees committed state plus this batch's own writes. */
    private readonly view: View,
    readonly lsn: number,
    readonly time: number,
    readonly counters: Counters,
    private readonly committedCatalog: (db: string, coll: string) => CatalogEntry | null,
    private readonly highWater: IdHighWater,
    /** The predicate of a partial index, or null for a full one. */
    private readonly partialFilter: (ix: IndexInfo) => ((doc: Document) => boolean) | null,
    /** A collection validator compiled, or null when the store has no validator compiler. */
    private readonly compileValidator: (validator: Document) => CompiledValidator | null = () => null,
  ) {}

  get catalogChanged(): boolean {
    return this.catalogOverlay.size > 0;
  }

  collection(db: string, coll: string): CatalogEntry | null {
    const key = catalogGroup(db, coll).toString('hex');
    if (this.catalogOverlay.has(key)) return this.catalogOverlay.get(key)!;
    return this.committedCatalog(db, coll);
  }

  get(db: string, coll: string, id: unknown): Document | null {
    const entry = this.collection(db, coll);
    if (!entry) return null;
    const found = getVisible(this.t.docs, docGroup(entry.nsId, encodeValue(id)), this.view);
    return found ? decodeDoc(found.value) : null;
  }

  /** Stored BSON of one document as this batch sees it (after its own writes), or null. */
  getRaw(db: string, coll: string, id: unknown): Buffer | null {
    const entry = this.collection(db, coll);
    if (!entry) return null;
    const found = getVisible(this.t.docs, docGroup(entry.nsId, encodeValue(id)), this.view);
    return found && found.value[0] === LIVE ? found.value.subarray(1) : null;
  }

  /** Stored BSON of every document of a collection as this batch sees it. */
  *scanRaw(db: string, coll: string): Generator<Buffer> {
    const entry = this.collection(db, coll);
    if (!entry) return;
    for (const version of scanVisible(this.t.docs, u32(entry.nsId), u32(entry.nsId + 1), this.view)) {
      if (version.value[0] === LIVE) yield version.value.subarray(1);
    }
  }

  insert(db: string, coll: string, doc: Document): void {
    validateCollectionName(db, coll);
    const stored = validateDocument(doc, 'insert', LIVE);
    const entry = this.collection(db, coll) ?? this.newCollection(db, coll);
    const encId = encodeValue(doc._id);
    if (!this.highWater.isAbove(entry.nsId, encId)) {
      const existing = getVisible(this.t.docs, docGroup(entry.nsId, encId), this.view);
      if (existing && existing.value[0] === LIVE) throw duplicateKey(entry, '_id_', { _id: 1 }, { _id: doc._id });
    }
    this.writeDoc(entry, encId, null, 0, doc, stored, 'insert');
  }

  /**
   * Replaces the document with doc's `_id`; inserts it when absent and `upsert` is set.
   * `replacement` records that the caller replaced the document whole rather than applied update
   * operators: change streams report the two differently.
   */
  replace(db: string, coll: string, doc: Document, upsert = false, replacement = false): 'updated' | 'inserted' | 'missing' {
    validateCollectionName(db, coll);
    const stored = validateDocument(doc, 'replace', LIVE);
    const entry = this.collection(db, coll);
    const encId = encodeValue(doc._id);
    const existing = entry && getVisible(this.t.docs, docGroup(entry.nsId, encId), this.view);
    const old = existing ? decodeDoc(existing.value) : null;
    if (!old) {
      if (!upsert) return 'missing';
      this.writeDoc(entry ?? this.newCollection(db, coll), encId, null, 0, doc, stored, 'insert');
      return 'inserted';
    }
    this.writeDoc(entry!, encId, old, existing!.value.length - 1, doc, stored, replacement ? 'replace' : 'update');
    return 'updated';
  }

  delete(db: string, coll: string, id: unknown): boolean {
    validateId(id);
    const entry = this.collection(db, coll);
    if (!entry) return false;
    const encId = encodeValue(id);
    const existing = getVisible(this.t.docs, docGroup(entry.nsId, encId), this.view);
    const old = existing ? decodeDoc(existing.value) : null;
    if (!old) return false;
    this.writeDoc(entry, encId, old, existing!.value.length - 1, null, null, 'delete');
    return true;
  }

  /** Creates an empty collection, with validation options if given; false if it exists. */
  createCollection(db: string, coll: string, validation: ValidationOptions = {}): boolean {
    validateCollectionName(db, coll);
    const options = this.checkValidationOptions(validation);
    if (this.collection(db, coll)) return false;
    this.newCollection(db, coll, options);
    return true;
  }

  /**
   * Replaces a collection's validation options by `validation` whole: a field left out becomes
   * unset, and an empty validator is no validator (as in mongod). Documents already stored are
   * not checked. Throws NamespaceNotFound if the collection does not exist.
   */
  setValidation(db: string, coll: string, validation: ValidationOptions): void {
    const entry = this.collection(db, coll);
    if (!entry) throw new ArgonError('NamespaceNotFound', `ns does not exist: ${db}.${coll}`);
    const { validator, validationLevel, validationAction, ...rest } = entry;
    this.putCatalog(db, coll, { ...rest, ...this.checkValidationOptions(validation) });
    this.changes.push({ op: 'collMod', db, coll });
  }

  /** `forDropDatabase` marks the drop as part of dropping the whole database (a change stream event of its own). */
  dropCollection(db: string, coll: string, forDropDatabase = false): boolean {
    if (!this.collection(db, coll)) return false;
    this.putCatalog(db, coll, null);
    this.changes.push(forDropDatabase ? { op: 'dropCollection', db, coll, dropDatabase: true } : { op: 'dropCollection', db, coll });
    return true;
  }

  renameCollection(db: string, from: string, to: string, dropTarget = false): void {
    validateCollectionName(db, to);
    const entry = this.collection(db, from);
    if (!entry) throw new ArgonError('NamespaceNotFound', `Source collection ${db}.${from} does not exist`);
    if (from === to) throw new ArgonError('BadValue', "Can't rename a collection to itself");
    if (this.collection(db, to)) {
      if (!dropTarget) throw new ArgonError('NamespaceExists', `target namespace exists: ${db}.${to}`);
      this.dropCollection(db, to);
    }
    this.putCatalog(db, to, { ...entry, coll: to });
    this.putCatalog(db, from, null);
    this.changes.push({ op: 'renameCollection', db, coll: from, id: to });
  }

  /** Creates an index and builds its entries from the branch's current documents. */
  createIndex(db: string, coll: string, spec: IndexSpec): IndexInfo {
    validateCollectionName(db, coll);
    validateIndexSpec(spec);
    const entry = this.collection(db, coll) ?? this.newCollection(db, coll);
    const same = entry.indexes.find((ix) => ix.name === spec.name);
    if (same) {
      if (sameIndex(same, spec)) return same;
      throw new ArgonError('IndexKeySpecsConflict', `An existing index has the same name as the requested index. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(same)}`);
    }
    const sameKey = entry.indexes.find((ix) => JSON.stringify(ix.key) === JSON.stringify(spec.key));
    if (sameKey) {
      throw new ArgonError('IndexOptionsConflict', `Index already exists with a different name: ${sameKey.name}`);
    }
    const index: IndexInfo = { id: this.counters.nextIndexId++, name: spec.name, key: { ...spec.key } };
    if (spec.unique) index.unique = true;
    if (spec.sparse) index.sparse = true;
    if (spec.expireAfterSeconds !== undefined) index.expireAfterSeconds = spec.expireAfterSeconds;
    if (spec.partialFilterExpression !== undefined) {
      index.partialFilterExpression = spec.partialFilterExpression;
      if (!this.partialFilter(index)) throw new ArgonError('CannotCreateIndex', 'partial indexes need a filter compiler (StoreOptions.compileFilter)');
    }
    this.buildIndex(entry, index);
    this.putCatalog(db, coll, { ...entry, indexes: [...entry.indexes, index] });
    this.changes.push({ op: 'createIndex', db, coll, id: spec.name });
    return index;
  }

  dropIndex(db: string, coll: string, name: string): void {
    const entry = this.collection(db, coll);
    if (!entry) throw new ArgonError('NamespaceNotFound', `ns not found ${db}.${coll}`);
    if (name === '_id_') throw new ArgonError('InvalidOptions', 'cannot drop _id index');
    if (!entry.indexes.some((ix) => ix.name === name)) {
      throw new ArgonError('IndexNotFound', `index not found with name [${name}]`);
    }
    this.putCatalog(db, coll, { ...entry, indexes: entry.indexes.filter((ix) => ix.name !== name) });
    this.changes.push({ op: 'dropIndex', db, coll, id: name });
  }

  /** Records that this batch merges `sourceId`'s state as of `sourceLsn` (the next merge's base), with the merge's report. */
  recordMerge(sourceId: number, sourceLsn: number, report?: Buffer): void {
    this.t.merges.put([this.branch.id, this.lsn], report ? { sourceId, sourceLsn, report } : { sourceId, sourceLsn });
  }

  /** Drops the branch's pending manual merge: this batch completes it. */
  clearPendingMerge(): void {
    this.t.pendingMerges.remove(this.branch.id);
  }

  /** Writes the batch's bookkeeping: stats versions, change log, clock. Returns false if nothing changed. */
  finish(): boolean {
    if (this.changes.length === 0) return false;
    const { t, lsn, branch } = this;
    for (const [nsId, delta] of this.statsDelta) {
      const group = u32(nsId);
      const base = decodeStats(getVisible(t.stats, group, this.view)?.value);
      const value = Buffer.allocUnsafe(16);
      value.writeDoubleBE(base.count + delta.count, 0);
      value.writeDoubleBE(base.bytes + delta.bytes, 8);
      t.stats.put(versionKey(group, lsn, branch.id), value);
    }
    t.log.put([branch.id, lsn], encodeChanges(this.time, this.changes, this.author));
    t.clock.put([this.time, lsn], null);
    return true;
  }

  private newCollection(db: string, coll: string, validation: ValidationOptions = {}): CatalogEntry {
    const entry: CatalogEntry = { db, coll, nsId: this.counters.nextNsId++, indexes: [], ...validation };
    this.putCatalog(db, coll, entry);
    this.changes.push({ op: 'createCollection', db, coll });
    return entry;
  }

  private putCatalog(db: string, coll: string, entry: CatalogEntry | null): void {
    const group = catalogGroup(db, coll);
    this.t.catalog.put(versionKey(group, this.lsn, this.branch.id), encodeCatalogEntry(entry));
    this.catalogOverlay.set(group.toString('hex'), entry);
  }

  private writeDoc(
    entry: CatalogEntry,
    encId: Buffer,
    old: Document | null,
    oldBytes: number,
    doc: Document | null,
    stored: Buffer | null,
    op: 'insert' | 'update' | 'replace' | 'delete',
  ): void {
    if (doc) this.validate(entry, doc, old);
    const newKeys = entry.indexes.map((ix) => this.encodedKeys(doc, ix));
    const oldKeys = entry.indexes.map((ix) => this.encodedKeys(old, ix));
    entry.indexes.forEach((ix, i) => {
      if (!ix.unique) return;
      for (const [hex, key] of newKeys[i]!) {
        if (!oldKeys[i]!.has(hex)) this.checkUnique(entry, ix, key, encId, doc!);
      }
    });
    const group = docGroup(entry.nsId, encId);
    const key = versionKey(group, this.lsn, this.branch.id);
    const value = stored ?? GONE_BYTE;
    this.t.docs.put(key, value);
    this.highWater.note(entry.nsId, encId);
    this.writtenDocs.push([group, stored]);
    this.ownBytes += key.length + value.length;
    entry.indexes.forEach((ix, i) => {
      for (const [hex, k] of oldKeys[i]!) if (!newKeys[i]!.has(hex)) this.putIndexEntry(ix, k, encId, GONE);
      for (const [hex, k] of newKeys[i]!) if (!oldKeys[i]!.has(hex)) this.putIndexEntry(ix, k, encId, LIVE);
    });
    const delta = this.statsDelta.get(entry.nsId) ?? { count: 0, bytes: 0 };
    delta.count += (doc ? 1 : 0) - (old ? 1 : 0);
    delta.bytes += (doc ? value.length - 1 : 0) - oldBytes;
    this.statsDelta.set(entry.nsId, delta);
    const id = (doc ?? old)!._id;
    this.changes.push(op === 'replace' ? { op: 'update', db: entry.db, coll: entry.coll, id, replacement: true } : { op, db: entry.db, coll: entry.coll, id });
  }

  /** The validation options as they will be stored: known values only, and no empty validator. */
  private checkValidationOptions(validation: ValidationOptions): ValidationOptions {
    const { validator, validationLevel, validationAction } = validation;
    if (validationLevel !== undefined && !['off', 'strict', 'moderate'].includes(validationLevel)) {
      throw new ArgonError('BadValue', `Enumeration value '${validationLevel}' for field 'validationLevel' is not a valid value.`);
    }
    if (validationAction !== undefined && !['error', 'warn'].includes(validationAction)) {
      throw new ArgonError('BadValue', `Enumeration value '${validationAction}' for field 'validationAction' is not a valid value.`);
    }
    const options: ValidationOptions = {};
    if (validator !== undefined && Object.keys(validator).length > 0) {
      // Compiled now so that a bad validator is refused here rather than on the next write.
      if (!this.compileValidator(validator)) throw new ArgonError('InvalidOptions', 'collection validators need a validator compiler (StoreOptions.compileValidator)');
      options.validator = validator;
    }
    if (validationLevel !== undefined) options.validationLevel = validationLevel;
    if (validationAction !== undefined) options.validationAction = validationAction;
    return options;
  }

  /**
   * Applies the collection's validator to a document about to be written (`old`: the version it
   * replaces). Level `moderate` lets through updates of documents that already failed. Action
   * `warn` writes anyway, so it is not even checked: mongod would log the failure, and the
   * storage layer has no log.
   */
  private validate(entry: CatalogEntry, doc: Document, old: Document | null): void {
    if (!entry.validator || entry.validationLevel === 'off' || entry.validationAction === 'warn' || this.bypassDocumentValidation) return;
    const check = this.compileValidator(entry.validator);
    if (!check) return;
    const details = check(doc);
    if (!details) return;
    if (old && entry.validationLevel === 'moderate' && check(old)) return;
    throw new ArgonError('DocumentValidationFailure', 'Document failed validation', { errInfo: { failingDocumentId: doc._id, details } });
  }

  /** A document's encoded keys in one index (none for a document a partial index leaves out). */
  private encodedKeys(doc: Document | null, ix: IndexInfo): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    if (!doc) return out;
    const partial = this.partialFilter(ix);
    if (partial && !partial(doc)) return out;
    const dirs = indexDirections(ix);
    for (const values of indexKeys(doc, ix)) {
      const key = encodeCompound(values, dirs);
      out.set(key.toString('hex'), key);
    }
    return out;
  }

  private putIndexEntry(ix: IndexInfo, key: Buffer, encId: Buffer, flag: number): void {
    const k = versionKey(Buffer.concat([u32(ix.id), key, encId]), this.lsn, this.branch.id);
    const v = Buffer.concat([Buffer.from([flag]), encId]);
    this.t.index.put(k, v);
    this.ownBytes += k.length + v.length;
  }

  private checkUnique(entry: CatalogEntry, ix: IndexInfo, key: Buffer, encId: Buffer, doc: Document): void {
    const prefix = Buffer.concat([u32(ix.id), key]);
    for (const version of scanVisible(this.t.index, prefix, prefixSuccessor(prefix), this.view)) {
      if (version.value[0] === LIVE && !version.value.subarray(1).equals(encId)) {
        const keyValue = Object.fromEntries(Object.keys(ix.key).map((field) => [field, valueAt(doc, field)]));
        throw duplicateKey(entry, ix.name, ix.key, keyValue);
      }
    }
  }

  private buildIndex(entry: CatalogEntry, ix: IndexInfo): void {
    const seen = new Map<string, string>();
    for (const version of scanVisible(this.t.docs, u32(entry.nsId), u32(entry.nsId + 1), this.view)) {
      const doc = decodeDoc(version.value);
      if (!doc) continue;
      const encId = version.key.subarray(4, version.key.length - 12);
      for (const [hex, key] of this.encodedKeys(doc, ix)) {
        if (ix.unique) {
          const other = seen.get(hex);
          if (other !== undefined && other !== encId.toString('hex')) {
            const keyValue = Object.fromEntries(Object.keys(ix.key).map((field) => [field, valueAt(doc, field)]));
            throw duplicateKey(entry, ix.name, ix.key, keyValue);
          }
          seen.set(hex, encId.toString('hex'));
        }
        this.putIndexEntry(ix, key, Buffer.from(encId), LIVE);
      }
    }
  }
}


function valueAt(doc: Document, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[part];
  }
  return v === undefined ? null : v;
}

function duplicateKey(entry: CatalogEntry, index: string, keyPattern: Record<string, number>, keyValue: Record<string, unknown>): ArgonError {
  const shown = Object.entries(keyValue).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  return new ArgonError('DuplicateKey', `E11000 duplicate key error collection: ${entry.db}.${entry.coll} index: ${index} dup key: { ${shown} }`, {
    keyPattern,
    keyValue,
  });
}

function validateIndexSpec(spec: IndexSpec): void {
  if (!spec.name || typeof spec.name !== 'string') throw new ArgonError('CannotCreateIndex', 'index name must be a non-empty string');
  if (spec.name === '_id_') throw new ArgonError('BadValue', 'The _id index is built in and cannot be created');
  const fields = Object.entries(spec.key ?? {});
  if (fields.length === 0) throw new ArgonError('CannotCreateIndex', 'Index keys cannot be empty.');
  for (const [field, dir] of fields) {
    if (dir !== 1 && dir !== -1) throw new ArgonError('CannotCreateIndex', `Values in the index key pattern must be 1 or -1, found ${JSON.stringify(dir)} for '${field}'`);
    if (field === '' || field.startsWith('$') || field.split('.').some((p) => p === '')) {
      throw new ArgonError('CannotCreateIndex', `Invalid index field name '${field}'`);
    }
  }
}

function sameIndex(a: IndexInfo, b: IndexSpec): boolean {
  return (
    JSON.stringify(a.key) === JSON.stringify(b.key) &&
    !!a.unique === !!b.unique &&
    !!a.sparse === !!b.sparse &&
    a.expireAfterSeconds === b.expireAfterSeconds &&
    JSON.stringify(a.partialFilterExpression) === JSON.stringify(b.partialFilterExpression)
  );
}
