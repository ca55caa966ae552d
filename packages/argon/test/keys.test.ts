import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
} from 'bson';
import {
  MAX_KEY_BYTES,
  canonicalTypeOrder,
  compareBson,
  encodeCompound,
  encodeValue,
  prefixSuccessor,
} from '../src/storage/keys.js';
import { ArgonError } from '../src/errors.js';

const byteOrder = (a: Uint8Array, b: Uint8Array): number => Math.sign(Buffer.compare(a, b));
const encodedOrder = (a: unknown, b: unknown): number => byteOrder(encodeValue(a), encodeValue(b));
const isProperPrefix = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length < b.length && Buffer.compare(a, b.subarray(0, a.length)) === 0;
const oid = (hex: string): ObjectId => new ObjectId(hex.padStart(24, '0'));
const dec = (s: string): Decimal128 => Decimal128.fromString(s);

function describe(value: unknown): string {
  try {
    return `${String(value?.constructor?.name ?? typeof value)} ${JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? `${v}n` : v,
    )}`;
  } catch {
    return String(value);
  }
}

/** Asserts that both the encoder and the comparator see `values` as strictly increasing. */
function assertStrictlyIncreasing(values: readonly unknown[]): void {
  for (let i = 0; i < values.length; i++) {
    for (let j = 0; j < values.length; j++) {
      const expected = Math.sign(i - j);
      const where = `${describe(values[i])} vs ${describe(values[j])}`;
      assert.equal(compareBson(values[i], values[j]), expected, `compareBson: ${where}`);
      assert.equal(encodedOrder(values[i], values[j]), expected, `encodeValue: ${where}`);
    }
  }
}

/** Asserts that every value in the group is equal to the others, with identical key bytes. */
function assertAllEqual(values: readonly unknown[]): void {
  const first = encodeValue(values[0]);
  for (const value of values) {
    assert.equal(compareBson(values[0], value), 0, `compareBson: ${describe(values[0])} vs ${describe(value)}`);
    assert.deepEqual(encodeValue(value), first, `bytes of ${describe(value)}`);
  }
}

test('type brackets follow MongoDB order', () => {
  assertStrictlyIncreasing([
    new MinKey(),
    undefined,
    null,
    NaN,
    -Infinity,
    0,
    Infinity,
    '',
    'zzz',
    {},
    { a: 1 },
    [],
    [1],
    new Binary(new Uint8Array([])),
    new Binary(new Uint8Array([1])),
    oid('0'),
    oid('ff'),
    false,
    true,
    new Date(-1),
    new Date(0),
    new Timestamp({ t: 0, i: 0 }),
    new Timestamp({ t: 1, i: 0 }),
    /a/,
    new BSONRegExp('b', 'i'),
    new Code('a'),
    new Code('b'),
    new Code('a', { x: 1 }),
    new MaxKey(),
  ]);
});

test('numbers compare by value across int32, long, double and decimal', () => {
  assertStrictlyIncreasing([
    NaN,
    -Infinity,
    Long.MIN_VALUE,
    -9007199254740993n,
    -(2 ** 53),
    -1.5,
    new Int32(-1),
    dec('-0.1'),
    -1e-300,
    0,
    dec('1E-6000'),
    5e-324,
    dec('0.1'),
    0.1,
    dec('0.10000000000000001'),
    1,
    new Double(1.5),
    dec('1.50000000000000000000000000000001'),
    2 ** 53,
    Long.fromString('9007199254740993'),
    dec('9007199254740993.5'),
    Long.fromString('9007199254740994'),
    Long.fromString('9223372036854775806'),
    Long.MAX_VALUE,
    2 ** 63,
    dec('1E+308'),
    Number.MAX_VALUE,
    dec('1E+400'),
    Infinity,
  ]);
});

