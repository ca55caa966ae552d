import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson';
import { applyUpdate, applyReplacement, isReplacement } from '../src/query/update.js';
import { ArgonError } from '../src/errors.js';

type Doc = Record<string, unknown>;
const up = (doc: Doc, update: Doc | Doc[], opts = {}): Doc => applyUpdate(doc, update, opts).doc;
const fails = (doc: Doc, update: Doc | Doc[], re: RegExp, opts = {}, code?: number): void =>
  assert.throws(
    () => applyUpdate(doc, update, opts),
    (e: unknown) => e instanceof ArgonError && re.test(e.message) && (code === undefined || e.code === code),
  );
const typeOf = (v: unknown): string => (v as { _bsontype?: string })?._bsontype ?? typeof v;

test('$set / $unset basics, field order, intermediate creation', () => {
  assert.deepEqual(up({ _id: 1 }, { $set: { b: 1, a: 2 } }), { _id: 1, a: 2, b: 1 });
  assert.deepEqual(up({ _id: 1, a: { b: 1 } }, { $set: { 'a.c': 2 } }), { _id: 1, a: { b: 1, c: 2 } });
  assert.deepEqual(up({ _id: 1 }, { $set: { 'x.y.z': 1 } }), { _id: 1, x: { y: { z: 1 } } });
  assert.deepEqual(up({ _id: 1, a: [1, 2] }, { $set: { 'a.4': 5 } }), { _id: 1, a: [1, 2, null, null, 5] });
  assert.deepEqual(up({ _id: 1, a: 1, b: 2 }, { $unset: { a: '' } }), { _id: 1, b: 2 });
  assert.deepEqual(up({ _id: 1, a: [1, 2, 3] }, { $unset: { 'a.1': 1 } }), { _id: 1, a: [1, null, 3] });
  assert.deepEqual(up({ _id: 1 }, { $unset: { 'a.b': 1 } }), { _id: 1 });
  fails({ _id: 1, a: 5 }, { $set: { 'a.b': 1 } }, /Cannot create field 'b' in element/);
  fails({ _id: 1, a: [1] }, { $set: { 'a.x': 1 } }, /Cannot create field 'x'/);
  const r = applyUpdate({ _id: 1, a: 1 }, { $set: { a: 1 } });
  assert.equal(r.changed, false);
  assert.equal(applyUpdate({ _id: 1, a: new Int32(1) }, { $set: { a: new Double(1) } }).changed, true);
  assert.equal(applyUpdate({ _id: 1, a: 1 }, { $set: { a: 2 } }).changed, true);
});

test('$inc / $mul number typing', () => {
  let d = up({ _id: 1, a: new Int32(3) }, { $inc: { a: new Int32(1) } });
  assert.equal(typeOf(d.a), 'Int32');
  assert.equal((d.a as Int32).value, 4);
  d = up({ _id: 1, a: new Int32(2147483647) }, { $inc: { a: new Int32(1) } });
  assert.equal(typeOf(d.a), 'Long');
  assert.equal((d.a as Long).toString(), '2147483648');
  d = up({ _id: 1, a: new Int32(3) }, { $inc: { a: new Double(1.5) } });
  assert.equal(typeOf(d.a), 'Double');
  assert.equal((d.a as Double).value, 4.5);
  d = up({ _id: 1, a: new Int32(3) }, { $inc: { a: new Double(1) } });
  assert.equal(typeOf(d.a), 'Double');
  d = up({ _id: 1, a: Long.fromNumber(3) }, { $inc: { a: new Int32(1) } });
  assert.equal(typeOf(d.a), 'Long');
  assert.equal((d.a as Long).toNumber(), 4);
  d = up({ _id: 1, a: Decimal128.fromString('1.1') }, { $inc: { a: new Int32(1) } });
  assert.equal(typeOf(d.a), 'Decimal128');
  assert.equal((d.a as Decimal128).toString(), '2.1');
  d = up({ _id: 1, a: 3 }, { $inc: { a: 1 } });
  assert.equal(d.a, 4);
  d = up({ _id: 1 }, { $inc: { a: new Int32(5) } });
  assert.equal((d.a as Int32).value, 5);
  d = up({ _id: 1, a: new Int32(3) }, { $mul: { a: new Int32(4) } });
  assert.equal(typeOf(d.a), 'Int32');
  assert.equal((d.a as Int32).value, 12);
  d = up({ _id: 1 }, { $mul: { a: new Double(4) } });
  assert.equal(typeOf(d.a), 'Double');
  assert.equal((d.a as Double).value, 0);
  d = up({ _id: 1, a: Long.fromString('9223372036854775807') }, { $inc: { a: 1 } });
  assert.equal(typeOf(d.a), 'Double');
  fails({ _id: 1, a: 'x' }, { $inc: { a: 1 } }, /Cannot apply \$inc to a value of non-numeric type/, {}, 14);
  fails({ _id: 1, a: 1 }, { $inc: { a: 'x' } }, /Cannot increment with non-numeric argument/, {}, 14);
  fails({ _id: 1, a: null }, { $mul: { a: 2 } }, /Cannot apply \$mul/, {}, 14);
});

