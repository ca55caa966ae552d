import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Double, Int32, Long, ObjectId } from 'bson';
import { compileProjection } from '../src/query/projection.js';
import { compileSort } from '../src/query/sort.js';
import { planFind } from '../src/query/plan.js';
import { runPipeline } from '../src/query/aggregate.js';
import { ArgonError } from '../src/errors.js';
import type { IndexInfo } from '../src/storage/types.js';

type Doc = Record<string, unknown>;
const proj = (p: Doc, d: Doc, f?: Doc): Doc => compileProjection(p, f)(d);

test('projection: inclusion, exclusion, _id, dotted, mixing error', () => {
  const doc = { _id: 1, a: 1, b: { c: 2, d: 3 }, e: [{ f: 1, g: 2 }, { f: 3 }, 5] };
  assert.deepEqual(proj({ a: 1 }, doc), { _id: 1, a: 1 });
  assert.deepEqual(proj({ a: 1, _id: 0 }, doc), { a: 1 });
  assert.deepEqual(proj({ a: 0 }, doc), { _id: 1, b: { c: 2, d: 3 }, e: [{ f: 1, g: 2 }, { f: 3 }, 5] });
  assert.deepEqual(proj({ _id: 0 }, { _id: 1, a: 1 }), { a: 1 });
  assert.deepEqual(proj({ 'b.c': 1 }, doc), { _id: 1, b: { c: 2 } });
  assert.deepEqual(proj({ 'e.f': 1 }, doc), { _id: 1, e: [{ f: 1 }, { f: 3 }] });
  assert.deepEqual(proj({ 'b.c': 0, e: 0 }, doc), { _id: 1, a: 1, b: { d: 3 } });
  assert.deepEqual(proj({ 'e.g': 0 }, doc).e, [{ f: 1 }, { f: 3 }, 5]);
  assert.throws(() => compileProjection({ a: 1, b: 0 }), (e: unknown) => e instanceof ArgonError && e.code === 31254 && /Cannot do exclusion on field b in inclusion projection/.test(e.message));
  assert.throws(() => compileProjection({ a: 0, b: 1 }), /Cannot do inclusion on field b in exclusion projection/);
  assert.throws(() => compileProjection({ a: 1, 'a.b': 1 }), /Path collision/);
});

test('projection: $slice, $elemMatch, positional, expressions', () => {
  const doc = { _id: 1, a: [1, 2, 3, 4, 5], s: [{ x: 1 }, { x: 2, y: 1 }] };
  assert.deepEqual(proj({ a: { $slice: 2 } }, doc), { _id: 1, a: [1, 2], s: doc.s });
  assert.deepEqual(proj({ a: { $slice: -2 }, _id: 0, s: 0 }, doc), { a: [4, 5] });
  assert.deepEqual(proj({ a: { $slice: [1, 2] } }, doc).a, [2, 3]);
  assert.deepEqual(proj({ a: { $slice: [-2, 10] } }, doc).a, [4, 5]);
  assert.deepEqual(proj({ s: { $elemMatch: { x: 2 } } }, doc), { _id: 1, s: [{ x: 2, y: 1 }] });
  assert.deepEqual(proj({ s: { $elemMatch: { x: 9 } } }, doc), { _id: 1 });
  assert.deepEqual(proj({ 'a.$': 1 }, doc, { a: { $gt: 3 } }), { _id: 1, a: [4] });
  assert.deepEqual(proj({ 's.$': 1 }, doc, { 's.x': 2 }), { _id: 1, s: [{ x: 2, y: 1 }] });
  const p = proj({ total: { $sum: '$a' }, name: { $concat: ['x', 'y'] }, _id: 0 }, doc);
  assert.deepEqual(p, { total: 15, name: 'xy' });
  assert.deepEqual(proj({ t: '$s.x' }, doc), { _id: 1, t: [1, 2] });
});