test('equal numbers of every kind encode to identical bytes', () => {
  assertAllEqual([1, new Int32(1), Long.fromInt(1), new Double(1), dec('1'), dec('1.000'), dec('0.01E2'), 1n]);
  assertAllEqual([0, -0, new Double(-0), new Int32(0), Long.ZERO, dec('0'), dec('-0'), dec('0E-30')]);
  assertAllEqual([NaN, new Double(NaN), dec('NaN'), dec('-NaN')]);
  assertAllEqual([Infinity, dec('Infinity')]);
  assertAllEqual([-Infinity, dec('-Infinity')]);
  assertAllEqual([Long.fromString('9007199254740993'), dec('9007199254740993'), dec('90071992547409930E-1'), 9007199254740993n]);
  assertAllEqual([Long.fromString('-9223372036854775807'), dec('-9223372036854775807')]);
  assertAllEqual([Long.fromString('9007199254740992'), 2 ** 53, dec('9.007199254740992E15')]);
  assertAllEqual([0.5, dec('0.5'), dec('5E-1')]);
});

test('strings compare as UTF-8 bytes with embedded NULs', () => {
  assertStrictlyIncreasing(['', '\u0000', '\u0000\u0000', '\u0001', 'A', 'a', 'a\u0000', 'a\u0000b', 'ab', 'b', 'é', '\uffff', '😀', '😀a']);
  assertAllEqual(['abc', new BSONSymbol('abc')]);
  // UTF-16 code-unit order would put '\uffff' after '😀' (a surrogate pair).
  assert.equal(compareBson('\uffff', '😀'), -1);
  assert.equal(encodedOrder('\uffff', '😀'), -1);
});

test('objects compare element by element: type, then name, then value, shorter first', () => {
  assertStrictlyIncreasing([
    {},
    { a: new MinKey() },
    { a: null },
    { b: null },
    { a: 1 },
    { a: 1, b: 0 },
    { a: 2 },
    { b: 1 },
    { a: 'x' },
    { a: {} },
    { a: { b: 1 } },
    { a: [] },
  ]);
  assertAllEqual([{ a: 1, b: 'x' }, { a: new Int32(1), b: new BSONSymbol('x') }]);
  // Field names order like strings, including a NUL-less prefix.
  assertStrictlyIncreasing([{ a: 1 }, { aa: 0 }, { ab: 0 }, { b: 0 }]);
});

test('arrays compare element by element, shorter first', () => {
  assertStrictlyIncreasing([[], [null], [1], [1, null], [1, 1], [1, [1]], [2], ['a'], [{}], [[]], [[1]], [true]]);
});

test('binary, ObjectId, dates, timestamps, regexes and code order by their contents', () => {
  assertStrictlyIncreasing([
    new Binary(new Uint8Array([9, 9]), 5),
    new Binary(new Uint8Array([1, 2, 3]), 0),
    new Binary(new Uint8Array([1, 2, 4]), 0),
    new Binary(new Uint8Array([0, 0, 0]), 1),
    new UUID('00000000-0000-0000-0000-000000000000'),
    new Binary(new Uint8Array(20)),
  ]);
  assertAllEqual([new Binary(Buffer.from('xyz')), Buffer.from('xyz')]);
  assertStrictlyIncreasing([oid('1'), oid('2'), oid('100'), new ObjectId('ffffffffffffffffffffffff')]);
  assertStrictlyIncreasing([new Date(-8.64e15), new Date(-1), new Date(0), new Date(1), new Date(2 ** 32), new Date(8.64e15)]);
  assertStrictlyIncreasing([
    new Timestamp({ t: 0, i: 1 }),
    new Timestamp({ t: 0, i: 0xffffffff }),
    new Timestamp({ t: 1, i: 0 }),
    new Timestamp({ t: 0xffffffff, i: 0 }),
  ]);
  assertStrictlyIncreasing([/a/, /a/i, /a/m, new BSONRegExp('a', 'x'), /ab/, /b/]);
  assertAllEqual([/a/im, new BSONRegExp('a', 'im')]);
  assertStrictlyIncreasing([new Code(''), new Code('x'), new Code('', {}), new Code('', { a: 1 }), new Code('x', {})]);
});

