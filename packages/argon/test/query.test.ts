import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, BSONRegExp, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson';
import { compileFilter, filterEqualityFields } from '../src/query/filter.js';
import { ArgonError } from '../src/errors.js';

type Doc = Record<string, unknown>;
const m = (filter: Doc, doc: Doc): boolean => compileFilter(filter)(doc);
const yes = (filter: Doc, doc: Doc): void => assert.equal(m(filter, doc), true, `${JSON.stringify(filter)} should match ${JSON.stringify(doc)}`);
const no = (filter: Doc, doc: Doc): void => assert.equal(m(filter, doc), false, `${JSON.stringify(filter)} should not match ${JSON.stringify(doc)}`);
const throwsBad = (filter: Doc, re: RegExp): void =>
  assert.throws(() => compileFilter(filter), (e: unknown) => e instanceof ArgonError && re.test(e.message));

test('equality, wrappers and plain numbers', () => {
  yes({ a: 7 }, { a: new Int32(7) });
  yes({ a: new Double(7) }, { a: new Int32(7) });
  yes({ a: Long.fromNumber(7) }, { a: 7 });
  yes({ a: Decimal128.fromString('7.0') }, { a: new Int32(7) });
  no({ a: 7 }, { a: '7' });
  no({ a: 7 }, { a: new Int32(8) });
  const id = new ObjectId();
  yes({ _id: new ObjectId(id.toHexString()) }, { _id: id });
  no({ _id: new ObjectId() }, { _id: id });
  yes({ d: new Date(5) }, { d: new Date(5) });
  no({ d: new Date(5) }, { d: 5 });
  yes({ a: NaN }, { a: new Double(NaN) });
  yes({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 2 } });
  no({ a: { b: 1, c: 2 } }, { a: { c: 2, b: 1 } });
  yes({ 'a.b': new Int32(2) }, { a: { b: 2 } });
});

test('array traversal', () => {
  yes({ a: 5 }, { a: [5, 6] });
  no({ a: 5 }, { a: [[5], 6] });
  yes({ a: [5] }, { a: [[5], 6] });
  yes({ a: [5, 6] }, { a: [5, 6] });
  no({ a: [6, 5] }, { a: [5, 6] });
  yes({ 'a.b': 2 }, { a: [{ b: 1 }, { b: 2 }] });
  yes({ 'a.b.c': 3 }, { a: [{ b: [{ c: 3 }] }] });
  yes({ 'a.1': 6 }, { a: [5, 6] });
  no({ 'a.1': 5 }, { a: [5, 6] });
  yes({ 'a.0.b': 1 }, { a: [{ b: 1 }] });
  no({ 'a.b': 1 }, { a: [[{ b: 1 }]] });
});

test('null and missing', () => {
  yes({ a: null }, {});
  yes({ a: null }, { a: null });
  yes({ a: null }, { a: [1, null] });
  no({ a: null }, { a: 0 });
  no({ a: null }, { a: [1] });
  yes({ 'a.b': null }, { a: [{ b: 1 }, { c: 1 }] });
  no({ a: { $ne: null } }, {});
  yes({ a: { $ne: null } }, { a: 1 });
  yes({ a: { $in: [null] } }, {});
  yes({ a: { $gte: null } }, {});
  no({ a: { $gt: null } }, { a: null });
  yes({ a: { $exists: false } }, {});
  no({ a: { $exists: false } }, { a: null });
  yes({ a: { $exists: true } }, { a: null });
  no({ 'a.b': { $exists: true } }, { a: [1, 2] });
  yes({ 'a.b': { $exists: true } }, { a: [1, { b: 0 }] });
});

