/**
 * Aggregation pipelines. $match, $sort, $skip, $limit, $count and $sample run
 * here on the original (typed) documents; every other stage runs in mingo on a
 * normalized copy (numbers as JS numbers). Output of 1:1 stages ($project,
 * $addFields, ...) gets the input's BSON number types back where values were
 * passed through unchanged. $out/$merge are returned to the caller.
 */
import { Double } from 'bson';
import { Aggregator } from 'mingo';
import { ArgonError } from '../errors.js';
import { mingoOptions, normalize, restoreTypes, type ExprContext } from './expr.js';
import { compileFilter } from './filter.js';
import { compileSort } from './sort.js';
import { badValue, isNumeric, isPlainObject, toNumber, type Document } from './values.js';

export interface PipelineContext {
  collection: (name: string) => Iterable<Document>;
  now?: Date;
  /** Database of the pipeline's collection (default target of $out/$merge). */
  db?: string;
  variables?: Document;
}

export interface MergeSpec {
  db: string;
  coll: string;
  on: string[];
  whenMatched: string | Document[];
  whenNotMatched: string;
  let?: Document;
}

export interface PipelineResult {
  docs: Document[];
  /** `$out`: replace this collection with `docs`. */
  out?: { db: string; coll: string };
  /** `$merge`: merge `docs` into this collection. */
  merge?: MergeSpec;
}

const MINGO_STAGES = new Set([
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$group',
  '$unwind',
  '$lookup',
  '$graphLookup',
  '$facet',
  '$replaceRoot',
  '$replaceWith',
  '$bucket',
  '$bucketAuto',
  '$sortByCount',
  '$unionWith',
  '$densify',
  '$fill',
  '$setWindowFields',
  '$redact',
  '$documents',
]);

/** Stages that map each input document to exactly one output, in order. */
const ONE_TO_ONE = new Set(['$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$lookup', '$graphLookup']);

function stageName(stage: unknown): string {
  if (!isPlainObject(stage)) throw badValue('Each element of the pipeline array must be an object');
  const keys = Object.keys(stage);
  if (keys.length !== 1) throw badValue('A pipeline stage specification object must contain exactly one field.');
  return keys[0]!;
}

function positiveInt(v: unknown, stage: string, allowZero: boolean): number {
  const n = isNumeric(v) ? toNumber(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || (!allowZero && n === 0)) {
    throw badValue(`invalid argument to ${stage} stage: Expected a${allowZero ? ' non-negative' : ' positive'} integer`);
  }
  return n;
}

/**
 * MongoDB 5's concise `$lookup` (localField/foreignField together with a pipeline) as the
 * let/pipeline form mingo understands: the equality join becomes a leading `$match`. An array
 * localField matches any of its elements, as in the plain form.
 */
function rewriteConciseLookup(stage: Document): Document {
  const spec = stage.$lookup as Document | undefined;
  if (!isPlainObject(spec) || spec.localField === undefined || spec.foreignField === undefined || !Array.isArray(spec.pipeline)) return stage;
  const { localField, foreignField, pipeline, let: lets, ...rest } = spec;
  const local = '__argonLocal';
  const join = {
    $match: {
      $expr: { $in: [`$${String(foreignField)}`, { $cond: [{ $isArray: `$$${local}` }, `$$${local}`, [`$$${local}`]] }] },
    },
  };
  return { $lookup: { ...rest, let: { ...(lets as Document | undefined), [local]: `$${String(localField)}` }, pipeline: [join, ...(pipeline as Document[])] } };
}

/** Marks documents that fell outside every bucket of a `$bucket` without `default`. */
const NO_BUCKET = '$__argonNoBucket';

/**
 * `$bucket` as the manual defines it, a `$group` on the bucket's lower boundary then a `$sort`
 * (mingo 7 puts boundary values in the wrong bucket and emits empty ones).
 */