test('DBRef compares as its stored document', () => {
  const id = oid('7');
  assertAllEqual([new DBRef('c', id, 'db'), { $ref: 'c', $id: id, $db: 'db' }]);
});

test('canonicalTypeOrder uses MongoDB numbering', () => {
  assert.equal(canonicalTypeOrder(new MinKey()), -1);
  assert.equal(canonicalTypeOrder(undefined), 0);
  assert.equal(canonicalTypeOrder(null), 5);
  assert.equal(canonicalTypeOrder(Long.ONE), 10);
  assert.equal(canonicalTypeOrder(dec('1')), 10);
  assert.equal(canonicalTypeOrder(new BSONSymbol('s')), 15);
  assert.equal(canonicalTypeOrder({}), 20);
  assert.equal(canonicalTypeOrder([]), 25);
  assert.equal(canonicalTypeOrder(new UUID()), 30);
  assert.equal(canonicalTypeOrder(new ObjectId()), 35);
  assert.equal(canonicalTypeOrder(true), 40);
  assert.equal(canonicalTypeOrder(new Date()), 45);
  assert.equal(canonicalTypeOrder(new Timestamp({ t: 1, i: 1 })), 47);
  assert.equal(canonicalTypeOrder(/x/), 50);
  assert.equal(canonicalTypeOrder(new Code('x')), 60);
  assert.equal(canonicalTypeOrder(new Code('x', {})), 65);
  assert.equal(canonicalTypeOrder(new MaxKey()), 127);
  assert.throws(() => canonicalTypeOrder(() => 1), ArgonError);
  assert.throws(() => canonicalTypeOrder(new Map()), ArgonError);
});

test('every encoding starts with a type byte in 0x01..0xFE', () => {
  for (const value of [new MinKey(), undefined, null, 0, '', {}, [], new Binary(), new ObjectId(), false, new Date(), new Timestamp({ t: 0, i: 0 }), /a/, new Code(''), new Code('', {}), new MaxKey()]) {
    const first = encodeValue(value)[0]!;
    assert.ok(first >= 0x01 && first <= 0xfe, `type byte ${first} of ${describe(value)}`);
  }
});

test('compound keys sort component-wise with per-field direction', () => {
  const rows: unknown[][] = [
    [1, 'b'],
    [1, 'a'],
    [1, 'a\u0000'],
    [2, 'z'],
    [2, ''],
    ['x', [1]],
    ['x', []],
  ];
  const directions = [1, -1] as const;
  const sorted = [...rows].sort((a, b) => Buffer.compare(encodeCompound(a, directions), encodeCompound(b, directions)));
  assert.deepEqual(sorted, [
    [1, 'b'],
    [1, 'a\u0000'],
    [1, 'a'],
    [2, 'z'],
    [2, ''],
    ['x', [1]],
    ['x', []],
  ]);
  assert.deepEqual(encodeCompound([1, 'a'], [1, 1]), Buffer.concat([encodeValue(1), encodeValue('a')]));
  assert.throws(() => encodeCompound([1], [1, 1]), ArgonError);
});

test('prefixSuccessor increments the last non-0xFF byte', () => {
  assert.deepEqual(prefixSuccessor(Buffer.from([1, 2, 3])), Buffer.from([1, 2, 4]));
  assert.deepEqual(prefixSuccessor(Buffer.from([1, 0xff, 0xff])), Buffer.from([2]));
  assert.deepEqual(prefixSuccessor(Buffer.from([0x00, 0xfe, 0xff])), Buffer.from([0x00, 0xff]));
  assert.equal(prefixSuccessor(Buffer.from([0xff, 0xff])), null);
  assert.equal(prefixSuccessor(Buffer.alloc(0)), null);
  const prefix = encodeValue('ab').subarray(0, 3);
  const successor = prefixSuccessor(prefix)!;
  for (const s of ['ab', 'ab\u0000', 'abzzz', 'ab\uffff']) {
    assert.equal(byteOrder(encodeValue(s), successor), -1, s);
  }
  assert.equal(byteOrder(encodeValue('ac'), successor), 1);
});

