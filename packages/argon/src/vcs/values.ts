/** Value helpers shared by diff and merge: lossless decoding and BSON-exact comparison. */
import { deserialize, serialize } from 'bson';
import { encodeValue } from '../storage/keys.js';
import type { Document } from '../storage/types.js';

/** Marks an absent field (distinct from a stored `null` or `undefined`). */
export const MISSING: unique symbol = Symbol('missing');
export type Slot = unknown | typeof MISSING;

/**
 * Decodes stored BSON without losing types: Int32/Double/Long stay wrapped (as the wire layer
 * does), so writing a merged document back reproduces exactly the stored types.
 */
export function decodeLossless(raw: Buffer): Document {
  return deserialize(raw, { promoteValues: false, bsonRegExp: true, validation: { utf8: false } }) as Document;
}

/** Decodes stored BSON as `Store.get` does (numbers promoted to JS numbers). */
export function decodePlain(raw: Buffer): Document {
  return deserialize(raw, { validation: { utf8: false } }) as Document;
}

/** Serialization of one value wrapped in a document: equal bytes iff BSON-identical values. */
export function valueBytes(value: unknown): Buffer {
  return Buffer.from(serialize({ v: value }, { checkKeys: false, ignoreUndefined: false }));
}

/**
 * Whether two slots hold BSON-identical values (types included: int 1 is not double 1.0).
 * Documents and arrays are compared member by member, strings and booleans directly:
 * serializing whole documents for every comparison made diffs and merges spend much of their time
 * in the BSON encoder. Int32 and Double compare by type and value (Object.is: -0 is not 0, as in
 * BSON); other values (ObjectIds, dates, longs...) by their bytes.
 */
export function sameSlot(a: Slot, b: Slot): boolean {
  if (a === MISSING || b === MISSING) return a === b;
  if (typeof a === 'string' || typeof a === 'boolean') return a === b;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameSlot(v, b[i]));
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const keys = Object.keys(a);
    const other = Object.keys(b);
    // Field order is part of a BSON document's identity.
    return keys.length === other.length && keys.every((k, i) => k === other[i] && sameSlot(a[k], b[k]));
  }
  const type = (a as { _bsontype?: string } | null)?._bsontype;
  if (type === 'Int32' || type === 'Double') {
    return (b as { _bsontype?: string } | null)?._bsontype === type && Object.is((a as { value: number }).value, (b as { value: number }).value);
  }
  return valueBytes(a).equals(valueBytes(b));
}

/** A lossless value as a plain JS value (numbers promoted), for reports. */
export function plainValue(value: Slot): unknown {
  if (value === MISSING) return undefined;
  return (deserialize(valueBytes(value)) as { v: unknown }).v;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The key by which documents are identified: equal for MongoDB-equal `_id`s. */
export function idKey(id: unknown): string {
  return encodeValue(id).toString('hex');
}

export function nsOf(db: string, coll: string): string {
  return `${db}.${coll}`;
}

export function sameRaw(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}