test('comparison type bracketing and NaN', () => {
  yes({ a: { $gt: 5 } }, { a: new Int32(7) });
  yes({ a: { $gt: new Int32(5) } }, { a: 5.5 });
  yes({ a: { $lt: 8 } }, { a: Decimal128.fromString('7.5') });
  yes({ a: { $gt: Long.fromString('9007199254740992') } }, { a: Long.fromString('9007199254740993') });
  no({ a: { $gt: 5 } }, { a: 'x' });
  no({ a: { $gt: 'a' } }, { a: 5 });
  no({ a: { $gt: 5 } }, { a: new Date(10) });
  yes({ a: { $gt: 5 } }, { a: [1, 'x', 7] });
  no({ a: { $gt: 5 } }, { a: [1, 'x', 5] });
  yes({ a: { $gte: 'b', $lt: 'c' } }, { a: 'bz' });
  no({ a: { $lt: 5 } }, { a: NaN });
  no({ a: { $gt: 5 } }, { a: NaN });
  yes({ a: { $gte: NaN } }, { a: NaN });
  no({ a: { $gt: NaN } }, { a: 1 });
  yes({ d: { $gt: new Date(1) } }, { d: new Date(2) });
  yes({ a: { $lte: 5 } }, { a: Long.fromNumber(5) });
  yes({ a: { $eq: [1, 2] } }, { a: [1, 2] });
  yes({ a: { $ne: 3 } }, { a: [1, 2] });
  no({ a: { $ne: 2 } }, { a: [1, 2] });
});

test('$in, $nin, regex', () => {
  yes({ a: { $in: [1, 2] } }, { a: new Int32(2) });
  yes({ a: { $in: [/^x/] } }, { a: 'xy' });
  yes({ a: { $in: [/^x/, 3] } }, { a: [1, 3] });
  no({ a: { $in: [] } }, { a: 1 });
  yes({ a: { $nin: [1, 2] } }, {});
  no({ a: { $nin: [1, 2] } }, { a: [3, 2] });
  yes({ a: /^ab/i }, { a: 'ABc' });
  yes({ a: { $regex: 'AB', $options: 'i' } }, { a: 'xab' });
  no({ a: { $regex: 'AB' } }, { a: 'xab' });
  yes({ a: { $regex: /a.c/s } }, { a: 'a\nc' });
  yes({ a: { $regex: '^b', $options: 'm' } }, { a: 'a\nb' });
  yes({ a: { $regex: 'a b # comment', $options: 'x' } }, { a: 'ab' });
  yes({ a: { $regex: new BSONRegExp('^x', 'i') } }, { a: 'X' });
  no({ a: /5/ }, { a: 5 });
  yes({ a: { $not: /^x/ } }, { a: 'y' });
  yes({ a: { $not: /^x/ } }, {});
  throwsBad({ a: { $in: 5 } }, /\$in needs an array/);
  throwsBad({ a: { $options: 'i' } }, /\$options needs a \$regex/);
});

test('$type', () => {
  yes({ a: { $type: 'int' } }, { a: new Int32(1) });
  yes({ a: { $type: 'int' } }, { a: 1 });
  no({ a: { $type: 'int' } }, { a: new Double(1) });
  yes({ a: { $type: 'double' } }, { a: new Double(1) });
  yes({ a: { $type: 1 } }, { a: 1.5 });
  yes({ a: { $type: 'long' } }, { a: Long.fromNumber(1) });
  yes({ a: { $type: 18 } }, { a: Long.fromNumber(1) });
  yes({ a: { $type: 'decimal' } }, { a: Decimal128.fromString('1') });
  yes({ a: { $type: 'number' } }, { a: Decimal128.fromString('1') });
  no({ a: { $type: 'number' } }, { a: '1' });
  yes({ a: { $type: 'string' } }, { a: ['x', 1] });
  yes({ a: { $type: 'array' } }, { a: [] });
  no({ a: { $type: 'array' } }, { a: 1 });
  yes({ a: { $type: 'null' } }, { a: null });
  no({ a: { $type: 'null' } }, {});
  yes({ a: { $type: 'objectId' } }, { a: new ObjectId() });
  yes({ a: { $type: 'date' } }, { a: new Date() });
  yes({ a: { $type: ['string', 'bool'] } }, { a: true });
  yes({ a: { $type: 'timestamp' } }, { a: new Timestamp({ t: 1, i: 1 }) });
  yes({ a: { $type: 'binData' } }, { a: new Binary(Buffer.from('x')) });
  throwsBad({ a: { $type: 'foo' } }, /Unknown type name alias/);
  throwsBad({ a: { $type: 99 } }, /Invalid numerical type code/);
});