test('sort: cross-type order, arrays, missing, wrappers', () => {
  const docs: Doc[] = [
    { _id: 1, a: 'x' },
    { _id: 2, a: new Int32(5) },
    { _id: 3, a: null },
    { _id: 4, a: true },
    { _id: 5, a: new Double(3.5) },
    { _id: 6 },
    { _id: 7, a: {} },
    { _id: 8, a: Long.fromNumber(4) },
    { _id: 9, a: new ObjectId('000000000000000000000000') },
    { _id: 10, a: new Date(0) },
  ];
  const ids = (s: Doc): unknown[] => docs.slice().sort(compileSort(s)).map((d) => d._id);
  assert.deepEqual(ids({ a: 1 }), [3, 6, 5, 8, 2, 1, 7, 9, 4, 10]);
  assert.deepEqual(ids({ a: -1 }), [10, 4, 9, 7, 1, 2, 8, 5, 3, 6]);
  const arr: Doc[] = [{ _id: 1, a: [5] }, { _id: 2, a: [1, 9] }, { _id: 3, a: [] }, { _id: 4, a: 3 }];
  assert.deepEqual(arr.slice().sort(compileSort({ a: 1 })).map((d) => d._id), [3, 2, 4, 1]);
  assert.deepEqual(arr.slice().sort(compileSort({ a: -1 })).map((d) => d._id), [2, 1, 4, 3]);
  const multi: Doc[] = [{ a: 1, b: 2 }, { a: 1, b: 1 }, { a: 0, b: 5 }];
  assert.deepEqual(multi.slice().sort(compileSort({ a: 1, b: -1 })), [{ a: 0, b: 5 }, { a: 1, b: 2 }, { a: 1, b: 1 }]);
  assert.throws(() => compileSort({ a: { $meta: 'textScore' } }), /textScore/);
  assert.throws(() => compileSort({ a: 2 }), /must be 1/);
});

test('planFind', () => {
  const ix = (name: string, key: Record<string, 1 | -1>, extra: Partial<IndexInfo> = {}): IndexInfo => ({ name, key, id: 1, ...extra });
  const indexes = [ix('a_1', { a: 1 }), ix('b_-1_c_1', { b: -1, c: 1 })];
  assert.deepEqual(planFind({ _id: 5 }, undefined, indexes), { kind: 'IDPOINTS', ids: [5] });
  assert.deepEqual(planFind({ _id: { $in: [1, 2] } }, undefined, indexes), { kind: 'IDPOINTS', ids: [1, 2] });
  const idr = planFind({ _id: { $gt: 5 } }, undefined, indexes);
  assert.equal(idr.kind, 'IDSCAN');
  assert.deepEqual(idr.kind === 'IDSCAN' && idr.range, { lower: { value: 5, inclusive: false }, upper: { value: Infinity, inclusive: true } });
  const eq = planFind({ a: 3, z: 1 }, undefined, indexes);
  assert.deepEqual(eq, { kind: 'IXSCAN', index: 'a_1', range: { lower: { values: [3], inclusive: true }, upper: { values: [3], inclusive: true } }, ranges: [{ lower: { values: [3], inclusive: true }, upper: { values: [3], inclusive: true } }] });
  const rng = planFind({ a: { $gte: 'b', $lt: 'd' } }, undefined, indexes);
  assert.equal(rng.kind, 'IXSCAN');
  if (rng.kind === 'IXSCAN') assert.deepEqual(rng.ranges, [{ lower: { values: ['b'], inclusive: true }, upper: { values: ['d'], inclusive: false } }]);
  const inn = planFind({ a: { $in: [3, 1] } }, undefined, indexes);
  if (inn.kind === 'IXSCAN') assert.equal(inn.ranges.length, 2);
  else assert.fail('expected IXSCAN');
  const desc = planFind({ b: { $gt: 5 } }, undefined, indexes);
  if (desc.kind === 'IXSCAN') {
    assert.equal(desc.index, 'b_-1_c_1');
    assert.deepEqual(desc.ranges[0], { lower: { values: [Infinity], inclusive: true }, upper: { values: [5], inclusive: false } });
  } else assert.fail('expected IXSCAN');
  assert.deepEqual(planFind({ a: /x/ }, undefined, indexes), { kind: 'COLLSCAN' });
  assert.deepEqual(planFind({ $or: [{ a: 1 }, { b: 2 }] }, undefined, indexes), { kind: 'COLLSCAN' });
  assert.deepEqual(planFind({ c: 1 }, undefined, indexes), { kind: 'COLLSCAN' });
  assert.deepEqual(planFind({ a: null }, undefined, [ix('a_1', { a: 1 }, { sparse: true })]), { kind: 'COLLSCAN' });
  assert.equal(planFind({ a: null }, undefined, indexes).kind, 'IXSCAN');
  assert.equal(planFind({ $and: [{ a: 1 }] }, undefined, indexes).kind, 'IXSCAN');
});

