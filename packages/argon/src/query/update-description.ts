/**
 * The `updateDescription` of a change stream update event, derived from the document before and
 * after the update the way MongoDB derives it from its oplog delta: changed and added paths with
 * their new values, removed paths, and arrays that got shorter.
 */
import { serialize } from 'bson';
import { isPlainObject, type Document } from './values.js';

export interface UpdateDescription {
  updatedFields: Document;
  removedFields: string[];
  truncatedArrays: { field: string; newSize: number }[];
}

export function describeUpdate(before: Document, after: Document): UpdateDescription {
  const out: UpdateDescription = { updatedFields: {}, removedFields: [], truncatedArrays: [] };
  diffDocument(before, after, '', out);
  return out;
}

/**
 * Walks both field lists in step, as MongoDB's delta does. A field of `before` that is not where
 * `after` is at is set aside as removed; the fields of `after` left once `before` runs out are new
 * or moved, and are reported whole (a moved field is no longer removed).
 */
function diffDocument(before: Document, after: Document, prefix: string, out: UpdateDescription): void {
  const beforeKeys = Object.keys(before);
  const afterKeys = Object.keys(after);
  const setAside = new Set<string>();
  let i = 0;
  let j = 0;
  for (; i < beforeKeys.length && j < afterKeys.length; i++) {
    const key = beforeKeys[i]!;
    if (key === afterKeys[j]) {
      diffValue(before[key], after[key], join(prefix, key), out);
      j++;
    } else {
      setAside.add(key);
    }
  }
  for (; i < beforeKeys.length; i++) out.removedFields.push(join(prefix, beforeKeys[i]!));
  for (; j < afterKeys.length; j++) {
    const key = afterKeys[j]!;
    setAside.delete(key);
    out.updatedFields[join(prefix, key)] = after[key];
  }
  for (const key of setAside) out.removedFields.push(join(prefix, key));
}

/** Embedded documents and arrays are described path by path; any other change replaces the value. */
function diffValue(before: unknown, after: unknown, path: string, out: UpdateDescription): void {
  if (sameBson(before, after)) return;
  if (isPlainObject(before) && isPlainObject(after)) diffDocument(before, after, path, out);
  else if (Array.isArray(before) && Array.isArray(after)) diffArray(before, after, path, out);
  else out.updatedFields[path] = after;
}

function diffArray(before: unknown[], after: unknown[], path: string, out: UpdateDescription): void {
  const common = Math.min(before.length, after.length);
  for (let k = 0; k < common; k++) diffValue(before[k], after[k], `${path}.${k}`, out);
  for (let k = common; k < after.length; k++) out.updatedFields[`${path}.${k}`] = after[k];
  if (before.length > after.length) out.truncatedArrays.push({ field: path, newSize: after.length });
}

/** Equal as stored: same BSON types and bytes (so int 1 and double 1.0 differ, as in the oplog). */
function sameBson(a: unknown, b: unknown): boolean {
  return Buffer.from(serialize({ v: a })).equals(Buffer.from(serialize({ v: b })));
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}