test('$size, $all, $elemMatch', () => {
  yes({ a: { $size: 2 } }, { a: [1, 2] });
  yes({ a: { $size: new Int32(2) } }, { a: [1, 2] });
  no({ a: { $size: 1 } }, { a: [1, 2] });
  no({ a: { $size: 1 } }, { a: 1 });
  yes({ a: { $size: 0 } }, { a: [] });
  throwsBad({ a: { $size: -1 } }, /non-negative/);
  yes({ a: { $all: [1, 2] } }, { a: [2, 1, 3] });
  no({ a: { $all: [1, 4] } }, { a: [2, 1, 3] });
  no({ a: { $all: [] } }, { a: [1] });
  yes({ a: { $all: [[1, 2]] } }, { a: [1, 2] });
  yes({ a: { $all: [1] } }, { a: 1 });
  yes({ a: { $all: [{ $elemMatch: { x: 1 } }, { $elemMatch: { y: 2 } }] } }, { a: [{ x: 1 }, { y: 2 }] });
  yes({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { a: [0, 2, 5] });
  no({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { a: [0, 5] });
  yes({ a: { $gt: 1, $lt: 3 } }, { a: [0, 5] });
  yes({ a: { $elemMatch: { b: 1, c: 2 } } }, { a: [{ b: 1, c: 2 }] });
  no({ a: { $elemMatch: { b: 1, c: 2 } } }, { a: [{ b: 1 }, { c: 2 }] });
  yes({ 'a.b': 1, 'a.c': 2 }, { a: [{ b: 1 }, { c: 2 }] });
  no({ a: { $elemMatch: { $gt: 1 } } }, { a: 5 });
  // manual: results: { $elemMatch: { product: "xyz", score: { $gte: 8 } } }
  yes({ results: { $elemMatch: { product: 'xyz', score: { $gte: 8 } } } }, { results: [{ product: 'abc', score: 10 }, { product: 'xyz', score: new Int32(9) }] });
  no({ results: { $elemMatch: { product: 'xyz', score: { $gte: 8 } } } }, { results: [{ product: 'abc', score: 10 }, { product: 'xyz', score: 5 }] });
});

test('logical operators', () => {
  yes({ $or: [{ a: 1 }, { b: 2 }] }, { b: 2 });
  no({ $or: [{ a: 1 }, { b: 2 }] }, { b: 3 });
  yes({ $and: [{ a: 1 }, { b: 2 }] }, { a: 1, b: 2 });
  yes({ $nor: [{ a: 1 }, { b: 2 }] }, { a: 2 });
  no({ $nor: [{ a: 1 }] }, { a: [1, 2] });
  yes({ a: { $not: { $gt: 5 } } }, { a: 3 });
  yes({ a: { $not: { $gt: 5 } } }, { a: 'x' });
  yes({ a: { $not: { $gt: 5 } } }, {});
  throwsBad({ $and: [] }, /nonempty array/);
  throwsBad({ $or: {} }, /nonempty array/);
  throwsBad({ a: { $foo: 1 } }, /unknown operator: \$foo/);
  throwsBad({ $foo: 1 }, /unknown top level operator: \$foo/);
  throwsBad({ $where: 'true' }, /\$where/);
  throwsBad({ a: { $not: 5 } }, /\$not needs/);
  throwsBad({ a: { $gt: 1, b: 2 } }, /unknown operator: b/);
  yes({ $comment: 'x', a: 1 }, { a: 1 });
});

test('$mod and bitwise', () => {
  yes({ a: { $mod: [4, 0] } }, { a: new Int32(12) });
  yes({ a: { $mod: [4, 1] } }, { a: 5 });
  no({ a: { $mod: [4, 1] } }, { a: 6 });
  yes({ a: { $mod: [4, -1] } }, { a: -5 });
  yes({ a: { $mod: [4, 1] } }, { a: 5.9 });
  yes({ a: { $mod: [4, 1] } }, { a: Long.fromNumber(9) });
  no({ a: { $mod: [4, 1] } }, { a: '5' });
  throwsBad({ a: { $mod: [0, 1] } }, /divisor cannot be 0/);
  throwsBad({ a: { $mod: [4] } }, /not enough elements/);
  throwsBad({ a: { $mod: [4, 1, 2] } }, /too many elements/);
  // manual: a: 54 = 0b110110
  yes({ a: { $bitsAllSet: [1, 5] } }, { a: new Int32(54) });
  no({ a: { $bitsAllSet: [0, 1] } }, { a: 54 });
  yes({ a: { $bitsAllSet: 50 } }, { a: 54 });
  yes({ a: { $bitsAnySet: [0, 1] } }, { a: 54 });
  yes({ a: { $bitsAllClear: [0, 3] } }, { a: 54 });
  yes({ a: { $bitsAnyClear: [0, 1] } }, { a: 54 });
  no({ a: { $bitsAnyClear: [1, 2] } }, { a: 54 });
  yes({ a: { $bitsAllSet: [63, 100] } }, { a: -1 });
  no({ a: { $bitsAllSet: [0] } }, { a: 1.5 });
  yes({ a: { $bitsAllSet: [0, 9] } }, { a: new Binary(Buffer.from([0x01, 0x02])) });
  yes({ a: { $bitsAllSet: new Binary(Buffer.from([0x06])) } }, { a: 54 });
  no({ a: { $bitsAllSet: [0] } }, { a: 'x' });
});

test('$expr and $jsonSchema', () => {
  yes({ $expr: { $gt: ['$a', '$b'] } }, { a: new Int32(3), b: new Int32(2) });
  no({ $expr: { $gt: ['$a', '$b'] } }, { a: new Int32(1), b: Long.fromNumber(2) });
  yes({ $expr: { $eq: [{ $add: ['$a', 1] }, 4] } }, { a: new Double(3) });
  const schema = {
    $jsonSchema: {
      bsonType: 'object',
      required: ['name', 'year'],
      properties: {
        name: { bsonType: 'string' },
        year: { bsonType: 'int', minimum: 2017, maximum: 3017 },
        tags: { bsonType: 'array', items: { bsonType: 'string' }, uniqueItems: true },
      },
    },
  };
  yes(schema, { name: 'x', year: new Int32(2020) });
  no(schema, { name: 'x', year: new Double(2020) });
  no(schema, { name: 'x', year: new Int32(2000) });
  no(schema, { name: 'x' });
  no(schema, { name: 'x', year: 2020, tags: ['a', 'a'] });
  yes(schema, { name: 'x', year: 2020, tags: ['a', 'b'] });
  yes({ $jsonSchema: { properties: { a: { type: 'number' } } } }, { a: Long.fromNumber(5) });
  no({ $jsonSchema: { additionalProperties: false, properties: { _id: {} } } }, { _id: 1, a: 1 });
  yes({ $jsonSchema: { properties: { s: { minLength: 2, pattern: '^a' } } } }, { s: 'ab' });
  no({ $jsonSchema: { properties: { s: { enum: [1, 2] } } } }, { s: 3 });
  yes({ $jsonSchema: { anyOf: [{ required: ['a'] }, { required: ['b'] }] } }, { b: 1 });
  throwsBad({ $jsonSchema: { foo: 1 } }, /Unknown \$jsonSchema keyword/);
});

test('filterEqualityFields builds the upsert seed', () => {
  assert.deepEqual(filterEqualityFields({ a: 1, 'b.c': 2, d: { $gt: 1 }, e: { $eq: 3 }, $and: [{ f: 4 }], g: /x/ }), {
    a: 1,
    b: { c: 2 },
    e: 3,
    f: 4,
  });
  assert.deepEqual(filterEqualityFields({ _id: 7, $or: [{ a: 1 }] }), { _id: 7 });
});
