/**
 * MongoDB 7.0 compatibility through the official driver: queries, projections, cursors, updates,
 * findAndModify, bulk writes, counts, distinct, indexes, explain and error codes. Every expected
 * value is what mongod 7.0 returns; where Argon differs, the test lives under `known gaps` (todo).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Double, Int32, MongoBulkWriteError, MongoServerError, ObjectId, Timestamp, type Collection, type Document } from 'mongodb';
import { startServer } from './server-helpers.js';

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
  await seedPeople();
});
after(async () => {
  await env.stop();
});

const coll = (name: string): Collection<any> => env.client.db('compat').collection<any>(name);
const ids = (docs: Document[]): unknown[] => docs.map((d) => d._id);

/** Asserts that `p` fails with a server error of this code (and code name when given). */
async function rejectsCode(p: Promise<unknown>, code: number, codeName?: string, check?: (err: MongoServerError) => void): Promise<void> {
  await assert.rejects(p, (err: MongoServerError) => {
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    if (codeName !== undefined) assert.equal(err.codeName, codeName);
    check?.(err);
    return true;
  });
}

const PEOPLE = [
  { _id: 1, name: 'Alice', age: 30, tags: ['a', 'b'], address: { city: 'Paris', zip: '75001' }, scores: [{ s: 'math', v: 90 }, { s: 'art', v: 70 }], grades: [80, 85, 90] },
  { _id: 2, name: 'bob', age: 25, tags: ['b', 'c'], address: { city: 'Berlin' }, scores: [{ s: 'math', v: 60 }, { s: 'art', v: 95 }], grades: [70, 88] },
  { _id: 3, name: 'Carol', age: null, tags: [], scores: [], grades: [] },
  { _id: 4, name: 'dave', tags: 'a', address: { city: 'Paris' }, nested: [{ items: [{ k: 1 }, { k: 2 }] }, { items: [{ k: 3 }] }] },
  { _id: 5, name: 'Eve', age: 41.5, tags: ['a', 'b', 'c'], lim: 10, spent: 12 },
];

async function seedPeople(): Promise<void> {
  await coll('people').insertMany(PEOPLE.map((d) => ({ ...d })));
}

async function findIds(filter: Document): Promise<unknown[]> {
  return ids(await coll('people').find(filter).sort({ _id: 1 }).toArray());
}

async function reset(name: string, docs: Document[]): Promise<Collection<any>> {
  const c = coll(name);
  await c.deleteMany({});
  if (docs.length > 0) await c.insertMany(docs.map((d) => ({ ...d })));
  return c;
}

// ---------------------------------------------------------------------------------------------
// find: filter operators
// ---------------------------------------------------------------------------------------------

describe('find: filter operators', () => {
  test('comparison, $in/$nin with null and regex, $ne, $not, logical operators', async () => {
    assert.deepEqual(await findIds({ age: { $gt: 26 } }), [1, 5]);
    assert.deepEqual(await findIds({ age: { $gte: 25, $lt: 31 } }), [1, 2]);
    assert.deepEqual(await findIds({ age: null }), [3, 4], 'null matches null and missing');
    assert.deepEqual(await findIds({ age: { $ne: null } }), [1, 2, 5]);
    assert.deepEqual(await findIds({ age: { $in: [25, null] } }), [2, 3, 4]);
    assert.deepEqual(await findIds({ age: { $nin: [25, 30] } }), [3, 4, 5]);
    assert.deepEqual(await findIds({ name: { $in: [/^b/, 'Eve'] } }), [2, 5]);
    assert.deepEqual(await findIds({ name: { $not: /^[A-Z]/ } }), [2, 4]);
    assert.deepEqual(await findIds({ $or: [{ age: 25 }, { name: 'Eve' }] }), [2, 5]);
    assert.deepEqual(await findIds({ $nor: [{ tags: 'a' }, { tags: 'c' }] }), [3]);
    assert.deepEqual(await findIds({ $and: [{ tags: 'a' }, { tags: 'b' }] }), [1, 5]);
    assert.deepEqual(await findIds({ age: { $mod: [5, 0] } }), [1, 2]);
  });

  test('$regex with $options, regex literals', async () => {
    assert.deepEqual(await findIds({ name: { $regex: '^[a-d]', $options: 'i' } }), [1, 2, 3, 4]);
    assert.deepEqual(await findIds({ name: { $regex: /^[a-d]/ } }), [2, 4]);
    assert.deepEqual(await findIds({ name: /e$/ }), [1, 4, 5]);
    assert.deepEqual(await findIds({ 'address.zip': { $regex: '^75' } }), [1]);
  });

  test('arrays: $elemMatch, $all, $size, element equality, whole-array equality', async () => {
    assert.deepEqual(await findIds({ scores: { $elemMatch: { s: 'math', v: { $gte: 80 } } } }), [1]);
    assert.deepEqual(await findIds({ 'scores.s': 'math', 'scores.v': { $gte: 90 } }), [1, 2], 'without $elemMatch, conditions may match different elements');
    assert.deepEqual(await findIds({ grades: { $elemMatch: { $gte: 86, $lt: 89 } } }), [2]);
    assert.deepEqual(await findIds({ grades: { $gte: 86, $lt: 89 } }), [1, 2], 'range without $elemMatch: any element per bound');
    assert.deepEqual(await findIds({ tags: { $all: ['a', 'b'] } }), [1, 5]);
    assert.deepEqual(await findIds({ tags: { $all: ['a'] } }), [1, 4, 5]);
    assert.deepEqual(await findIds({ grades: { $size: 2 } }), [2]);
    assert.deepEqual(await findIds({ tags: ['b', 'c'] }), [2]);
    assert.deepEqual(await findIds({ tags: [] }), [3]);
  });

  test('$exists and $type (names, numbers, "number", "array")', async () => {
    assert.deepEqual(await findIds({ age: { $exists: false } }), [4]);
    assert.deepEqual(await findIds({ age: { $exists: true } }), [1, 2, 3, 5]);
    assert.deepEqual(await findIds({ age: { $type: 'double' } }), [5]);
    assert.deepEqual(await findIds({ age: { $type: 'int' } }), [1, 2]);
    assert.deepEqual(await findIds({ age: { $type: 'number' } }), [1, 2, 5]);
    assert.deepEqual(await findIds({ age: { $type: 10 } }), [3]);
    assert.deepEqual(await findIds({ age: { $type: ['null', 'double'] } }), [3, 5]);
    assert.deepEqual(await findIds({ tags: { $type: 'array' } }), [1, 2, 3, 5]);
    assert.deepEqual(await findIds({ tags: { $type: 'string' } }), [1, 2, 4, 5]);
  });

  test('$expr and $jsonSchema', async () => {
    assert.deepEqual(await findIds({ $expr: { $gt: ['$spent', '$lim'] } }), [5]);
    assert.deepEqual(await findIds({ $jsonSchema: { required: ['age'], properties: { age: { bsonType: 'int' } } } }), [1, 2]);
    assert.deepEqual(await findIds({ $jsonSchema: { properties: { tags: { bsonType: 'array', minItems: 3 } } } }), [5]);
  });

  test('dotted paths through embedded documents and arrays', async () => {
    assert.deepEqual(await findIds({ 'address.city': 'Paris' }), [1, 4]);
    assert.deepEqual(await findIds({ 'scores.v': 95 }), [2]);
    assert.deepEqual(await findIds({ 'grades.1': 88 }), [2]);
    assert.deepEqual(await findIds({ 'scores.0.s': 'math' }), [1, 2]);
    assert.deepEqual(await findIds({ 'nested.items.k': 3 }), [4]);
    assert.deepEqual(await findIds({ 'address.zip': { $exists: false } }), [2, 3, 4, 5]);
  });

  test('$comment in a filter and comment option are accepted', async () => {
    assert.deepEqual(await findIds({ _id: 1, $comment: 'why' }), [1]);
    assert.deepEqual(ids(await coll('people').find({ _id: 2 }, { comment: 'tagged' }).toArray()), [2]);
  });
});

