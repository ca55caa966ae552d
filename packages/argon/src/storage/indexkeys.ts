import { ArgonError } from '../errors.js';
import type { Document, IndexSpec } from './types.js';

/** Values found at one dotted path, and whether an array had to be expanded to reach them. */
interface PathValues {
  values: unknown[];
  multikey: boolean;
}

/**
 * The index keys of a document, following MongoDB: a missing field indexes as null,
 * an array indexes each element (an empty array as undefined), and at most one field of
 * a compound key may be an array. Returns no keys for a sparse index when every field is missing.
 */
export function indexKeys(doc: Document, spec: IndexSpec): unknown[][] {
  const fields = Object.keys(spec.key);
  const perField: PathValues[] = [];
  let arrayField: string | null = null;
  let allMissing = true;
  for (const field of fields) {
    const found: PathValues = { values: [], multikey: false };
    collect(doc, field.split('.'), 0, found);
    if (found.values.length > 0) allMissing = false;
    else found.values.push(null);
    if (found.multikey) {
      if (arrayField !== null) {
        throw new ArgonError('CannotIndexParallelArrays', `cannot index parallel arrays [${field}] [${arrayField}]`);
      }
      arrayField = field;
    }
    perField.push(found);
  }
  if (spec.sparse && allMissing) return [];
  let keys: unknown[][] = [[]];
  for (const { values } of perField) {
    const next: unknown[][] = [];
    for (const prefix of keys) for (const v of values) next.push([...prefix, v]);
    keys = next;
  }
  return keys;
}

function collect(value: unknown, parts: string[], i: number, out: PathValues): void {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      out.multikey = true;
      if (value.length === 0) out.values.push(undefined);
      else out.values.push(...value);
    } else {
      out.values.push(value);
    }
    return;
  }
  if (Array.isArray(value)) {
    const part = parts[i]!;
    if (/^\d+$/.test(part)) {
      // A numeric component addresses an array position, as in `a.0`.
      const element = value[Number(part)];
      if (element !== undefined) collect(element, parts, i + 1, out);
      return;
    }
    out.multikey = true;
    for (const element of value) {
      if (isTraversable(element) && !Array.isArray(element)) collect(element, parts, i, out);
    }
    return;
  }
  if (isTraversable(value)) {
    const child = (value as Record<string, unknown>)[parts[i]!];
    if (child !== undefined) collect(child, parts, i + 1, out);
  }
}

function isTraversable(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
