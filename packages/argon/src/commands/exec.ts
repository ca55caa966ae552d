import type { Document } from 'bson';
import { compileFilter } from '../query/filter.js';
import { planFind, type QueryPlan } from '../query/plan.js';
import { compileSort } from '../query/sort.js';
import type { IndexInfo, IndexRange } from '../storage/types.js';
import { ArgonError } from '../errors.js';
import type { CommandContext } from './context.js';
import { decodeFaithful } from './documents.js';
import { plainNumbers, toNumber } from './values.js';

/** A matching document: its stored bytes (sent back as they are) and its decoded form. */
export interface Match {
  raw: Buffer;
  doc: Document;
}

export interface MatchOptions {
  sort?: Document;
  /** An index name, a key pattern, or `{$natural: 1}`: read through that index (or a collection scan). */
  hint?: string | Document;
  /** find's min/max on the hinted index. */
  bounds?: IndexBounds;
  /** Stop after this many matches (applied before sort only when there is no sort). */
  limit?: number;
}

/** Chooses how to read a collection for a filter; `explain` reports the same choice. */
export function plan(ctx: CommandContext, coll: string, filter: Document, sort?: Document, hint?: string | Document, bounds?: IndexBounds): QueryPlan {
  const info = ctx.store.collection(ctx.point, ctx.db, coll);
  const indexes = (info?.indexes ?? []).filter((ix) => ix.name !== '_id_');
  if (bounds && hint === undefined) {
    throw new ArgonError('Location51173', 'When using min()/max() a hint of which index to use must be provided');
  }
  if (hint === undefined) {
    // A partial index holds only some documents: it is used when hinted, never chosen on its own.
    const full = indexes.filter((ix) => !ix.partialFilterExpression && !ix.sparse);
    const chosen = planFind(filter, sort, indexes.filter((ix) => !ix.partialFilterExpression));
    return chosen.kind === 'COLLSCAN' ? (sortIndexScan(sort, full) ?? chosen) : chosen;
  }
  if (typeof hint === 'object' && hint !== null && '$natural' in hint) return { kind: 'COLLSCAN' };
  const wanted = typeof hint === 'string' ? hint : JSON.stringify(Object.fromEntries(Object.entries(hint).map(([f, d]) => [f, (toNumber(d) ?? 1) < 0 ? -1 : 1])));
  const matches = (ix: { name: string; key: Record<string, number> }) => (typeof hint === 'string' ? ix.name === wanted : JSON.stringify(ix.key) === wanted);
  const index = indexes.find(matches);
  if (bounds) {
    if (!index) throw new ArgonError('BadValue', 'hint provided does not correspond to an existing index');
    return { kind: 'IXSCAN', index: index.name, range: boundsRange(index, bounds), ranges: [boundsRange(index, bounds)] };
  }
  if (info && [{ name: '_id_', key: { _id: 1 } }].some(matches)) return { kind: 'IDSCAN', range: {} };
  if (!index) {
    if (!info) return { kind: 'COLLSCAN' };
    throw new ArgonError('BadValue', 'error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index');
  }
  // The hinted index is read whole when the planner would bound another one: the filter is re-applied anyway.
  const chosen = planFind(filter, sort, [index]);
  return chosen.kind === 'IXSCAN' ? chosen : { kind: 'IXSCAN', index: index.name, range: {}, ranges: [{}] };
}

/** `min`/`max` of find: inclusive lower and exclusive upper key bounds on the hinted index. */
export interface IndexBounds {
  min?: Document;
  max?: Document;
}

function boundsRange(index: IndexInfo, bounds: IndexBounds): IndexRange {
  const fields = Object.keys(index.key);
  const values = (doc: Document, which: string) => {
    const keys = Object.keys(doc);
    if (keys.length !== fields.length || keys.some((k, i) => k !== fields[i])) {
      throw new ArgonError('Location51174', `The index key pattern of ${which}() must match the hinted index ${JSON.stringify(index.key)}`);
    }
    return fields.map((f) => doc[f]);
  };
  const range: IndexRange = {};
  if (bounds.min) range.lower = { values: values(bounds.min, 'min'), inclusive: true };
  if (bounds.max) range.upper = { values: values(bounds.max, 'max'), inclusive: false };
  return range;
}

/**
 * With nothing to bound, an index whose leading field is the sort's leading field still reads
 * the documents in (nearly) the right order; the in-memory sort then has little to do.
 */
function sortIndexScan(sort: Document | undefined, indexes: IndexInfo[]): QueryPlan | null {
  const first = sort && Object.keys(sort)[0];
  if (!first) return null;
  const index = indexes.find((ix) => Object.keys(ix.key)[0] === first);
  return index ? { kind: 'IXSCAN', index: index.name, range: {}, ranges: [{}] } : null;
}

/** The documents of `coll` matching `filter`, in sort order when `sort` is given. */
export function findMatches(ctx: CommandContext, coll: string, filter: Document, options: MatchOptions = {}): Match[] {
  const predicate = compileFilter(plainNumbers(filter));
  const out: Match[] = [];
  const limit = options.sort ? Infinity : (options.limit ?? Infinity);
  for (const raw of candidates(ctx, coll, filter, options)) {
    const doc = decodeFaithful(raw);
    if (!predicate(doc)) continue;
    out.push({ raw, doc });
    if (out.length >= limit) break;
  }
  if (options.sort && Object.keys(options.sort).length > 0) {
    const cmp = compileSort(options.sort);
    out.sort((a, b) => cmp(a.doc, b.doc));
    if (options.limit !== undefined && out.length > options.limit) out.length = options.limit;
  }
  return out;
}

/** Raw documents that may match: a superset chosen by the planner; the filter is always re-applied. */
function* candidates(ctx: CommandContext, coll: string, filter: Document, options: MatchOptions): Generator<Buffer> {
  const { store, point, db } = ctx;
  const p = plan(ctx, coll, filter, options.sort, options.hint, options.bounds);
  if (p.kind === 'IDSCAN') {
    yield* store.scanRaw(point, db, coll, p.range);
    return;
  }
  if (p.kind === 'IDPOINTS') {
    for (const id of p.ids) {
      const raw = store.getRaw(point, db, coll, id);
      if (raw) yield raw;
    }
    return;
  }
  if (p.kind === 'IXSCAN') {
    const ranges: IndexRange[] = p.ranges;
    if (ranges.length === 1) {
      yield* store.indexScanRaw(point, db, coll, p.index, ranges[0]);
      return;
    }
    // Several point ranges ($in): a multikey document may sit in more than one.
    const seen = new Set<string>();
    for (const range of ranges) {
      for (const raw of store.indexScanRaw(point, db, coll, p.index, range)) {
        const key = raw.toString('latin1');
        if (seen.has(key)) continue;
        seen.add(key);
        yield raw;
      }
    }
    return;
  }
  yield* store.scanRaw(point, db, coll);
}