// ---------------------------------------------------------------------------------------------
// find: projection, sort, skip, limit, batchSize
// ---------------------------------------------------------------------------------------------

describe('find: projection', () => {
  test('inclusion, exclusion, dotted and through arrays', async () => {
    const p = coll('people');
    assert.deepEqual(await p.findOne({ _id: 1 }, { projection: { name: 1 } }), { _id: 1, name: 'Alice' });
    assert.deepEqual(await p.findOne({ _id: 1 }, { projection: { 'address.city': 1, _id: 0 } }), { address: { city: 'Paris' } });
    assert.deepEqual(await p.findOne({ _id: 1 }, { projection: { 'scores.v': 1, _id: 0 } }), { scores: [{ v: 90 }, { v: 70 }] });
    assert.deepEqual(await p.findOne({ _id: 1 }, { projection: { scores: 0, grades: 0, tags: 0, address: 0 } }), { _id: 1, name: 'Alice', age: 30 });
    assert.deepEqual(await p.findOne({ _id: 1 }, { projection: { 'address.zip': 0, scores: 0, grades: 0, tags: 0 } }), { _id: 1, name: 'Alice', age: 30, address: { city: 'Paris' } });
    assert.deepEqual(await p.findOne({ _id: 2 }, { projection: { _id: 0, upper: { $toUpper: '$name' }, n: { $size: '$grades' } } }), { upper: 'BOB', n: 2 });
  });

  test('positional $, $slice and $elemMatch', async () => {
    const p = coll('people');
    const pos = await p.find({ _id: { $in: [1, 2] }, grades: { $gte: 85 } }, { projection: { 'grades.$': 1 } }).sort({ _id: 1 }).toArray();
    assert.deepEqual(pos, [{ _id: 1, grades: [85] }, { _id: 2, grades: [88] }]);
    const posDoc = await p.findOne({ 'scores.s': 'art' , _id: 2 }, { projection: { 'scores.$': 1, _id: 0 } });
    assert.deepEqual(posDoc, { scores: [{ s: 'art', v: 95 }] });
    assert.deepEqual(await p.findOne({ _id: 1 }, { projection: { grades: { $slice: -1 }, name: 1 } }), { _id: 1, name: 'Alice', grades: [90] });
    const sliced = await p.findOne({ _id: 1 }, { projection: { grades: { $slice: [1, 1] } } });
    assert.deepEqual(sliced, { ...PEOPLE[0], grades: [85] }, '$slice alone keeps every other field');
    const em = await p.find({ _id: { $in: [1, 2, 3] } }, { projection: { scores: { $elemMatch: { v: { $gt: 80 } } } } }).sort({ _id: 1 }).toArray();
    assert.deepEqual(em, [{ _id: 1, scores: [{ s: 'math', v: 90 }] }, { _id: 2, scores: [{ s: 'art', v: 95 }] }, { _id: 3 }]);
  });

  test('mixing inclusion and exclusion is error 31254', async () => {
    await rejectsCode(coll('people').findOne({}, { projection: { name: 1, age: 0 } }), 31254);
  });
});