test('keys longer than MAX_KEY_BYTES throw KeyTooLong', () => {
  const isKeyTooLong = (error: unknown): boolean =>
    error instanceof ArgonError && error.codeName === 'KeyTooLong' && error.message.includes(String(MAX_KEY_BYTES));
  assert.throws(() => encodeValue('x'.repeat(5000)), isKeyTooLong);
  assert.throws(() => encodeValue({ a: 'é'.repeat(600) }), isKeyTooLong);
  assert.throws(() => encodeCompound(['x'.repeat(600), 'y'.repeat(600)], [1, -1]), isKeyTooLong);
  // The limit is on the whole encoding: type byte + string + 2-byte terminator.
  assert.equal(encodeValue('x'.repeat(MAX_KEY_BYTES - 3)).length, MAX_KEY_BYTES);
  assert.throws(() => encodeValue('x'.repeat(MAX_KEY_BYTES - 2)), isKeyTooLong);
  // A failed encoding leaves no state behind.
  assert.deepEqual(encodeValue('a'), Buffer.from([0x11, 0x61, 0x00, 0x00]));
});

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Small alphabets make ties and shared prefixes common, which is where ordering bugs hide. */
const smallString = fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', 'é', '\uffff', '😀'), maxLength: 4 });
const anyString = fc.oneof(smallString, fc.string({ unit: 'binary', maxLength: 8 }));

const int64 = fc.oneof(
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.bigInt({ min: -2000n, max: 2000n }),
  fc
    .tuple(fc.constantFrom(2n ** 53n, 2n ** 54n, 2n ** 62n, INT64_MAX, -(2n ** 53n), INT64_MIN), fc.bigInt({ min: -3n, max: 3n }))
    .map(([base, offset]) => BigInt.asIntN(64, base + offset)),
);

const decimal = fc.oneof(
  fc.tuple(fc.bigInt({ min: -(10n ** 34n) + 1n, max: 10n ** 34n - 1n }), fc.integer({ min: -40, max: 40 })),
  fc.tuple(fc.bigInt({ min: -30n, max: 30n }), fc.integer({ min: -3, max: 3 })),
  fc.tuple(int64, fc.constant(0)),
  fc.tuple(fc.bigInt({ min: -(10n ** 34n) + 1n, max: 10n ** 34n - 1n }), fc.integer({ min: -6176, max: 6111 })),
).map(([coefficient, exponent]) => dec(`${coefficient}E${exponent}`));

const number = fc.oneof(
  fc.double(),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0.1, 0.5, 2 ** 53, 2 ** 63, -(2 ** 63), 1e308, -0),
  fc.integer().map((n) => new Int32(n)),
  fc.double().map((d) => new Double(d)),
  int64.map((n) => Long.fromBigInt(n)),
  int64,
  decimal,
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '-0', '0.1', '1.0', '9007199254740993').map(dec),
);

const leaf = fc.oneof(
  number,
  anyString,
  smallString.map((s) => new BSONSymbol(s)),
  fc.boolean(),
  fc.constantFrom(null, undefined, new MinKey(), new MaxKey()),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(bytes)),
  fc.constantFrom(oid('1'), oid('2')),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15) }),
  fc.tuple(fc.uint8Array({ maxLength: 4 }), fc.integer({ min: 0, max: 4 })).map(([bytes, subtype]) => new Binary(bytes, subtype)),
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })).map(([t, i]) => new Timestamp({ t, i })),
  fc.tuple(fc.constantFrom('a', 'b', 'a.b'), fc.constantFrom('', 'i', 'im')).map(([p, o]) => new BSONRegExp(p, o)),
  fc.constantFrom(new Code('a'), new Code('b'), new Code('a', { x: 1 })),
);