function rewriteBucket(stage: Document): Document[] {
  const spec = stage.$bucket as Document | undefined;
  if (!isPlainObject(spec)) return [stage];
  const { groupBy, boundaries, output } = spec;
  if (!Array.isArray(boundaries) || boundaries.length < 2) throw badValue("$bucket requires 'boundaries' to be an array of at least two values");
  const branches = boundaries.slice(0, -1).map((lower, i) => ({
    case: { $and: [{ $gte: [groupBy, lower] }, { $lt: [groupBy, boundaries[i + 1]] }] },
    then: lower,
  }));
  const otherwise = 'default' in spec ? spec.default : { $literal: NO_BUCKET };
  const accumulators = isPlainObject(output) ? output : { count: { $sum: 1 } };
  return [
    { $group: { _id: { $switch: { branches, default: otherwise } }, ...accumulators } },
    { $sort: { _id: 1 } },
  ];
}

/** Accumulators whose result MongoDB always types as a double. */
const DOUBLE_ACCUMULATORS = new Set(['$avg', '$stdDevPop', '$stdDevSamp']);

/**
 * mingo computes in JS numbers, which serialize as int32 when whole: `$avg` of 2 and 10 would
 * come back as int32 6 where mongod gives the double 6.0.
 */
function withDoubleAverages(docs: Document[], spec: Document): Document[] {
  const fields = Object.entries(spec).filter(([field, acc]) => field !== '_id' && isPlainObject(acc) && Object.keys(acc).some((op) => DOUBLE_ACCUMULATORS.has(op)));
  if (fields.length === 0) return docs;
  for (const doc of docs) {
    for (const [field] of fields) if (typeof doc[field] === 'number') doc[field] = new Double(doc[field] as number);
  }
  return docs;
}

export function runPipeline(input: Iterable<Document>, pipeline: Document[], ctx: PipelineContext): PipelineResult {
  if (!Array.isArray(pipeline)) throw badValue("'pipeline' option must be specified as an array");
  pipeline = pipeline.map(rewriteConciseLookup).flatMap(rewriteBucket);
  const names = pipeline.map(stageName);
  const result: PipelineResult = { docs: [] };
  let stages = pipeline;
  const lastName = names[names.length - 1];
  names.forEach((n, i) => {
    if ((n === '$out' || n === '$merge') && i !== names.length - 1) throw new ArgonError('Location40601', `${n} can only be the final stage in the pipeline`);
    if (n === '$group' && (typeof pipeline[i]!.$group !== 'object' || pipeline[i]!.$group === null || !('_id' in pipeline[i]!.$group))) {
      throw new ArgonError('Location15955', 'a group specification must include an _id');
    }
  });
  if (lastName === '$out') {
    result.out = parseOut(pipeline[pipeline.length - 1]!.$out, ctx);
    stages = pipeline.slice(0, -1);
  } else if (lastName === '$merge') {
    result.merge = parseMerge(pipeline[pipeline.length - 1]!.$merge, ctx);
    stages = pipeline.slice(0, -1);
  }
  const exprCtx: ExprContext = { collection: ctx.collection, variables: ctx.variables, now: ctx.now };
  let docs: Document[] = Array.from(input);
  let i = 0;
  while (i < stages.length) {
    const stage = stages[i]!;
    const name = stageName(stage);
    if (name === '$group') {
      docs = withDoubleAverages(runMingo(docs, [stage], exprCtx), stage.$group as Document);
      i++;
      continue;
    }
    if (MINGO_STAGES.has(name)) {
      let j = i;
      while (j < stages.length && MINGO_STAGES.has(stageName(stages[j]!)) && stageName(stages[j]!) !== '$group') j++;
      docs = runMingo(docs, stages.slice(i, j), exprCtx);
      i = j;
      continue;
    }
    const arg = stage[name];
    switch (name) {
      case '$match': {
        if (!isPlainObject(arg)) throw badValue('the match filter must be an expression in an object');
        const p = compileFilter(arg, exprCtx);
        docs = docs.filter(p);
        break;
      }
      case '$sort': {
        if (!isPlainObject(arg) || Object.keys(arg).length === 0) throw badValue('$sort key specification must be an object');
        const cmp = compileSort(arg);
        docs = docs
          .map((d, k) => ({ d, k }))
          .sort((a, b) => cmp(a.d, b.d) || a.k - b.k)
          .map((x) => x.d);
        break;
      }
      case '$limit':
        docs = docs.slice(0, positiveInt(arg, '$limit', false));
        break;
      case '$skip':
        docs = docs.slice(positiveInt(arg, '$skip', true));
        break;
      case '$count': {
        if (typeof arg !== 'string' || arg === '' || arg.startsWith('$') || arg.includes('.')) {
          throw badValue('the count field must be a non-empty string that does not start with $ or contain a .');
        }
        docs = docs.length === 0 ? [] : [{ [arg]: docs.length }];
        break;
      }
      case '$sample': {
        if (!isPlainObject(arg)) throw badValue('the $sample stage specification must be an object');
        const size = positiveInt(arg.size, '$sample', true);
        const copy = docs.slice();
        for (let k = copy.length - 1; k > 0; k--) {
          const r = Math.floor(Math.random() * (k + 1));
          [copy[k], copy[r]] = [copy[r]!, copy[k]!];
        }
        docs = copy.slice(0, size);
        break;
      }
      case '$out':
      case '$merge':
        throw badValue(`${name} can only be the final stage in the pipeline`);
      default:
        throw new ArgonError('Location40324', `Unrecognized pipeline stage name: '${name}'`);
    }
    i++;
  }
  if (docs.some((d) => d._id === NO_BUCKET)) {
    throw new ArgonError('Location40066', '$switch could not find a matching branch for an input, and no default was specified.');
  }
  result.docs = docs;
  return result;
}

