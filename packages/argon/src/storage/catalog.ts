import { serialize, deserialize } from 'bson';
import { encodeValue, prefixSuccessor } from './keys.js';
import { getVisible, scanVisible, type BinaryDb, type View } from './versioned.js';
import type { IndexInfo, ValidationOptions } from './types.js';

/**
 * The catalog is versioned like the data: one group per (database, collection name), whose
 * versions say which collection incarnation (nsId) the name points to, which indexes it has and
 * how its documents are validated. Creating an index (or setting a validator) on a branch writes
 * a new catalog version on that branch only, which is how an index can exist on one branch and
 * not on its parent.
 */
export interface CatalogEntry extends ValidationOptions {
  db: string;
  coll: string;
  nsId: number;
  indexes: IndexInfo[];
}

const LIVE = 1;
const DROPPED = 0;

export function catalogGroup(db: string, coll: string): Buffer {
  return Buffer.concat([encodeValue(db), encodeValue(coll)]);
}

export function encodeCatalogEntry(entry: CatalogEntry | null): Buffer {
  if (entry === null) return Buffer.from([DROPPED]);
  // Unset validation fields are left out, not stored as null.
  return Buffer.concat([Buffer.from([LIVE]), serialize(entry, { ignoreUndefined: true })]);
}

export function decodeCatalogEntry(value: Buffer): CatalogEntry | null {
  if (value[0] === DROPPED) return null;
  const raw = deserialize(value.subarray(1), { promoteValues: true });
  const entry: CatalogEntry = {
    db: raw.db,
    coll: raw.coll,
    nsId: raw.nsId,
    indexes: (raw.indexes as IndexInfo[]).map((ix) => ({ ...ix })),
  };
  // Entries written before validators existed have none of these fields.
  if (raw.validator !== undefined) {
    // With its exact BSON types (5.0 stays a double): listCollections shows it as it was given.
    entry.validator = deserialize(value.subarray(1), { promoteValues: false }).validator;
  }
  if (raw.validationLevel !== undefined) entry.validationLevel = raw.validationLevel;
  if (raw.validationAction !== undefined) entry.validationAction = raw.validationAction;
  return entry;
}

export function readCatalogEntry(db: BinaryDb, view: View, dbName: string, coll: string): CatalogEntry | null {
  const version = getVisible(db, catalogGroup(dbName, coll), view);
  return version ? decodeCatalogEntry(version.value) : null;
}

/** Every live collection visible to `view`, optionally only those of one database. */
export function listCatalog(db: BinaryDb, view: View, dbName?: string): CatalogEntry[] {
  const lower = dbName === undefined ? Buffer.alloc(0) : encodeValue(dbName);
  const upper = dbName === undefined ? null : prefixSuccessor(lower);
  const out: CatalogEntry[] = [];
  for (const version of scanVisible(db, lower, upper, view)) {
    const entry = decodeCatalogEntry(version.value);
    if (entry) out.push(entry);
  }
  return out;
}
