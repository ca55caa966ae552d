/**
 * Aggregation expressions, evaluated by mingo on a normalized copy of the
 * document: mingo only understands JS numbers, so Int32/Double/Long/Decimal128
 * wrappers are turned into numbers first (Long/Decimal128 beyond 2^53 round).
 * Values that come back unchanged from the input keep their original BSON type
 * through `restoreTypes`.
 */
import { Aggregator, Query } from 'mingo';
import type { Options } from 'mingo/types';
import { ArgonError } from '../errors.js';
import { compareBson, isNumeric, isPlainObject, numKind, toNumber, type Document } from './values.js';

export interface ExprContext {
  now?: Date;
  variables?: Document;
  collection?: (name: string) => Iterable<Document>;
}

/** Deep copy with numeric wrappers replaced by JS numbers. */
export function normalize(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? Number(v) : v;
  if (isNumeric(v)) return toNumber(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (isPlainObject(v)) {
    const out: Document = {};
    for (const k of Object.keys(v)) out[k] = normalize(v[k]);
    return out;
  }
  return v;
}

/**
 * Puts the original (typed) values back wherever the output still holds the
 * same value at the same place as the input, so untouched fields keep Int32 vs
 * Double vs Long. Computed numbers stay JS numbers.
 */
export function restoreTypes(out: unknown, original: unknown): unknown {
  if (isNumeric(original) && typeof out === 'number') {
    return compareBson(out, original) === 0 ? original : out;
  }
  if (Array.isArray(out) && Array.isArray(original)) {
    return out.map((e, i) => (i < original.length ? restoreTypes(e, original[i]) : e));
  }
  if (isPlainObject(out) && isPlainObject(original)) {
    const res: Document = {};
    for (const k of Object.keys(out)) res[k] = k in original ? restoreTypes(out[k], original[k]) : out[k];
    return res;
  }
  return out;
}

export function mingoOptions(ctx: ExprContext = {}): Partial<Options> {
  const opts: Record<string, unknown> = { idKey: '_id', useStrictMode: true };
  if (ctx.variables) opts.variables = normalize(ctx.variables);
  if (ctx.collection) {
    const resolve = ctx.collection;
    opts.collectionResolver = (name: string) => Array.from(resolve(name), (d) => normalize(d) as Document);
  }
  return opts as Partial<Options>;
}

function wrapError(e: unknown): never {
  if (e instanceof ArgonError) throw e;
  throw new ArgonError('BadValue', e instanceof Error ? e.message : String(e));
}

/** Compiles an expression; the returned function evaluates it against a document. */
export function compileExpression(expr: unknown, ctx: ExprContext = {}): (doc: Document) => unknown {
  let agg: Aggregator;
  try {
    agg = new Aggregator([{ $replaceWith: { v: expr } }], mingoOptions(ctx));
  } catch (e) {
    wrapError(e);
  }
  return (doc) => {
    try {
      const [res] = agg.run([normalize(doc) as Document]) as Document[];
      return res?.v;
    } catch (e) {
      wrapError(e);
    }
  };
}

/** `$expr` in a query: the expression's truthiness. */
export function compileExprPredicate(expr: unknown, ctx: ExprContext = {}): (doc: Document) => boolean {
  let q: Query;
  try {
    q = new Query({ $expr: expr } as never, mingoOptions(ctx));
  } catch (e) {
    wrapError(e);
  }
  return (doc) => {
    try {
      return q.test(normalize(doc) as Document);
    } catch (e) {
      wrapError(e);
    }
  };
}

/** A JS number result in the BSON type MongoDB would produce for it (used by callers that care). */
export function numberKindOf(v: unknown): string | undefined {
  return numKind(v);
}