function runMingo(docs: Document[], stages: Document[], ctx: ExprContext): Document[] {
  let out: Document[];
  try {
    const agg = new Aggregator(stages, mingoOptions(ctx));
    out = agg.run(docs.map((d) => normalize(d) as Document)) as Document[];
  } catch (e) {
    if (e instanceof ArgonError) throw e;
    throw badValue(e instanceof Error ? e.message : String(e));
  }
  if (stages.every((s) => ONE_TO_ONE.has(stageName(s))) && out.length === docs.length) {
    return out.map((d, k) => restoreTypes(d, docs[k]) as Document);
  }
  return out;
}

function parseOut(arg: unknown, ctx: PipelineContext): { db: string; coll: string } {
  if (typeof arg === 'string') {
    if (arg === '') throw badValue('$out collection name must not be empty');
    return { db: ctx.db ?? '', coll: arg };
  }
  if (isPlainObject(arg) && typeof arg.coll === 'string') {
    return { db: typeof arg.db === 'string' ? arg.db : (ctx.db ?? ''), coll: arg.coll };
  }
  throw badValue("$out supports only a string or an object with 'db' and 'coll' fields");
}

function parseMerge(arg: unknown, ctx: PipelineContext): MergeSpec {
  let db = ctx.db ?? '';
  let coll: string;
  let spec: Document = {};
  if (typeof arg === 'string') coll = arg;
  else if (isPlainObject(arg)) {
    spec = arg;
    const into = arg.into;
    if (typeof into === 'string') coll = into;
    else if (isPlainObject(into) && typeof into.coll === 'string') {
      coll = into.coll;
      if (typeof into.db === 'string') db = into.db;
    } else throw badValue("$merge 'into' must be a string or an object with 'db' and 'coll'");
  } else throw badValue('$merge requires a string or an object');
  const on = spec.on === undefined ? ['_id'] : typeof spec.on === 'string' ? [spec.on] : spec.on;
  if (!Array.isArray(on) || on.some((f) => typeof f !== 'string')) throw badValue("$merge 'on' must be a string or an array of strings");
  const whenMatched = (spec.whenMatched ?? 'merge') as string | Document[];
  if (typeof whenMatched === 'string' && !['replace', 'keepExisting', 'merge', 'fail'].includes(whenMatched)) {
    throw badValue(`Enumeration value '${whenMatched}' for field 'whenMatched' is not a valid value.`);
  }
  const whenNotMatched = (spec.whenNotMatched ?? 'insert') as string;
  if (!['insert', 'discard', 'fail'].includes(whenNotMatched)) {
    throw badValue(`Enumeration value '${whenNotMatched}' for field 'whenNotMatched' is not a valid value.`);
  }
  const merge: MergeSpec = { db, coll: coll!, on: on as string[], whenMatched, whenNotMatched };
  if (isPlainObject(spec.let)) merge.let = spec.let;
  return merge;
}
