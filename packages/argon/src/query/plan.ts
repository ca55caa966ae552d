/**
 * Access-path choice for find/update/delete: `_id` points or ranges, a
 * secondary index's leading field (equality, `$in` points, ranges bounded to
 * the value's type bracket), or a collection scan. Plans are supersets: the
 * caller re-applies the full filter to every candidate.
 */
import { MaxKey, MinKey, ObjectId, Timestamp, Long } from 'bson';
import type { IdRange, IndexInfo, IndexRange, RangeBound } from '../storage/types.js';
import { isRegex } from './filter.js';
import { canonicalTypeOrder, compareBson, isNumeric, isPlainObject, toNumber, type Document } from './values.js';

export type QueryPlan =
  | { kind: 'IDPOINTS'; ids: unknown[] }
  | { kind: 'IDSCAN'; range: IdRange }
  | { kind: 'IXSCAN'; index: string; range: IndexRange; ranges: IndexRange[] }
  | { kind: 'COLLSCAN' };

/** Interval on one field's values, as the index sees them. */
interface Interval {
  lower?: RangeBound;
  upper?: RangeBound;
}

/** What the filter requires of one field (conjunction), or null when nothing usable. */
interface FieldBounds {
  /** Disjoint-ish intervals whose union contains every value that can match. */
  intervals: Interval[];
  /** How selective: 0 = points, 1 = $in points, 2 = range. */
  rank: number;
}

// Lowest and highest values of each type bracket (MongoDB's bracketing).
const NUMBER_BRACKET: Interval = {
  lower: { value: -Infinity, inclusive: true },
  upper: { value: Infinity, inclusive: true },
};

function bracketOf(v: unknown): Interval | undefined {
  switch (canonicalTypeOrder(v)) {
    case 10:
      return NUMBER_BRACKET;
    case 15:
      return { lower: { value: '', inclusive: true }, upper: { value: {}, inclusive: false } };
    case 35:
      return {
        lower: { value: new ObjectId('000000000000000000000000'), inclusive: true },
        upper: { value: new ObjectId('ffffffffffffffffffffffff'), inclusive: true },
      };
    case 40:
      return { lower: { value: false, inclusive: true }, upper: { value: true, inclusive: true } };
    case 45:
      return { lower: { value: new Date(-8.64e15), inclusive: true }, upper: { value: new Date(8.64e15), inclusive: true } };
    case 47:
      return {
        lower: { value: new Timestamp({ t: 0, i: 0 }), inclusive: true },
        upper: { value: new Timestamp(Long.fromBigInt(2n ** 64n - 1n, true)), inclusive: true },
      };
    default:
      return undefined;
  }
}

function point(v: unknown): Interval {
  return { lower: { value: v, inclusive: true }, upper: { value: v, inclusive: true } };
}

/** Values that a plain index point can stand for (not null, arrays or regexes). */
function pointable(v: unknown): boolean {
  if (v === null || v === undefined || Array.isArray(v) || isRegex(v)) return false;
  if (isNumeric(v) && Number.isNaN(toNumber(v))) return true;
  const t = canonicalTypeOrder(v);
  return t !== -1 && t !== 127;
}

function isOperatorObject(v: unknown): v is Document {
  if (!isPlainObject(v)) return false;
  const k = Object.keys(v)[0];
  return k !== undefined && k.startsWith('$') && k !== '$ref' && k !== '$id' && k !== '$db';
}

/** Conjunct conditions per field path (top level and inside $and). */
function conjuncts(filter: Document, out: Map<string, unknown[]>): void {
  for (const key of Object.keys(filter)) {
    const v = filter[key];
    if (key === '$and' && Array.isArray(v)) {
      for (const sub of v) if (isPlainObject(sub)) conjuncts(sub, out);
      continue;
    }
    if (key.startsWith('$')) continue;
    const list = out.get(key) ?? [];
    list.push(v);
    out.set(key, list);
  }
}

/** Bounds implied by one condition on a field, or undefined if it gives none usable. */
function boundsOf(cond: unknown, allowNull: boolean): FieldBounds | undefined {
  if (!isOperatorObject(cond)) {
    if (isRegex(cond)) return undefined;
    if (cond === null) return allowNull ? nullBounds() : undefined;
    return pointable(cond) ? { intervals: [point(cond)], rank: 0 } : undefined;
  }
  let best: FieldBounds | undefined;
  let range: Interval | undefined;
  for (const op of Object.keys(cond)) {
    const arg = cond[op];
    let b: FieldBounds | undefined;
    if (op === '$eq') b = boundsOf(arg, allowNull);
    else if (op === '$in') {
      if (!Array.isArray(arg) || arg.length === 0) continue;
      const intervals: Interval[] = [];
      let ok = true;
      for (const e of arg) {
        if (e === null && allowNull) intervals.push(...nullBounds().intervals);
        else if (pointable(e)) intervals.push(point(e));
        else ok = false;
      }
      if (ok) b = { intervals: dedupe(intervals), rank: 1 };
    } else if (op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') {
      if (arg === null || arg === undefined || Array.isArray(arg)) continue;
      if (isNumeric(arg) && Number.isNaN(toNumber(arg))) continue;
      const bracket = bracketOf(arg);
      if (!bracket) continue;
      const inclusive = op === '$gte' || op === '$lte';
      const next: Interval = op === '$gt' || op === '$gte'
        ? { lower: { value: arg, inclusive }, upper: bracket.upper }
        : { lower: bracket.lower, upper: { value: arg, inclusive } };
      range = range && canonicalTypeOrder(range.lower!.value) === canonicalTypeOrder(arg) ? intersect(range, next) : range ?? next;
      continue;
    }
    if (b && (!best || b.rank < best.rank)) best = b;
  }
  if (best) return best;
  return range ? { intervals: [range], rank: 2 } : undefined;
}