describe('find: sort, skip, limit, batchSize, hint', () => {
  test('sort orders null/missing first, arrays by min (asc) / max (desc), empty array lowest', async () => {
    const p = coll('people');
    assert.deepEqual(ids(await p.find({}).sort({ age: 1, _id: 1 }).toArray()), [3, 4, 2, 1, 5]);
    assert.deepEqual(ids(await p.find({}).sort({ age: -1, _id: 1 }).toArray()), [5, 1, 2, 3, 4]);
    assert.deepEqual(ids(await p.find({}).sort({ grades: 1, _id: 1 }).toArray()), [3, 4, 5, 2, 1]);
    assert.deepEqual(ids(await p.find({}).sort({ grades: -1, _id: 1 }).toArray()), [1, 2, 4, 5, 3]);
    assert.deepEqual(ids(await p.find({}).sort({ 'address.city': 1, _id: -1 }).toArray()), [5, 3, 2, 4, 1]);
    assert.deepEqual(ids(await p.find({}).sort({ name: 1 }).toArray()), [1, 3, 5, 2, 4], 'binary string order: upper case first');
  });

  test('skip, limit, negative limit, batchSize and getMore', async () => {
    const p = coll('people');
    assert.deepEqual(ids(await p.find({}).sort({ _id: 1 }).skip(1).limit(2).toArray()), [2, 3]);
    assert.deepEqual(ids(await p.find({}).sort({ _id: -1 }).skip(4).limit(10).toArray()), [1]);
    assert.deepEqual(ids(await p.find({}).sort({ _id: 1 }).skip(10).toArray()), []);
    const db = env.client.db('compat');
    const first = await db.command({ find: 'people', filter: {}, sort: { _id: 1 }, batchSize: 2 }, { promoteLongs: false });
    assert.deepEqual(ids(first.cursor.firstBatch), [1, 2]);
    assert.notEqual(Number(first.cursor.id), 0);
    assert.equal(first.cursor.ns, 'compat.people');
    const more = await db.command({ getMore: first.cursor.id, collection: 'people', batchSize: 2 });
    assert.deepEqual(ids(more.cursor.nextBatch), [3, 4]);
    const last = await db.command({ getMore: first.cursor.id, collection: 'people', batchSize: 2 });
    assert.deepEqual(ids(last.cursor.nextBatch), [5]);
    assert.equal(Number(last.cursor.id), 0);
    const single = await db.command({ find: 'people', filter: {}, sort: { _id: 1 }, limit: -2 });
    assert.deepEqual(ids(single.cursor.firstBatch), [1, 2]);
    assert.equal(Number(single.cursor.id), 0);
    const limited = await db.command({ find: 'people', filter: {}, sort: { _id: 1 }, limit: 3, batchSize: 10 });
    assert.equal(limited.cursor.firstBatch.length, 3);
    assert.equal(Number(limited.cursor.id), 0);
  });

  test('hint by name or key pattern of an existing index; unknown hint is BadValue', async () => {
    const p = coll('people');
    await p.createIndex({ name: 1 });
    assert.deepEqual(ids(await p.find({ age: { $gt: 20 } }).hint('name_1').sort({ _id: 1 }).toArray()), [1, 2, 5]);
    assert.deepEqual(ids(await p.find({ age: { $gt: 20 } }).hint({ name: 1 }).sort({ _id: 1 }).toArray()), [1, 2, 5]);
    assert.deepEqual(ids(await p.find({ age: { $gt: 20 } }).hint({ $natural: 1 }).sort({ _id: 1 }).toArray()), [1, 2, 5]);
    await rejectsCode(p.find({}).hint('nope_1').toArray(), 2, 'BadValue', (e) => assert.match(e.message, /hint provided does not correspond to an existing index/));
  });

  test('min/max bound the hinted index (inclusive min, exclusive max); without a hint 51173', async () => {
    const names = (docs: any[]) => docs.map((d) => d.name);
    const all = names(await coll('people').find({}).sort({ name: 1 }).toArray());
    const expected = all.filter((n: string) => n >= 'b' && n < 'd');
    assert.deepEqual(names(await coll('people').find({}).hint({ name: 1 }).min({ name: 'b' }).max({ name: 'd' }).toArray()), expected);
    await rejectsCode(coll('people').find({}).min({ name: 'b' }).toArray(), 51173, 'Location51173');
  });
});

// ---------------------------------------------------------------------------------------------
// updates
// ---------------------------------------------------------------------------------------------