test('$min $max $rename $setOnInsert $currentDate', () => {
  assert.deepEqual(up({ _id: 1, a: 5 }, { $min: { a: 3 } }), { _id: 1, a: 3 });
  assert.deepEqual(up({ _id: 1, a: 5 }, { $min: { a: 7 } }), { _id: 1, a: 5 });
  assert.deepEqual(up({ _id: 1, a: 5 }, { $max: { a: 'x' } }), { _id: 1, a: 'x' });
  assert.deepEqual(up({ _id: 1 }, { $max: { a: 1 } }), { _id: 1, a: 1 });
  assert.deepEqual(up({ _id: 1, a: 1, b: 2 }, { $rename: { a: 'c' } }), { _id: 1, b: 2, c: 1 });
  assert.deepEqual(up({ _id: 1, a: { b: 1 } }, { $rename: { 'a.b': 'x.y' } }), { _id: 1, a: {}, x: { y: 1 } });
  assert.deepEqual(up({ _id: 1 }, { $rename: { a: 'b' } }), { _id: 1 });
  fails({ _id: 1, a: 1 }, { $rename: { a: 'a' } }, /must differ/);
  fails({ _id: 1, a: [{ b: 1 }] }, { $rename: { 'a.b': 'c' } }, /array/);
  assert.deepEqual(up({ _id: 1 }, { $setOnInsert: { a: 1 } }), { _id: 1 });
  assert.deepEqual(up({ _id: 1 }, { $setOnInsert: { a: 1 } }, { isUpsertInsert: true }), { _id: 1, a: 1 });
  const now = new Date(1000_000);
  const d = up({ _id: 1 }, { $currentDate: { a: true, b: { $type: 'timestamp' } } }, { now });
  assert.equal((d.a as Date).getTime(), 1000_000);
  assert.ok(d.b instanceof Timestamp);
  fails({ _id: 1 }, { $currentDate: { a: { $type: 'x' } } }, /date' or 'timestamp'/);
});

test('$push with modifiers (manual examples)', () => {
  assert.deepEqual(up({ _id: 1 }, { $push: { a: 1 } }), { _id: 1, a: [1] });
  assert.deepEqual(up({ _id: 1, a: [1] }, { $push: { a: [2] } }), { _id: 1, a: [1, [2]] });
  assert.deepEqual(up({ _id: 1, a: [1] }, { $push: { a: { $each: [2, 3] } } }), { _id: 1, a: [1, 2, 3] });
  assert.deepEqual(up({ _id: 1, a: [1, 2] }, { $push: { a: { $each: [9], $position: 0 } } }), { _id: 1, a: [9, 1, 2] });
  assert.deepEqual(up({ _id: 1, a: [1, 2, 3] }, { $push: { a: { $each: [9], $position: -1 } } }), { _id: 1, a: [1, 2, 9, 3] });
  assert.deepEqual(up({ _id: 1, a: [1, 2, 3] }, { $push: { a: { $each: [4], $slice: -2 } } }), { _id: 1, a: [3, 4] });
  assert.deepEqual(up({ _id: 1, a: [1, 2, 3] }, { $push: { a: { $each: [], $slice: 1 } } }), { _id: 1, a: [1] });
  const quizzes = [{ wk: 1, score: 10 }, { wk: 2, score: 8 }];
  assert.deepEqual(
    up({ _id: 5, quizzes }, { $push: { quizzes: { $each: [{ wk: 5, score: 8 }, { wk: 6, score: 7 }, { wk: 7, score: 6 }], $sort: { score: -1 }, $slice: 3 } } }),
    { _id: 5, quizzes: [{ wk: 1, score: 10 }, { wk: 2, score: 8 }, { wk: 5, score: 8 }] },
  );
  assert.deepEqual(up({ _id: 1, a: [3, 1] }, { $push: { a: { $each: [2], $sort: 1 } } }), { _id: 1, a: [1, 2, 3] });
  fails({ _id: 1, a: 5 }, { $push: { a: 1 } }, /must be an array but is of type int/);
  fails({ _id: 1, a: [] }, { $push: { a: { $each: [1], $foo: 1 } } }, /Unrecognized clause in \$push/);
});

test('$addToSet $pop $pull $pullAll $bit', () => {
  assert.deepEqual(up({ _id: 1, a: [1, 2] }, { $addToSet: { a: 2 } }), { _id: 1, a: [1, 2] });
  assert.deepEqual(up({ _id: 1, a: [1, 2] }, { $addToSet: { a: new Double(2) } }), { _id: 1, a: [1, 2] });
  assert.deepEqual(up({ _id: 1, a: [1] }, { $addToSet: { a: { $each: [1, 3, 3] } } }), { _id: 1, a: [1, 3] });
  assert.deepEqual(up({ _id: 1, a: [1] }, { $addToSet: { a: [1] } }), { _id: 1, a: [1, [1]] });
  assert.deepEqual(up({ _id: 1, a: [1, 2, 3] }, { $pop: { a: 1 } }), { _id: 1, a: [1, 2] });
  assert.deepEqual(up({ _id: 1, a: [1, 2, 3] }, { $pop: { a: -1 } }), { _id: 1, a: [2, 3] });
  fails({ _id: 1, a: [1] }, { $pop: { a: 2 } }, /\$pop expects 1 or -1/, {}, 9);
  assert.deepEqual(up({ _id: 1, a: [1, 5, 6, 9] }, { $pull: { a: { $gte: 6 } } }), { _id: 1, a: [1, 5] });
  assert.deepEqual(up({ _id: 1, a: ['apples', 'pears', 'grapes'] }, { $pull: { a: { $in: ['apples', 'grapes'] } } }), { _id: 1, a: ['pears'] });
  assert.deepEqual(up({ _id: 1, a: [1, new Int32(2), 2.0, 3] }, { $pull: { a: 2 } }), { _id: 1, a: [1, 3] });
  assert.deepEqual(
    up({ _id: 1, results: [{ item: 'A', score: 5 }, { item: 'B', score: 8, x: 1 }] }, { $pull: { results: { score: 8, item: 'B' } } }),
    { _id: 1, results: [{ item: 'A', score: 5 }] },
  );
  assert.deepEqual(up({ _id: 1, a: [0, 5, 5, 1, 0] }, { $pullAll: { a: [0, 5] } }), { _id: 1, a: [1] });
  let d = up({ _id: 1, a: new Int32(13) }, { $bit: { a: { and: new Int32(10) } } });
  assert.equal((d.a as Int32).value, 8);
  d = up({ _id: 1, a: new Int32(3) }, { $bit: { a: { or: new Int32(5) } } });
  assert.equal((d.a as Int32).value, 7);
  d = up({ _id: 1, a: Long.fromNumber(1) }, { $bit: { a: { xor: new Int32(5) } } });
  assert.equal(typeOf(d.a), 'Long');
  assert.equal((d.a as Long).toNumber(), 4);
  fails({ _id: 1, a: 1.5 }, { $bit: { a: { and: 1 } } }, /non-integral/);
});

test('positional $, $[] and $[id]', () => {
  assert.deepEqual(up({ _id: 1, grades: [85, 80, 80] }, { $set: { 'grades.$': 82 } }, { query: { grades: 80 } }), { _id: 1, grades: [85, 82, 80] });
  assert.deepEqual(
    up({ _id: 4, grades: [{ grade: 80, mean: 75 }, { grade: 85, mean: 90 }] }, { $set: { 'grades.$.std': 6 } }, { query: { 'grades.grade': 85 } }),
    { _id: 4, grades: [{ grade: 80, mean: 75 }, { grade: 85, mean: 90, std: 6 }] },
  );
  assert.deepEqual(
    up({ _id: 1, a: [{ b: 1, c: 1 }, { b: 2, c: 2 }] }, { $inc: { 'a.$.c': 10 } }, { query: { a: { $elemMatch: { b: 2 } } } }),
    { _id: 1, a: [{ b: 1, c: 1 }, { b: 2, c: 12 }] },
  );
  fails({ _id: 1, a: [1] }, { $set: { 'a.$': 1 } }, /positional operator did not find the match/, { query: { _id: 1 } });
  assert.deepEqual(up({ _id: 1, grades: [85, 82, 80] }, { $inc: { 'grades.$[]': 10 } }), { _id: 1, grades: [95, 92, 90] });
  assert.deepEqual(
    up({ _id: 1, grades: [95, 92, 90] }, { $set: { 'grades.$[element]': 100 } }, { arrayFilters: [{ element: { $gte: 92 } }] }),
    { _id: 1, grades: [100, 100, 90] },
  );
  assert.deepEqual(
    up({ _id: 1, grades: [{ grade: 80, mean: 75 }, { grade: 90, mean: 85 }] }, { $set: { 'grades.$[e].mean': 100 } }, { arrayFilters: [{ 'e.grade': { $gte: 85 } }] }),
    { _id: 1, grades: [{ grade: 80, mean: 75 }, { grade: 90, mean: 100 }] },
  );
  assert.deepEqual(
    up({ _id: 1, a: [{ b: [1, 5] }, { b: [7] }] }, { $set: { 'a.$[].b.$[x]': 0 } }, { arrayFilters: [{ x: { $gt: 4 } }] }),
    { _id: 1, a: [{ b: [1, 0] }, { b: [0] }] },
  );
  fails({ _id: 1, a: [1] }, { $set: { 'a.$[x]': 1 } }, /No array filter found for identifier 'x'/);
  fails({ _id: 1, a: [1] }, { $set: { a: [2] } }, /was not used/, { arrayFilters: [{ x: 1 }] }, 9);
});

test('errors: _id, conflicts, unknown modifiers', () => {
  fails({ _id: 1, a: 1 }, { $set: { _id: 2 } }, /immutable field '_id'/, {}, 66);
  fails({ _id: 1, a: 1 }, { $set: { a: 1 }, $inc: { a: 1 } }, /conflict/, {}, 40);
  fails({ _id: 1, a: 5 }, { $set: { 'a.b': 1 } }, /Cannot create field/, {}, 28);
  assert.deepEqual(up({ _id: 1, a: 1 }, { $set: { _id: 1 } }), { _id: 1, a: 1 });
  fails({ _id: 1 }, { $unset: { _id: 1 } }, /immutable field '_id'/);
  fails({ _id: 1, a: { b: 1 } }, { $set: { a: 1 }, $unset: { 'a.b': 1 } }, /Updating the path 'a.b' would create a conflict at 'a'|Updating the path 'a' would create a conflict at 'a'/);
  fails({ _id: 1, a: 1 }, { $set: { a: 1 }, $inc: { a: 1 } }, /would create a conflict at 'a'/);
  fails({ _id: 1 }, { $foo: { a: 1 } }, /Unknown modifier: \$foo/, {}, 9);
  fails({ _id: 1 }, { $set: 5 }, /Modifiers operate on fields/, {}, 9);
  fails({ _id: 1 }, { $set: { a: 1 }, b: 2 }, /Unknown modifier: b/, {}, 9);
  assert.deepEqual(up({ _id: 1, a: 1 }, { $set: { 'a_b': 1, a: 2 } }), { _id: 1, a: 2, a_b: 1 });
});

test('replacement and upsert seeds', () => {
  assert.equal(isReplacement({ a: 1 }), true);
  assert.equal(isReplacement({ $set: { a: 1 } }), false);
  assert.equal(isReplacement([{ $set: { a: 1 } }]), false);
  const id = new ObjectId();
  assert.deepEqual(applyReplacement({ _id: id, a: 1 }, { b: 2 }), { _id: id, b: 2 });
  assert.deepEqual(applyReplacement({ _id: 1, a: 1 }, { b: 2, _id: 1 }), { _id: 1, b: 2 });
  assert.throws(() => applyReplacement({ _id: 1 }, { _id: 2 }), /immutable/);
  assert.throws(() => applyReplacement({ _id: 1 }, { $set: 1, a: 1 } as Doc), (e: unknown) => e instanceof ArgonError && e.code === 52);
  assert.deepEqual(up({ _id: 1, a: 1 }, { b: 1 }), { _id: 1, b: 1 });
  assert.deepEqual(up({ a: 1 }, { $set: { b: 2 }, $setOnInsert: { _id: 9 } }, { isUpsertInsert: true }), { _id: 9, a: 1, b: 2 });
});

test('pipeline updates keep untouched types', () => {
  const d = up({ _id: 1, a: new Double(1), b: new Int32(2), c: 'x' }, [{ $set: { s: { $add: ['$b', 1] } } }, { $unset: 'c' }]);
  assert.equal(typeOf(d.a), 'Double');
  assert.equal(typeOf(d.b), 'Int32');
  assert.equal(d.s, 3);
  assert.equal('c' in d, false);
  assert.deepEqual(up({ _id: 1, x: { y: 1 } }, [{ $replaceWith: { _id: '$_id', z: '$x.y' } }]), { _id: 1, z: 1 });
  fails({ _id: 1 }, [{ $group: { _id: null } }], /not allowed to be used within an update/);
  fails({ _id: 1 }, [{ $set: { _id: 2 } }], /immutable/);
});