/** `null` matches missing, null and undefined: keys undefined..null. */
function nullBounds(): FieldBounds {
  return { intervals: [{ lower: { value: undefined, inclusive: true }, upper: { value: null, inclusive: true } }], rank: 1 };
}

function intersect(a: Interval, b: Interval): Interval {
  const lc = compareBson(a.lower!.value, b.lower!.value);
  const lower = lc > 0 ? a.lower : lc < 0 ? b.lower : { value: a.lower!.value, inclusive: a.lower!.inclusive && b.lower!.inclusive };
  const uc = compareBson(a.upper!.value, b.upper!.value);
  const upper = uc < 0 ? a.upper : uc > 0 ? b.upper : { value: a.upper!.value, inclusive: a.upper!.inclusive && b.upper!.inclusive };
  return { lower, upper };
}

function dedupe(intervals: Interval[]): Interval[] {
  const sorted = intervals.slice().sort((x, y) => compareBson(x.lower?.value ?? null, y.lower?.value ?? null));
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && compareBson(last.lower?.value ?? null, i.lower?.value ?? null) === 0 && compareBson(last.upper?.value ?? null, i.upper?.value ?? null) === 0) continue;
    out.push(i);
  }
  return out;
}

/** The tightest bounds the conjuncts on one field give. */
function fieldBounds(conds: unknown[], allowNull: boolean): FieldBounds | undefined {
  let best: FieldBounds | undefined;
  for (const c of conds) {
    const b = boundsOf(c, allowNull);
    if (b && (!best || b.rank < best.rank)) best = b;
  }
  return best;
}

function toIndexRange(i: Interval, direction: 1 | -1): IndexRange {
  const lower = i.lower && { values: [i.lower.value], inclusive: i.lower.inclusive };
  const upper = i.upper && { values: [i.upper.value], inclusive: i.upper.inclusive };
  // Descending fields are stored reversed, so the key-order bounds swap.
  const [lo, hi] = direction === 1 ? [lower, upper] : [upper, lower];
  const r: IndexRange = {};
  if (lo) r.lower = lo;
  if (hi) r.upper = hi;
  return r;
}

/** Chooses an access path for `filter`. `sort` is accepted for future use (the caller sorts). */
export function planFind(filter: Document | undefined, sort: Document | undefined, indexes: IndexInfo[]): QueryPlan {
  void sort;
  if (!filter || !isPlainObject(filter)) return { kind: 'COLLSCAN' };
  let fields: Map<string, unknown[]>;
  try {
    fields = new Map();
    conjuncts(filter, fields);
  } catch {
    return { kind: 'COLLSCAN' };
  }
  const idConds = fields.get('_id');
  if (idConds) {
    const b = fieldBounds(idConds, false);
    if (b) {
      if (b.rank <= 1 && b.intervals.every((i) => i.lower && i.upper && i.lower.inclusive && compareBson(i.lower.value, i.upper.value) === 0)) {
        return { kind: 'IDPOINTS', ids: b.intervals.map((i) => i.lower!.value) };
      }
      if (b.intervals.length === 1) {
        const i = b.intervals[0]!;
        const range: IdRange = {};
        if (i.lower) range.lower = i.lower;
        if (i.upper) range.upper = i.upper;
        return { kind: 'IDSCAN', range };
      }
    }
  }
  let chosen: { index: IndexInfo; bounds: FieldBounds } | undefined;
  for (const index of indexes) {
    const first = Object.keys(index.key)[0];
    if (first === undefined || first === '_id' && index.name === '_id_') continue;
    const conds = fields.get(first);
    if (!conds) continue;
    const b = fieldBounds(conds, !index.sparse);
    if (b && (!chosen || b.rank < chosen.bounds.rank)) chosen = { index, bounds: b };
  }
  if (!chosen) return { kind: 'COLLSCAN' };
  const first = Object.keys(chosen.index.key)[0]!;
  const direction = (chosen.index.key[first] === -1 ? -1 : 1) as 1 | -1;
  const ranges = chosen.bounds.intervals.map((i) => toIndexRange(i, direction));
  if (direction === -1) ranges.reverse();
  return { kind: 'IXSCAN', index: chosen.index.name, range: ranges[0]!, ranges };
}

/** MinKey/MaxKey bounds, for callers that want a full-range interval. */
export const FULL_RANGE = { lower: { value: new MinKey(), inclusive: true }, upper: { value: new MaxKey(), inclusive: true } };