const { value: bsonValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'ab', '1', ''), tie('value'), { maxKeys: 3 }),
  ),
}));

/** Copies arrays and plain objects, sharing everything else, so the copy is equal but not identical. */
function deepCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepCopy);
  if (typeof value !== 'object' || value === null || '_bsontype' in value || !isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepCopy(v)]));
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Pairs where the second value is often derived from the first, so near-ties are frequent. */
const valuePair = fc.oneof(
  fc.tuple(bsonValue, bsonValue),
  bsonValue.map((v) => [v, deepCopy(v)] as [unknown, unknown]),
  fc.tuple(number, number),
  fc.tuple(anyString, anyString),
);

test('property: key byte order equals compareBson', () => {
  fc.assert(
    fc.property(valuePair, ([a, b]) => {
      const order = compareBson(a, b);
      assert.equal(compareBson(b, a), -order || 0);
      assert.equal(encodedOrder(a, b), order);
    }),
    { numRuns: 4000 },
  );
});

test('property: encodings are prefix-free', () => {
  fc.assert(
    fc.property(valuePair, ([a, b]) => {
      const keyA = encodeValue(a);
      const keyB = encodeValue(b);
      assert.ok(!isProperPrefix(keyA, keyB) && !isProperPrefix(keyB, keyA));
    }),
    { numRuns: 3000 },
  );
});

test('property: compound keys order component-wise with directions', () => {
  const rows = fc
    .integer({ min: 1, max: 3 })
    .chain((width) =>
      fc.tuple(
        fc.array(fc.constantFrom<1 | -1>(1, -1), { minLength: width, maxLength: width }),
        fc.array(valuePair, { minLength: width, maxLength: width }),
      ),
    );
  fc.assert(
    fc.property(rows, ([directions, pairs]) => {
      const left = pairs.map(([a]) => a);
      const right = pairs.map(([, b]) => b);
      let expected = 0;
      for (let i = 0; i < pairs.length && expected === 0; i++) expected = directions[i]! * compareBson(left[i], right[i]) || 0;
      const keyA = encodeCompound(left, directions);
      const keyB = encodeCompound(right, directions);
      assert.equal(byteOrder(keyA, keyB), expected);
      if (expected !== 0) assert.ok(!isProperPrefix(keyA, keyB) && !isProperPrefix(keyB, keyA));
    }),
    { numRuns: 3000 },
  );
});

test('property: compareBson on numbers agrees with exact decimal arithmetic', () => {
  // BigInt-scaled comparison of the decimal strings bson itself prints.
  const exact = (d: Decimal128): [bigint, number] => {
    const match = /^(-?)(\d+)(?:\.(\d+))?(?:E([+-]\d+))?$/.exec(d.toString())!;
    const fraction = match[3] ?? '';
    const mantissa = BigInt(`${match[1]}${match[2]}${fraction}`);
    return [mantissa, Number(match[4] ?? 0) - fraction.length];
  };
  const compareExact = ([ma, ea]: [bigint, number], [mb, eb]: [bigint, number]): number => {
    const e = Math.min(ea, eb);
    const a = ma * 10n ** BigInt(ea - e);
    const b = mb * 10n ** BigInt(eb - e);
    return a < b ? -1 : a > b ? 1 : 0;
  };
  const finite = fc.oneof(decimal, int64.map((n) => dec(n.toString())));
  fc.assert(
    fc.property(finite, finite, (a, b) => {
      assert.equal(compareBson(a, b), compareExact(exact(a), exact(b)));
      assert.equal(encodedOrder(a, b), compareExact(exact(a), exact(b)));
    }),
    { numRuns: 2000 },
  );
});
