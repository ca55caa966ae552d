import { serializeWithBufferAndIndex, BSONRegExp } from 'bson';
import { ArgonError } from '../errors.js';
import type { Document } from './types.js';

export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;

/**
 * Checks a document about to be stored, as mongod does (a usable `_id`, no `$`-prefixed
 * top-level fields in replacements, as inserts may have them since 5.0, the size limit)
 * and returns its stored value.
 */
export function validateDocument(doc: Document, kind: 'insert' | 'replace', flag: number): Buffer {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ArgonError('BadValue', 'A document must be an object');
  }
  if (!('_id' in doc) || doc._id === undefined) {
    throw new ArgonError('InvalidIdField', "A document must have an '_id' field");
  }
  validateId(doc._id);
  if (kind === 'replace') {
    for (const field of Object.keys(doc)) {
      if (field.startsWith('$')) {
        throw new ArgonError('DollarPrefixedFieldName', `The dollar ($) prefixed field '${field}' in '${field}' is not valid for storage.`);
      }
    }
  }
  return toStoredValue(doc, flag);
}

/** Room for the largest document plus the stored value's flag byte. */
const scratch = Buffer.allocUnsafe(MAX_BSON_OBJECT_SIZE + 64 * 1024);

/**
 * Serializes a document as a stored value (a flag byte, then BSON), refusing anything over
 * MongoDB's 16 MiB limit. Serializing into one reusable buffer and copying out once keeps the
 * hot insert path to a single allocation.
 */
export function toStoredValue(doc: Document, flag: number): Buffer {
  let end: number;
  try {
    end = serializeWithBufferAndIndex(doc, scratch, { checkKeys: false, index: 1 });
  } catch (err) {
    // bson refuses documents larger than the buffer before we can measure them.
    throw new ArgonError('BSONObjectTooLarge', `object to insert too large: ${(err as Error).message}; max size: ${MAX_BSON_OBJECT_SIZE}`);
  }
  if (end > MAX_BSON_OBJECT_SIZE) {
    throw new ArgonError('BSONObjectTooLarge', `object to insert too large. size in bytes: ${end}, max size: ${MAX_BSON_OBJECT_SIZE}`);
  }
  scratch[0] = flag;
  return Buffer.from(scratch.subarray(0, end + 1));
}

export function validateId(id: unknown): void {
  if (id === undefined) {
    throw new ArgonError('InvalidIdField', "The '_id' value cannot be undefined");
  }
  if (Array.isArray(id)) {
    throw new ArgonError('InvalidIdField', "The '_id' value cannot be of type array");
  }
  if (id instanceof RegExp || id instanceof BSONRegExp) {
    throw new ArgonError('InvalidIdField', "The '_id' value cannot be of type regex");
  }
  if (isPlainObject(id)) {
    for (const field of Object.keys(id)) {
      if (field.startsWith('$')) {
        throw new ArgonError('DollarPrefixedFieldName', `_id fields may not contain '$'-prefixed fields: ${field} is not valid for storage.`);
      }
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
