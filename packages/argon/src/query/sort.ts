/**
 * Sort specifications in MongoDB order (compareBson): a missing field sorts
 * as null, an array sorts by its smallest element ascending and by its largest
 * descending; an empty array sorts as undefined, just below null.
 */
import { ArgonError } from '../errors.js';
import { collectValues } from './filter.js';
import { badValue, compareBson, isNumeric, isPlainObject, toNumber, type Document } from './values.js';

export type Comparator = (a: Document, b: Document) => number;

export interface SortField {
  path: string;
  parts: string[];
  direction: 1 | -1;
}

/** Validates a sort document into its fields. */
export function parseSort(sort: Document): SortField[] {
  if (!isPlainObject(sort)) throw badValue('sort must be an object');
  const fields: SortField[] = [];
  for (const path of Object.keys(sort)) {
    const v = sort[path];
    if (isPlainObject(v)) {
      if ('$meta' in v) {
        if (v.$meta === 'textScore') {
          throw badValue(`$meta: 'textScore' sort is not supported (requires a $text query): ${path}`);
        }
        throw badValue(`Illegal $meta sort: ${String(v.$meta)}`);
      }
      throw badValue(`Invalid sort format: ${path}`);
    }
    const n = isNumeric(v) ? toNumber(v) : NaN;
    if (n !== 1 && n !== -1) throw new ArgonError('BadValue', `$sort key ordering must be 1 (for ascending) or -1 (for descending)`);
    if (path === '' || path.split('.').some((p) => p === '')) throw badValue(`Invalid sort key: '${path}'`);
    fields.push({ path, parts: path.split('.'), direction: n as 1 | -1 });
  }
  return fields;
}

/** The key a document sorts by for one field and direction. */
export function sortKey(doc: Document, parts: string[], direction: 1 | -1): unknown {
  const found = collectValues(doc, parts);
  let best: unknown;
  let have = false;
  const consider = (v: unknown): void => {
    if (!have || compareBson(v, best) * direction < 0) {
      best = v;
      have = true;
    }
  };
  for (const v of found) {
    if (v === undefined) consider(null);
    else if (Array.isArray(v)) {
      if (v.length === 0) consider(undefined);
      else for (const e of v) consider(e === undefined ? null : e);
    } else consider(v);
  }
  return have ? best : null;
}

/** A comparator for `Array.prototype.sort` implementing a MongoDB sort specification. */
export function compileSort(sort: Document): Comparator {
  const fields = parseSort(sort);
  if (fields.length === 0) return () => 0;
  return (a, b) => {
    for (const f of fields) {
      const c = compareBson(sortKey(a, f.parts, f.direction), sortKey(b, f.parts, f.direction));
      if (c !== 0) return c * f.direction;
    }
    return 0;
  };
}