describe('update operators', () => {
  test('$set (creating paths), $unset, $inc, $mul, $min, $max', async () => {
    const c = await reset('upd', [{ _id: 1, n: 1, lo: 10, hi: 10, x: 'gone', keep: true }]);
    const r = await c.updateOne({ _id: 1 }, { $set: { 'a.b.c': 1 }, $unset: { x: '' }, $inc: { n: 5, m: 5 }, $min: { lo: 5 }, $max: { hi: 20 } });
    assert.equal(r.matchedCount, 1);
    assert.equal(r.modifiedCount, 1);
    assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, n: 6, lo: 5, hi: 20, keep: true, a: { b: { c: 1 } }, m: 5 });
    await c.updateOne({ _id: 1 }, { $mul: { n: 2, p: 3 } });
    assert.deepEqual(await c.findOne({ _id: 1 }, { projection: { n: 1, p: 1, _id: 0 } }), { n: 12, p: 0 });
    const noop = await c.updateOne({ _id: 1 }, { $max: { hi: 5 }, $min: { lo: 7 } });
    assert.equal(noop.matchedCount, 1);
    assert.equal(noop.modifiedCount, 0, 'an update that changes nothing is not a modification');
    await c.updateOne({ _id: 1 }, { $set: { 'arr.2': 'z' } });
    assert.deepEqual((await c.findOne({ _id: 1 }))!.arr, { 2: 'z' }, "a numeric path part on a missing field creates an object key");
  });

  test('$inc keeps int32 / promotes to double and int64 like mongod', async () => {
    const c = await reset('upd', [{ _id: 1, i: new Int32(1), big: new Int32(2147483647), d: new Double(1) }]);
    await c.updateOne({ _id: 1 }, { $inc: { i: new Int32(2), big: new Int32(1), d: new Int32(1) } });
    const raw = await c.findOne({ _id: 1 }, { promoteValues: false });
    assert.ok(raw!.i instanceof Int32 && raw!.i.value === 3);
    assert.equal(raw!.big._bsontype, 'Long', 'int32 overflow becomes int64');
    assert.ok(raw!.d instanceof Double && raw!.d.value === 2);
  });

  test('$rename, $setOnInsert with upsert, $currentDate', async () => {
    const c = await reset('upd', [{ _id: 1, old: 'v', a: { b: 2 } }]);
    await c.updateOne({ _id: 1 }, { $rename: { old: 'renamed', 'a.b': 'c' } });
    assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, a: {}, renamed: 'v', c: 2 });
    const up = await c.updateOne({ _id: 'u1' }, { $set: { x: 1 }, $setOnInsert: { created: true } }, { upsert: true });
    assert.equal(up.upsertedId, 'u1');
    assert.equal(up.upsertedCount, 1);
    assert.equal(up.matchedCount, 0);
    await c.updateOne({ _id: 'u1' }, { $set: { x: 2 }, $setOnInsert: { created: false } }, { upsert: true });
    assert.deepEqual(await c.findOne({ _id: 'u1' }), { _id: 'u1', x: 2, created: true });
    await c.updateOne({ _id: 1 }, { $currentDate: { d: true, ts: { $type: 'timestamp' }, d2: { $type: 'date' } } } as any);
    const doc = await c.findOne({ _id: 1 });
    assert.ok(doc!.d instanceof Date && Math.abs(doc!.d.getTime() - Date.now()) < 60_000);
    assert.ok(doc!.d2 instanceof Date);
    assert.ok(doc!.ts instanceof Timestamp);
  });

  test('$push with $each/$position/$slice/$sort, $addToSet, $pop, $pull, $pullAll', async () => {
    const c = await reset('upd', [{ _id: 1, arr: [2, 3], objs: [{ k: 1 }, { k: 3 }], tags: ['a'], q: [1, 2, 3, 4, 5] }]);
    await c.updateOne({ _id: 1 }, { $push: { arr: { $each: [5, 1, 4], $position: 0 } } } as any);
    assert.deepEqual((await c.findOne({ _id: 1 }))!.arr, [5, 1, 4, 2, 3]);
    await c.updateOne({ _id: 1 }, { $push: { arr: { $each: [9], $sort: 1, $slice: 3 } } } as any);
    assert.deepEqual((await c.findOne({ _id: 1 }))!.arr, [1, 2, 3]);
    await c.updateOne({ _id: 1 }, { $push: { objs: { $each: [{ k: 2 }], $sort: { k: -1 }, $slice: -2 } } } as any);
    assert.deepEqual((await c.findOne({ _id: 1 }))!.objs, [{ k: 2 }, { k: 1 }]);
    await c.updateOne({ _id: 1 }, { $push: { arr: { $each: [0], $position: -1 } } } as any);
    assert.deepEqual((await c.findOne({ _id: 1 }))!.arr, [1, 2, 0, 3]);
    const same = await c.updateOne({ _id: 1 }, { $addToSet: { tags: 'a' } });
    assert.equal(same.modifiedCount, 0);
    await c.updateOne({ _id: 1 }, { $addToSet: { tags: { $each: ['a', 'z', 'z'] } } });
    assert.deepEqual((await c.findOne({ _id: 1 }))!.tags, ['a', 'z']);
    await c.updateOne({ _id: 1 }, { $pop: { q: 1 } });
    await c.updateOne({ _id: 1 }, { $pop: { q: -1 } });
    assert.deepEqual((await c.findOne({ _id: 1 }))!.q, [2, 3, 4]);
    await c.updateOne({ _id: 1 }, { $pull: { q: { $gte: 4 }, objs: { k: 2 } } } as any);
    await c.updateOne({ _id: 1 }, { $pullAll: { arr: [0, 1] } } as any);
    const doc = await c.findOne({ _id: 1 });
    assert.deepEqual([doc!.q, doc!.objs, doc!.arr], [[2, 3], [{ k: 1 }], [2, 3]]);
  });

  test('$bit and, or, xor', async () => {
    const c = await reset('upd', [{ _id: 1, f: 13 }]);
    await c.updateOne({ _id: 1 }, { $bit: { f: { and: 10 } } });
    assert.equal((await c.findOne({ _id: 1 }))!.f, 8);
    await c.updateOne({ _id: 1 }, { $bit: { f: { or: 5 } } });
    assert.equal((await c.findOne({ _id: 1 }))!.f, 13);
    await c.updateOne({ _id: 1 }, { $bit: { f: { xor: 5 } } });
    assert.equal((await c.findOne({ _id: 1 }))!.f, 8);
  });

  test('positional $, all-positional $[] and filtered $[id] with arrayFilters', async () => {
    const c = await reset('upd', [{ _id: 1, grades: [80, 85, 90], scores: [{ s: 'math', v: 1 }, { s: 'art', v: 2 }, { s: 'math', v: 3 }] }]);
    await c.updateOne({ _id: 1, grades: 85 }, { $set: { 'grades.$': 86 } });
    await c.updateOne({ _id: 1, 'scores.s': 'art' }, { $set: { 'scores.$.v': 20 } });
    assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, grades: [80, 86, 90], scores: [{ s: 'math', v: 1 }, { s: 'art', v: 20 }, { s: 'math', v: 3 }] });
    await c.updateOne({ _id: 1 }, { $inc: { 'grades.$[]': 1 } });
    assert.deepEqual((await c.findOne({ _id: 1 }))!.grades, [81, 87, 91]);
    await c.updateOne({ _id: 1 }, { $set: { 'grades.$[g]': 100 } }, { arrayFilters: [{ g: { $gte: 87 } }] });
    assert.deepEqual((await c.findOne({ _id: 1 }))!.grades, [81, 100, 100]);
    await c.updateOne({ _id: 1 }, { $mul: { 'scores.$[m].v': 10 } }, { arrayFilters: [{ 'm.s': 'math' }] });
    assert.deepEqual((await c.findOne({ _id: 1 }))!.scores, [{ s: 'math', v: 10 }, { s: 'art', v: 20 }, { s: 'math', v: 30 }]);
    await rejectsCode(c.updateOne({ _id: 1 }, { $set: { 'grades.$': 1 } }), 2, 'BadValue');
  });

  test('replacement, pipeline updates, upsert seeds, multi', async () => {
    const c = await reset('upd', [{ _id: 1, a: 2, b: 3, g: 'x' }, { _id: 2, a: 5, b: 5, g: 'x' }, { _id: 3, a: 0, b: 0, g: 'y' }]);
    const rep = await c.replaceOne({ _id: 3 }, { only: 'this' });
    assert.equal(rep.modifiedCount, 1);
    assert.deepEqual(await c.findOne({ _id: 3 }), { _id: 3, only: 'this' });
    await c.updateOne({ _id: 1 }, [{ $set: { total: { $add: ['$a', '$b'] }, label: { $concat: ['$g', '-', { $toString: '$a' }] } } }, { $unset: 'b' }]);
    assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, a: 2, g: 'x', total: 5, label: 'x-2' });
    const many = await c.updateMany({ g: 'x' }, { $inc: { a: 1 } });
    assert.deepEqual([many.matchedCount, many.modifiedCount, many.upsertedCount], [2, 2, 0]);
    const seeded = await c.updateOne({ k: 'seed', n: { $gt: 5 }, 'sub.z': 1 }, { $set: { v: 1 } }, { upsert: true });
    assert.ok(seeded.upsertedId instanceof ObjectId);
    const { _id, ...rest } = (await c.findOne({ _id: seeded.upsertedId }))!;
    assert.deepEqual(rest, { k: 'seed', sub: { z: 1 }, v: 1 }, 'equality fields of the query seed the upserted document');
    assert.ok(_id instanceof ObjectId);
    const repUp = await c.replaceOne({ k: 'r' }, { v: 2 }, { upsert: true });
    const { _id: rid, ...repRest } = (await c.findOne({ _id: repUp.upsertedId }))!;
    assert.deepEqual(repRest, { v: 2 }, 'a replacement upsert does not copy query fields');
    assert.ok(rid instanceof ObjectId);
    await c.replaceOne({ _id: 7 }, { v: 7 }, { upsert: true });
    assert.deepEqual(await c.findOne({ _id: 7 }), { _id: 7, v: 7 });
  });

  test('update errors: ImmutableField, conflicts, unknown modifier, non-numeric $inc', async () => {
    const c = await reset('upd', [{ _id: 1, s: 'str', arr: 1 }]);
    await rejectsCode(c.updateOne({ _id: 1 }, { $set: { _id: 2 } }), 66, 'ImmutableField');
    await rejectsCode(c.replaceOne({ _id: 1 }, { _id: 2, x: 1 }), 66, 'ImmutableField');
    await rejectsCode(c.updateOne({ _id: 1 }, { $set: { a: 1 }, $inc: { a: 1 } }), 40, 'ConflictingUpdateOperators');
    await rejectsCode(c.updateOne({ _id: 1 }, { $foo: { a: 1 } } as any), 9, 'FailedToParse');
    await rejectsCode(c.updateOne({ _id: 1 }, { $inc: { s: 1 } }), 14, 'TypeMismatch');
    await rejectsCode(c.updateOne({ _id: 1 }, { $inc: { n: 'x' } } as any), 14, 'TypeMismatch');
    await rejectsCode(c.updateOne({ _id: 1 }, { $pop: { s: 1 } }), 14, 'TypeMismatch');
    await rejectsCode(c.updateOne({ _id: 1 }, { $push: { s: 1 } } as any), 2, 'BadValue');
    await rejectsCode(c.updateOne({ _id: 1 }, { $set: { 's.x': 1 } }), 28, 'PathNotViable');
  });
});