test('aggregate pipeline', () => {
  const orders: Doc[] = [
    { _id: 1, cust: 'a', amount: new Int32(10), items: ['x', 'y'] },
    { _id: 2, cust: 'b', amount: new Double(2.5), items: ['x'] },
    { _id: 3, cust: 'a', amount: Long.fromNumber(5), items: [] },
  ];
  const ctx = { collection: (name: string): Doc[] => (name === 'cust' ? [{ _id: 'a', name: 'Ann' }, { _id: 'b', name: 'Bob' }] : []), db: 'd' };
  const r = runPipeline(orders, [{ $match: { amount: { $gte: 5 } } }, { $group: { _id: '$cust', total: { $sum: '$amount' } } }], ctx);
  assert.deepEqual(r.docs, [{ _id: 'a', total: 15 }]);
  assert.deepEqual(runPipeline(orders, [{ $sort: { amount: -1 } }, { $limit: 2 }, { $project: { _id: 1 } }], ctx).docs, [{ _id: 1 }, { _id: 3 }]);
  assert.deepEqual(runPipeline(orders, [{ $unwind: '$items' }, { $count: 'n' }], ctx).docs, [{ n: 3 }]);
  assert.deepEqual(runPipeline(orders, [{ $skip: 1 }, { $count: 'n' }], ctx).docs, [{ n: 2 }]);
  const looked = runPipeline(orders, [{ $match: { _id: 2 } }, { $lookup: { from: 'cust', localField: 'cust', foreignField: '_id', as: 'c' } }], ctx).docs;
  assert.deepEqual(looked[0]!.c, [{ _id: 'b', name: 'Bob' }]);
  const kept = runPipeline(orders, [{ $addFields: { x: 1 } }], ctx).docs;
  assert.equal((kept[0]!.amount as { _bsontype?: string })._bsontype, 'Int32');
  assert.equal((kept[2]!.amount as { _bsontype?: string })._bsontype, 'Long');
  const out = runPipeline(orders, [{ $match: {} }, { $out: 'archive' }], ctx);
  assert.deepEqual(out.out, { db: 'd', coll: 'archive' });
  assert.equal(out.docs.length, 3);
  const merge = runPipeline(orders, [{ $merge: { into: { db: 'x', coll: 'y' }, whenMatched: 'replace' } }], ctx);
  assert.deepEqual(merge.merge, { db: 'x', coll: 'y', on: ['_id'], whenMatched: 'replace', whenNotMatched: 'insert' });
  assert.throws(() => runPipeline(orders, [{ $out: 'a' }, { $match: {} }], ctx), /final stage/);
  assert.throws(() => runPipeline(orders, [{ $foo: 1 }], ctx), /Unrecognized pipeline stage name: '\$foo'/);
  const facets = runPipeline(orders, [{ $facet: { n: [{ $count: 'n' }], c: [{ $sortByCount: '$cust' }] } }], ctx).docs;
  assert.deepEqual(facets, [{ n: [{ n: 3 }], c: [{ _id: 'a', count: 2 }, { _id: 'b', count: 1 }] }]);
  const ds = runPipeline([{ d: new Date(0) }], [{ $project: { _id: 0, s: { $dateToString: { date: '$d', format: '%Y-%m-%d' } } } }], ctx).docs;
  assert.deepEqual(ds, [{ s: '1970-01-01' }]);
  const b = runPipeline([{ v: 1 }, { v: 5 }, { v: 12 }], [{ $bucket: { groupBy: '$v', boundaries: [0, 10, 20], default: 'o' } }], ctx).docs;
  assert.deepEqual(b, [{ _id: 0, count: 2 }, { _id: 10, count: 1 }]);
});