// ---------------------------------------------------------------------------------------------
// findAndModify, bulkWrite, counts, distinct
// ---------------------------------------------------------------------------------------------

describe('findOneAndUpdate / Replace / Delete', () => {
  test('projection, returnDocument, upsert, includeResultMetadata; sort on delete', async () => {
    const c = await reset('fam', [{ _id: 1, g: 'x', n: 1 }, { _id: 2, g: 'x', n: 5 }, { _id: 3, g: 'y', n: 3 }]);
    const after = await c.findOneAndUpdate({ _id: 2 }, { $inc: { n: 1 } }, { projection: { _id: 1, n: 1 }, returnDocument: 'after' });
    assert.deepEqual(after, { _id: 2, n: 6 });
    const before = await c.findOneAndUpdate({ _id: 1 }, { $inc: { n: 1 } });
    assert.deepEqual(before, { _id: 1, g: 'x', n: 1 });
    assert.equal(await c.findOneAndUpdate({ g: 'zzz' }, { $set: { n: 0 } }), null);
    const up = await c.findOneAndUpdate({ _id: 9 }, { $set: { n: 0 } }, { upsert: true, returnDocument: 'after' });
    assert.deepEqual(up, { _id: 9, n: 0 });
    assert.equal(await c.findOneAndUpdate({ _id: 10 }, { $set: { n: 0 } }, { upsert: true }), null, 'upsert with the pre-image returns null');
    const meta = await c.findOneAndUpdate({ _id: 11 }, { $set: { n: 1 } }, { upsert: true, includeResultMetadata: true });
    assert.deepEqual(meta.lastErrorObject, { n: 1, updatedExisting: false, upserted: 11 });
    assert.equal(meta.value, null);
    assert.equal(meta.ok, 1);
    const meta2 = await c.findOneAndUpdate({ _id: 11 }, { $set: { n: 2 } }, { includeResultMetadata: true, returnDocument: 'after' });
    assert.deepEqual(meta2.lastErrorObject, { n: 1, updatedExisting: true });
    assert.deepEqual(meta2.value, { _id: 11, n: 2 });
    const rep = await c.findOneAndReplace({ g: 'y' }, { g: 'y2', n: 30 }, { returnDocument: 'after', projection: { _id: 0 } });
    assert.deepEqual(rep, { g: 'y2', n: 30 });
    const del = await c.findOneAndDelete({ g: 'x' }, { sort: { n: -1 }, projection: { n: 1, _id: 0 } });
    assert.deepEqual(del, { n: 6 });
    assert.deepEqual(ids(await c.find({}).sort({ _id: 1 }).toArray()), [1, 3, 9, 10, 11]);
    const arr = await reset('fam2', [{ _id: 1, a: [1, 2, 3] }]);
    assert.deepEqual(await arr.findOneAndUpdate({ _id: 1 }, { $set: { 'a.$[e]': 0 } }, { arrayFilters: [{ e: { $gt: 1 } }], returnDocument: 'after' }), { _id: 1, a: [1, 0, 0] });
  });
});

describe('bulkWrite', () => {
  test('ordered mixed operations report exact counts', async () => {
    const c = await reset('bulk', []);
    const r = await c.bulkWrite([
      { insertOne: { document: { _id: 1, v: 1 } } },
      { insertOne: { document: { _id: 2, v: 2 } } },
      { updateOne: { filter: { _id: 1 }, update: { $set: { v: 10 } } } },
      { updateMany: { filter: {}, update: { $inc: { v: 1 } } } },
      { replaceOne: { filter: { _id: 2 }, replacement: { v: 20 } } },
      { updateOne: { filter: { _id: 3 }, update: { $set: { v: 3 } }, upsert: true } },
      { deleteOne: { filter: { _id: 1 } } },
      { deleteMany: { filter: { v: { $gt: 100 } } } },
    ]);
    assert.equal(r.insertedCount, 2);
    assert.equal(r.matchedCount, 4);
    assert.equal(r.modifiedCount, 4);
    assert.equal(r.deletedCount, 1);
    assert.equal(r.upsertedCount, 1);
    assert.deepEqual(r.upsertedIds, { 5: 3 });
    assert.deepEqual(r.insertedIds, { 0: 1, 1: 2 });
    assert.deepEqual(await c.find({}).sort({ _id: 1 }).toArray(), [{ _id: 2, v: 20 }, { _id: 3, v: 3 }]);
  });

  test('ordered stops at the first error, unordered continues', async () => {
    const c = await reset('bulk', []);
    await assert.rejects(
      c.bulkWrite([{ insertOne: { document: { _id: 10 } } }, { insertOne: { document: { _id: 10 } } }, { insertOne: { document: { _id: 11 } } }]),
      (err: MongoBulkWriteError) => {
        const errors = ([] as any[]).concat(err.writeErrors);
        assert.equal(errors.length, 1);
        assert.equal(errors[0].index, 1);
        assert.equal(errors[0].code, 11000);
        assert.equal(err.result.insertedCount, 1);
        return true;
      },
    );
    assert.deepEqual(ids(await c.find({}).toArray()), [10]);
    await assert.rejects(
      c.bulkWrite(
        [{ insertOne: { document: { _id: 10 } } }, { updateOne: { filter: { _id: 10 }, update: { $set: { _id: 99 } } } }, { insertOne: { document: { _id: 12 } } }, { deleteOne: { filter: { _id: 12 } } }],
        { ordered: false },
      ),
      (err: MongoBulkWriteError) => {
        const errors = ([] as any[]).concat(err.writeErrors);
        assert.deepEqual(errors.map((e) => [e.index, e.code]), [[0, 11000], [1, 66]]);
        assert.equal(err.result.insertedCount, 1);
        assert.equal(err.result.deletedCount, 1);
        return true;
      },
    );
  });
});

describe('counts and distinct', () => {
  test('countDocuments with filter, skip and limit; estimatedDocumentCount; count command', async () => {
    const p = coll('people');
    assert.equal(await p.countDocuments(), 5);
    assert.equal(await p.countDocuments({ tags: 'a' }), 3);
    assert.equal(await p.countDocuments({}, { skip: 1, limit: 2 }), 2);
    assert.equal(await p.countDocuments({ tags: 'a' }, { skip: 2 }), 1);
    assert.equal(await p.countDocuments({ tags: 'a' }, { skip: 5 }), 0);
    assert.equal(await p.estimatedDocumentCount(), 5);
    assert.equal(await coll('missing-coll').estimatedDocumentCount(), 0);
    const raw = await env.client.db('compat').command({ count: 'people', query: { age: { $exists: true } }, skip: 1, limit: 2 });
    assert.deepEqual(raw, { n: 2, ok: 1 });
  });

  test('distinct with query, dotted keys and arrays', async () => {
    const p = coll('people');
    assert.deepEqual((await p.distinct('address.city')).sort(), ['Berlin', 'Paris']);
    assert.deepEqual((await p.distinct('tags')).sort(), ['a', 'b', 'c']);
    assert.deepEqual((await p.distinct('scores.s', { age: { $gt: 26 } })).sort(), ['art', 'math']);
    assert.deepEqual((await p.distinct('scores.s', { age: { $gt: 100 } })), []);
    assert.deepEqual((await p.distinct('nested.items.k')).sort(), [1, 2, 3]);
    assert.deepEqual((await p.distinct('age')).sort(), [25, 30, 41.5, null].sort(), 'null is a distinct value; missing is not');
  });
});

// ---------------------------------------------------------------------------------------------
// indexes and explain
// ---------------------------------------------------------------------------------------------

describe('indexes', () => {
  test('createIndexes / listIndexes: unique, sparse, compound, names', async () => {
    const c = await reset('ix', [{ _id: 1, a: 1, b: 1, c: 1, email: 'x@y' }]);
    const names = await c.createIndexes([{ key: { a: 1 }, unique: true }, { key: { b: 1 }, sparse: true, name: 'b_sparse' }, { key: { a: 1, c: -1 } }, { key: { email: 1 }, unique: true, sparse: true }]);
    assert.deepEqual(names, ['a_1', 'b_sparse', 'a_1_c_-1', 'email_1']);
    assert.deepEqual(await c.listIndexes().toArray(), [
      { v: 2, key: { _id: 1 }, name: '_id_' },
      { v: 2, key: { a: 1 }, name: 'a_1', unique: true },
      { v: 2, key: { b: 1 }, name: 'b_sparse', sparse: true },
      { v: 2, key: { a: 1, c: -1 }, name: 'a_1_c_-1' },
      { v: 2, key: { email: 1 }, name: 'email_1', unique: true, sparse: true },
    ]);
    assert.equal(await c.createIndex({ a: 1 }, { unique: true }), 'a_1', 'creating an identical index is a no-op');
    const raw = await env.client.db('compat').command({ createIndexes: 'ix', indexes: [{ key: { a: 1 }, name: 'a_1', unique: true }] });
    assert.equal(raw.numIndexesBefore, 5);
    assert.equal(raw.numIndexesAfter, 5);
    const fresh = await env.client.db('compat').command({ createIndexes: 'ix_new', indexes: [{ key: { z: 1 }, name: 'z_1' }] });
    assert.deepEqual([fresh.numIndexesBefore, fresh.numIndexesAfter, fresh.createdCollectionAutomatically], [1, 2, true]);
  });

  test('unique and sparse semantics, DuplicateKey details', async () => {
    const c = await reset('ix', [{ _id: 1, a: 1, b: 1, c: 1, email: 'x@y' }]);
    await c.insertOne({ _id: 2, a: 2 });
    await c.insertOne({ _id: 3, a: 3 });
    await rejectsCode(c.insertOne({ _id: 4, a: 2 }), 11000, undefined, (err) => {
      assert.deepEqual(err.keyPattern, { a: 1 });
      assert.deepEqual(err.keyValue, { a: 2 });
      assert.match(err.message, /E11000 duplicate key error collection: compat\.ix index: a_1 dup key: \{ a: 2 \}/);
    });
    await rejectsCode(c.insertOne({ _id: 5, a: 5, email: 'x@y' }), 11000, undefined, (err) => assert.deepEqual(err.keyValue, { email: 'x@y' }));
    await c.insertOne({ _id: 6 });
    await rejectsCode(c.insertOne({ _id: 7 }), 11000, undefined, (err) => assert.deepEqual(err.keyValue, { a: null }));
    await rejectsCode(c.insertOne({ _id: 1 }), 11000, undefined, (err) => {
      assert.deepEqual(err.keyPattern, { _id: 1 });
      assert.deepEqual(err.keyValue, { _id: 1 });
    });
    await rejectsCode(c.updateOne({ _id: 2 }, { $set: { a: 3 } }), 11000);
    const dupData = await reset('ix_dups', [{ _id: 1, v: 1 }, { _id: 2, v: 1 }]);
    await rejectsCode(dupData.createIndex({ v: 1 }, { unique: true }), 11000);
  });

  test('dropIndexes by name, key and *, IndexNotFound, cannot drop _id_', async () => {
    const c = coll('ix');
    await rejectsCode(c.dropIndex('nope'), 27, 'IndexNotFound');
    await c.dropIndex('b_sparse');
    await c.dropIndex({ a: 1, c: -1 } as any);
    assert.deepEqual((await c.listIndexes().toArray()).map((i) => i.name), ['_id_', 'a_1', 'email_1']);
    await c.dropIndexes();
    assert.deepEqual((await c.listIndexes().toArray()).map((i) => i.name), ['_id_']);
    await rejectsCode(coll('no_such_coll').dropIndex('x_1'), 26, 'NamespaceNotFound');
  });

  test('TTL index: listed, and expired documents removed by the monitor', async () => {
    const c = await reset('ttl', [{ _id: 1, at: new Date(Date.now() - 3_600_000) }, { _id: 2, at: new Date() }, { _id: 3, at: 'not a date' }]);
    assert.equal(await c.createIndex({ at: 1 }, { expireAfterSeconds: 60 }), 'at_1');
    assert.deepEqual((await c.listIndexes().toArray())[1], { v: 2, key: { at: 1 }, name: 'at_1', expireAfterSeconds: 60 });
    await env.server.ttl.runOnce();
    assert.deepEqual(ids(await c.find({}).sort({ _id: 1 }).toArray()), [2, 3]);
  });

  test('index conflicts: same name with other key, same key with other name', async () => {
    const c = await reset('ixc', [{ _id: 1 }]);
    await c.createIndex({ a: 1 }, { name: 'idx' });
    await rejectsCode(c.createIndex({ b: 1 }, { name: 'idx' }), 86, 'IndexKeySpecsConflict');
    await rejectsCode(c.createIndex({ a: 1 }, { name: 'other' }), 85, 'IndexOptionsConflict');
  });

  test('partial index (non-unique) can be created and queried', async () => {
    const c = await reset('ixp', [{ _id: 1, p: 1 }, { _id: 2, p: 10 }]);
    assert.equal(await c.createIndex({ p: 1 }, { partialFilterExpression: { p: { $gt: 5 } } }), 'p_1');
    assert.deepEqual(ids(await c.find({ p: { $gt: 6 } }).toArray()), [2]);
    assert.deepEqual(ids(await c.find({ p: 1 }).toArray()), [1], 'a query outside the filter must not use (only) the partial index');
  });
});

describe('explain', () => {
  test('IXSCAN under FETCH for an indexed field, COLLSCAN otherwise, IDHACK for _id', async () => {
    const c = await reset('ex', Array.from({ length: 20 }, (_, i) => ({ _id: i, a: i, b: i % 3 })));
    await c.createIndex({ a: 1, b: -1 });
    const ix = await c.find({ a: { $gt: 5 } }).explain();
    const wp = ix.queryPlanner.winningPlan;
    assert.equal(wp.stage, 'FETCH');
    assert.equal(wp.inputStage.stage, 'IXSCAN');
    assert.equal(wp.inputStage.indexName, 'a_1_b_-1');
    assert.deepEqual(wp.inputStage.keyPattern, { a: 1, b: -1 });
    assert.equal(ix.queryPlanner.namespace, 'compat.ex');
    assert.equal(ix.executionStats.nReturned, 14);
    const scan = await c.find({ b: 1 }).explain('queryPlanner');
    assert.equal(scan.queryPlanner.winningPlan.stage, 'COLLSCAN');
    assert.equal(scan.executionStats, undefined);
    const id = await c.find({ _id: 3 }).explain();
    assert.equal(id.queryPlanner.winningPlan.stage, 'IDHACK');
    const eq = await c.find({ a: 3, b: 0 }).explain();
    assert.equal(eq.queryPlanner.winningPlan.inputStage.stage, 'IXSCAN');
  });
});

// ---------------------------------------------------------------------------------------------
// error codes
// ---------------------------------------------------------------------------------------------

describe('error codes', () => {
  test('BadValue, NamespaceNotFound, CommandNotFound, unknown operators', async () => {
    const p = coll('people');
    await rejectsCode(p.find({ age: { $foo: 1 } }).toArray(), 2, 'BadValue', (e) => assert.match(e.message, /unknown operator: \$foo/));
    await rejectsCode(p.find({ $foo: 1 }).toArray(), 2, 'BadValue', (e) => assert.match(e.message, /unknown top level operator: \$foo/));
    await rejectsCode(p.find({ age: { $in: 5 } }).toArray(), 2, 'BadValue');
    await rejectsCode(p.find({ $or: [] }).toArray(), 2, 'BadValue');
    await rejectsCode(p.find({ grades: { $size: -1 } }).toArray(), 2, 'BadValue');
    await rejectsCode(coll('never_created').listIndexes().toArray(), 26, 'NamespaceNotFound');
    await rejectsCode(env.client.db('compat').command({ frobnicate: 1 }), 59, 'CommandNotFound');
  });
});

// ---------------------------------------------------------------------------------------------
// sessions, compression
// ---------------------------------------------------------------------------------------------

describe('wire protocol features', () => {
  test('implicit and explicit sessions (lsid) are accepted', async () => {
    const session = env.client.startSession();
    try {
      await coll('sess').insertOne({ _id: 1 }, { session });
      assert.deepEqual(await coll('sess').findOne({ _id: 1 }, { session }), { _id: 1 });
    } finally {
      await session.endSession();
    }
  });

  test('zlib compression round trip', async () => {
    const { MongoClient } = await import('mongodb');
    const z = new MongoClient(env.uri, { compressors: ['zlib'] });
    try {
      await z.connect();
      const docs = await z.db('compat').collection('people').find({}).sort({ _id: 1 }).toArray();
      assert.deepEqual(ids(docs), [1, 2, 3, 4, 5]);
    } finally {
      await z.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Known gaps: each assertion is what mongod 7.0 does; Argon does not (yet). See docs/compatibility.md.
// ---------------------------------------------------------------------------------------------

describe('known gaps', () => {
  test('a transaction on a server without transactions fails instead of committing silently', async () => {
    const c = await reset('gap_txn', []);
    const session = env.client.startSession();
    try {
      session.startTransaction();
      // mongod standalone answers IllegalOperation 20 'Transaction numbers are only allowed on a replica set';
      // the driver turns exactly that reply into its 'does not support retryable writes' error.
      await assert.rejects(c.insertOne({ _id: 1 }, { session }), /retryable writes|Transaction numbers/);
      await session.abortTransaction().catch(() => undefined);
    } finally {
      await session.endSession();
    }
    assert.equal(await c.countDocuments(), 0, 'an aborted transaction leaves nothing behind');
  });

  test('findOneAndUpdate with sort updates only the first document in sort order', async () => {
    const c = await reset('gap_fam', [{ _id: 1, g: 'x', n: 1 }, { _id: 2, g: 'x', n: 5 }]);
    const after = await c.findOneAndUpdate({ g: 'x' }, { $inc: { n: 1 } }, { sort: { n: -1 }, returnDocument: 'after', includeResultMetadata: true });
    assert.deepEqual(after.value, { _id: 2, g: 'x', n: 6 });
    assert.deepEqual(after.lastErrorObject, { n: 1, updatedExisting: true });
    assert.deepEqual(await c.find({}).sort({ _id: 1 }).toArray(), [{ _id: 1, g: 'x', n: 1 }, { _id: 2, g: 'x', n: 6 }]);
  });

  test('numeric constants inside $expr filters', async () => {
    assert.deepEqual(await findIds({ $expr: { $gt: ['$age', 26] } }), [1, 5]);
    assert.deepEqual(await findIds({ $expr: { $eq: [{ $size: { $ifNull: ['$grades', []] } }, 3] } }), [1]);
  });

  test('numeric constants inside projection expressions', async () => {
    assert.deepEqual(await coll('people').findOne({ _id: 1 }, { projection: { _id: 0, next: { $add: ['$age', 1] } } }), { next: 31 });
  });

  test('numeric constants inside pipeline-style updates', async () => {
    const c = await reset('gap_pipe', [{ _id: 1, a: 2 }]);
    await c.updateOne({ _id: 1 }, [{ $set: { b: { $add: ['$a', 1] } } }]);
    assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, a: 2, b: 3 });
  });

  test('dropping the _id_ index is InvalidOptions (72)', async () => {
    const c = await reset('gap_ix', [{ _id: 1 }]);
    await rejectsCode(c.dropIndex('_id_'), 72, 'InvalidOptions');
  });

  test('an invalid $regex is error 51091', async () => {
    await rejectsCode(coll('people').find({ name: { $regex: '(' } }).toArray(), 51091);
  });

  test('exclusion in an exclusion-first projection mixed with inclusion is 31253', async () => {
    await rejectsCode(coll('people').findOne({}, { projection: { age: 0, name: 1 } }), 31253);
  });

  test('partial indexes: listIndexes shows partialFilterExpression; unique partial indexes work', async () => {
    const c = await reset('gap_partial', [{ _id: 1, p: 1 }, { _id: 2, p: 10 }, { _id: 3, p: 1 }]);
    await c.createIndex({ p: 1 }, { partialFilterExpression: { p: { $gt: 5 } }, name: 'p_part' });
    const ix = (await c.listIndexes().toArray()).find((i) => i.name === 'p_part');
    assert.deepEqual(ix, { v: 2, key: { p: 1 }, name: 'p_part', partialFilterExpression: { p: { $gt: 5 } } });
    await c.createIndex({ p: -1 }, { unique: true, partialFilterExpression: { p: { $gt: 5 } } });
    await c.insertOne({ _id: 4, p: 1 });
    await rejectsCode(c.insertOne({ _id: 5, p: 10 }), 11000);
    await c.insertOne({ _id: 6, p: 20 });
    assert.deepEqual((await c.find({ p: { $lt: 5 } }).sort({ _id: 1 }).toArray()).map((d) => d._id), [1, 3, 4], 'documents outside the partial index are still found');
    assert.deepEqual((await c.find({ p: { $gt: 5 } }).hint('p_part').toArray()).map((d) => d._id), [2, 6]);
  });
});
