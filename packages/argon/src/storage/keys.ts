/**
 * Order-preserving binary keys for BSON values.
 *
 * The storage engine keeps index and _id entries in a byte-ordered store, so a
 * value's key bytes must sort (Buffer.compare) exactly as MongoDB compares the
 * values (BSONObj::woCompare). `compareBson` is the same order written directly
 * on values; the query layer uses it and the tests use it as an oracle.
 *
 * Layout: every encoding starts with a type byte (canonical order + offset, all
 * within 0x01..0xFE) and is prefix-free, so encodings concatenate into compound
 * keys that still sort component by component, and descending components can be
 * stored as the bitwise NOT of their ascending bytes.
 */
import type {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  ObjectId,
  Timestamp,
} from 'bson';
import { ArgonError } from '../errors.js';

/** Longest key (single or compound) the store accepts, in bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * MongoDB's canonical type numbers (canonicalizeBSONType). Numbers share one
 * bracket, as do strings and symbols, because MongoDB compares them by value.
 */
const MIN_KEY = -1;
const UNDEFINED = 0;
const NULL = 5;
const NUMBER = 10;
const STRING = 15;
const OBJECT = 20;
const ARRAY = 25;
const BINDATA = 30;
const OBJECT_ID = 35;
const BOOLEAN = 40;
const DATE = 45;
const TIMESTAMP = 47;
const REGEXP = 50;
const CODE = 60;
const CODE_WITH_SCOPE = 65;
const MAX_KEY = 127;

/** Shifts canonical numbers (-1..127) into 0x01..0x81 so 0x00 stays free as the end marker. */
const TYPE_BYTE_OFFSET = 2;
/** Ends objects and arrays; below every type byte so shorter containers sort first. */
const END = 0x00;

/**
 * A number's key is its nearest double followed by where the exact value lies
 * relative to that double; values a double holds exactly all get EXACT, so
 * 1, Int32(1), Long(1) and Decimal128("1.0") share identical bytes.
 */
const BELOW_DOUBLE = 0x01;
const EXACT = 0x02;
const ABOVE_DOUBLE = 0x03;

const TYPE_BY_BSONTYPE = new Map<string, number>([
  ['Int32', NUMBER],
  ['Long', NUMBER],
  ['Double', NUMBER],
  ['Decimal128', NUMBER],
  ['BSONSymbol', STRING],
  ['DBRef', OBJECT],
  ['Binary', BINDATA],
  ['ObjectId', OBJECT_ID],
  ['Timestamp', TIMESTAMP],
  ['BSONRegExp', REGEXP],
  ['Code', CODE],
  ['MinKey', MIN_KEY],
  ['MaxKey', MAX_KEY],
]);

/** A finite, nonzero decimal: (-1)^negative × coefficient × 10^exponent. */
interface DecimalValue {
  readonly negative: boolean;
  readonly coefficient: bigint;
  readonly exponent: number;
}

/**
 * A numeric value in the cheapest exact form: doubles (also Int32 and
 * Decimal128 NaN/Infinity/zero) as number, int64 as bigint, other Decimal128.
 */
type Numeric = number | bigint | DecimalValue;

/** mantissa × 2^pow2 × 10^pow10: a common exact form where doubles, int64 and decimals meet. */
interface Exact {
  readonly mantissa: bigint;
  readonly pow2: number;
  readonly pow10: number;
}

type Document = Record<string, unknown>;

// ---------------------------------------------------------------------------
// Type classification
// ---------------------------------------------------------------------------

/**
 * MongoDB's canonical type order of a value, using MongoDB's own numbers:
 * MinKey -1, Undefined 0, Null 5, numbers 10, string/symbol 15, object 20,
 * array 25, BinData 30, ObjectId 35, Boolean 40, Date 45, Timestamp 47,
 * RegExp 50, Code 60, Code with scope 65, MaxKey 127.
 */
export function canonicalTypeOrder(value: unknown): number {
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return NUMBER;
    case 'string':
      return STRING;
    case 'boolean':
      return BOOLEAN;
    case 'undefined':
      return UNDEFINED;
    case 'object':
      return value === null ? NULL : objectTypeOrder(value);
    default:
      throw unsupported(value);
  }
}

function objectTypeOrder(value: object): number {
  const tag = (value as { _bsontype?: unknown })._bsontype;
  if (typeof tag === 'string') {
    const order = TYPE_BY_BSONTYPE.get(tag);
    if (order === undefined) throw unsupported(value);
    return order === CODE && (value as Code).scope != null ? CODE_WITH_SCOPE : order;
  }
  if (Array.isArray(value)) return ARRAY;
  if (value instanceof Date) return DATE;
  if (value instanceof RegExp) return REGEXP;
  if (value instanceof Uint8Array) return BINDATA;
  // bson would write these as documents with a different shape than Object.keys sees.
  if (value instanceof Map || value instanceof Set) throw unsupported(value);
  return OBJECT;
}

function unsupported(value: unknown): ArgonError {
  const name = typeof value === 'object' && value !== null ? value.constructor?.name : typeof value;
  return new ArgonError('BadValue', `cannot use a value of type ${String(name)} as a BSON key`);
}

// ---------------------------------------------------------------------------
// Views of each type that both the encoder and the comparator read
// ---------------------------------------------------------------------------

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : (value as BSONSymbol).value;
}

/** DBRefs are stored as {$ref, $id, $db?, ...fields}, so they compare as that document. */
function documentOf(value: unknown): Document {
  if ((value as { _bsontype?: unknown })._bsontype !== 'DBRef') return value as Document;
  const ref = value as DBRef;
  const doc: Document = { $ref: ref.collection, $id: ref.oid };
  if (ref.db != null) doc.$db = ref.db;
  return Object.assign(doc, ref.fields);
}

function binaryBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  const binary = value as Binary;
  return binary.buffer.subarray(0, binary.position);
}

function binarySubtype(value: unknown): number {
  return value instanceof Uint8Array ? 0 : (value as Binary).sub_type;
}

/** bson serializes an invalid Date as 0 ms, so it compares as the epoch. */
function dateMillis(value: unknown): number {
  const ms = (value as Date).getTime();
  return Number.isNaN(ms) ? 0 : ms;
}

/** [pattern, options] exactly as the bson serializer writes them (JS `g` becomes BSON `s`). */
function regexParts(value: unknown): [string, string] {
  if (value instanceof RegExp) {
    const options = (value.ignoreCase ? 'i' : '') + (value.global ? 's' : '') + (value.multiline ? 'm' : '');
    return [value.source, options];
  }
  const regex = value as BSONRegExp;
  return [regex.pattern, regex.options.split('').sort().join('')];
}

function numericOf(value: unknown): Numeric {
  if (typeof value === 'number' || typeof value === 'bigint') {
    return typeof value === 'bigint' ? BigInt.asIntN(64, value) : value;
  }
  switch ((value as { _bsontype: string })._bsontype) {
    case 'Long': {
      const long = value as Long;
      // Below 2^53 in magnitude a double is exact, which spares BigInt work on the common case.
      return long.high >= -0x200000 && long.high < 0x200000
        ? long.high * 0x100000000 + (long.low >>> 0)
        : BigInt.asIntN(64, long.toBigInt());
    }
    case 'Decimal128':
      return decimalOf(value as Decimal128);
    default:
      return (value as Int32 | Double).value;
  }
}

const MAX_DECIMAL_COEFFICIENT = 10n ** 34n - 1n;

/** Reads the IEEE 754 BID encoding; NaN, infinities and zeros become doubles, which hold them exactly. */
function decimalOf(value: Decimal128): number | DecimalValue {
  const bytes = value.bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const high = view.getBigUint64(8, true);
  const low = view.getBigUint64(0, true);
  const negative = high >> 63n === 1n;
  const combination = Number((high >> 58n) & 0x1fn);
  if (combination === 0x1f) return NaN;
  if (combination === 0x1e) return negative ? -Infinity : Infinity;
  // The "11" form implies a coefficient >= 2^113, which IEEE 754 treats as zero.
  if (((high >> 61n) & 3n) === 3n) return 0;
  const coefficient = ((high & 0x1ffffffffffffn) << 64n) | low;
  if (coefficient === 0n || coefficient > MAX_DECIMAL_COEFFICIENT) return 0;
  return { negative, coefficient, exponent: Number((high >> 49n) & 0x3fffn) - 6176 };
}

// ---------------------------------------------------------------------------
// Exact numeric arithmetic (rare path: int64 beyond 2^53 and Decimal128)
// ---------------------------------------------------------------------------

const doubleView = new DataView(new ArrayBuffer(8));

function exactOfDouble(d: number): Exact {
  doubleView.setFloat64(0, d);
  const hi = doubleView.getUint32(0);
  const biasedExponent = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(doubleView.getUint32(4));
  if (biasedExponent !== 0) mantissa |= 1n << 52n;
  return { mantissa: hi >>> 31 ? -mantissa : mantissa, pow2: Math.max(biasedExponent, 1) - 1075, pow10: 0 };
}

/** `value` must be finite. */
function exactOf(value: Numeric): Exact {
  if (typeof value === 'number') return exactOfDouble(value);
  if (typeof value === 'bigint') return { mantissa: value, pow2: 0, pow10: 0 };
  const mantissa = value.negative ? -value.coefficient : value.coefficient;
  return { mantissa, pow2: 0, pow10: value.exponent };
}

function compareExact(a: Exact, b: Exact): number {
  const pow2 = Math.min(a.pow2, b.pow2);
  const pow10 = Math.min(a.pow10, b.pow10);
  return compareScalars(scaleUp(a, pow2, pow10), scaleUp(b, pow2, pow10));
}

function scaleUp(value: Exact, pow2: number, pow10: number): bigint {
  return (value.mantissa << BigInt(value.pow2 - pow2)) * 10n ** BigInt(value.pow10 - pow10);
}

/** Correctly rounded (V8's string-to-double is exact), hence monotone in the decimal value. */
function nearestDouble(value: bigint | DecimalValue): number {
  if (typeof value === 'bigint') return Number(value);
  return Number.parseFloat(`${value.negative ? '-' : ''}${value.coefficient}e${value.exponent}`);
}

function compareScalars(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** NaN equals NaN and sorts below every other number; -0 equals 0. */
function compareDoubles(a: number, b: number): number {
  if (a !== a) return b !== b ? 0 : -1;
  if (b !== b) return 1;
  return compareScalars(a, b);
}

function compareNumbers(a: Numeric, b: Numeric): number {
  if (typeof a === 'number' && typeof b === 'number') return compareDoubles(a, b);
  if (typeof a === 'bigint' && typeof b === 'bigint') return compareScalars(a, b);
  // Only doubles can be NaN or infinite; against any finite value they decide alone.
  if (typeof a === 'number' && !Number.isFinite(a)) return a !== a ? -1 : Math.sign(a);
  if (typeof b === 'number' && !Number.isFinite(b)) return b !== b ? 1 : -Math.sign(b);
  return compareExact(exactOf(a), exactOf(b));
}

// ---------------------------------------------------------------------------
// Comparator
// ---------------------------------------------------------------------------

/** Two BSON values in MongoDB order: -1, 0 or 1. */
export function compareBson(a: unknown, b: unknown): number {
  const typeA = canonicalTypeOrder(a);
  const typeB = canonicalTypeOrder(b);
  if (typeA !== typeB) return typeA < typeB ? -1 : 1;
  return compareSameType(a, b, typeA);
}

function compareSameType(a: unknown, b: unknown, type: number): number {
  switch (type) {
    case NUMBER:
      return compareNumbers(numericOf(a), numericOf(b));
    case STRING:
      return compareUtf8(stringOf(a), stringOf(b));
    case OBJECT:
      return compareDocuments(documentOf(a), documentOf(b));
    case ARRAY:
      return compareArrays(a as readonly unknown[], b as readonly unknown[]);
    case BINDATA:
      return compareBinaries(a, b);
    case OBJECT_ID:
      return Math.sign(Buffer.compare((a as ObjectId).id, (b as ObjectId).id));
    case BOOLEAN:
      return compareScalars(Number(a), Number(b));
    case DATE:
      return compareScalars(dateMillis(a), dateMillis(b));
    case TIMESTAMP:
      return compareTimestamps(a as Timestamp, b as Timestamp);
    case REGEXP:
      return compareRegexes(a, b);
    case CODE:
      return compareUtf8((a as Code).code, (b as Code).code);
    case CODE_WITH_SCOPE:
      return (
        compareUtf8((a as Code).code, (b as Code).code) ||
        compareDocuments((a as Code).scope as Document, (b as Code).scope as Document)
      );
    default:
      return 0; // MinKey, MaxKey, null and undefined carry no value.
  }
}

/**
 * UTF-8 byte order equals code point order, which differs from UTF-16 unit
 * order only where surrogates are involved; those (and lone surrogates, which
 * UTF-8 encoding replaces by U+FFFD) take the slow, exact path.
 */
function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i < length) {
    const unitA = a.charCodeAt(i);
    const unitB = b.charCodeAt(i);
    if (!isSurrogate(unitA) && !isSurrogate(unitB)) return unitA < unitB ? -1 : 1;
  } else if (i === 0 || !isSurrogate(a.charCodeAt(i - 1))) {
    return compareScalars(a.length, b.length);
  }
  return Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

function isSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdfff;
}

/** Element by element: type, then field name, then value; a prefix sorts first. */
function compareDocuments(a: Document, b: Document): number {
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  const length = Math.min(keysA.length, keysB.length);
  for (let i = 0; i < length; i++) {
    const valueA = a[keysA[i]];
    const valueB = b[keysB[i]];
    const typeA = canonicalTypeOrder(valueA);
    const typeB = canonicalTypeOrder(valueB);
    if (typeA !== typeB) return typeA < typeB ? -1 : 1;
    const order = compareUtf8(keysA[i], keysB[i]) || compareSameType(valueA, valueB, typeA);
    if (order !== 0) return order;
  }
  return compareScalars(keysA.length, keysB.length);
}

function compareArrays(a: readonly unknown[], b: readonly unknown[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const order = compareBson(a[i], b[i]);
    if (order !== 0) return order;
  }
  return compareScalars(a.length, b.length);
}

/** MongoDB orders BinData by length, then subtype, then bytes. */
function compareBinaries(a: unknown, b: unknown): number {
  const bytesA = binaryBytes(a);
  const bytesB = binaryBytes(b);
  return (
    compareScalars(bytesA.length, bytesB.length) ||
    compareScalars(binarySubtype(a), binarySubtype(b)) ||
    Math.sign(Buffer.compare(bytesA, bytesB))
  );
}

function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return compareScalars(a.t, b.t) || compareScalars(a.i, b.i);
}

function compareRegexes(a: unknown, b: unknown): number {
  const [patternA, optionsA] = regexParts(a);
  const [patternB, optionsB] = regexParts(b);
  return compareUtf8(patternA, patternB) || compareUtf8(optionsA, optionsB);
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

/**
 * Keys are built in one scratch buffer sized to the key limit and copied out
 * once; encoding is synchronous, so a single module-level writer is safe, and
 * oversized keys fail as soon as they cross the limit.
 */
class KeyWriter {
  readonly buf = Buffer.allocUnsafe(MAX_KEY_BYTES);
  pos = 0;

  /** Claims `n` bytes and returns where they start. */
  reserve(n: number): number {
    const at = this.pos;
    if (at + n > MAX_KEY_BYTES) {
      throw new ArgonError('KeyTooLong', `index key is longer than the ${MAX_KEY_BYTES}-byte limit (MAX_KEY_BYTES)`);
    }
    this.pos = at + n;
    return at;
  }

  byte(b: number): void {
    this.buf[this.reserve(1)] = b;
  }

  bytes(data: Uint8Array): void {
    this.buf.set(data, this.reserve(data.length));
  }

  uint32(n: number): void {
    this.buf.writeUInt32BE(n, this.reserve(4));
  }

  utf8(s: string): void {
    const length = Buffer.byteLength(s, 'utf8');
    this.buf.write(s, this.reserve(length), length, 'utf8');
  }

  /** Flips bytes [from, to): reverses their order for descending keys and negative numbers. */
  invert(from: number, to: number = this.pos): void {
    const buf = this.buf;
    for (let i = from; i < to; i++) buf[i] = ~buf[i] & 0xff;
  }

  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

const writer = new KeyWriter();

/** Encode one value ascending. */
export function encodeValue(value: unknown): Buffer {
  writer.pos = 0;
  writeValue(writer, value);
  return writer.take();
}

/**
 * Encode a compound key: one value per field, each ascending (1) or descending
 * (-1). Descending components are the bitwise NOT of the ascending bytes, which
 * reverses their order because no encoding is a prefix of another.
 */
export function encodeCompound(values: readonly unknown[], directions: readonly (1 | -1)[]): Buffer {
  if (values.length !== directions.length) {
    throw new ArgonError('BadValue', `compound key has ${values.length} values but ${directions.length} directions`);
  }
  writer.pos = 0;
  for (let i = 0; i < values.length; i++) {
    const start = writer.pos;
    writeValue(writer, values[i]);
    if (directions[i] === -1) writer.invert(start);
  }
  return writer.take();
}

/** Smallest byte string greater than every string starting with `prefix`; null if none exists (all 0xFF). */
export function prefixSuccessor(prefix: Uint8Array): Buffer | null {
  let last = prefix.length - 1;
  while (last >= 0 && prefix[last] === 0xff) last--;
  if (last < 0) return null;
  const out = Buffer.from(prefix.subarray(0, last + 1));
  out[last] += 1;
  return out;
}

function writeValue(w: KeyWriter, value: unknown): void {
  const type = canonicalTypeOrder(value);
  w.byte(type + TYPE_BYTE_OFFSET);
  writeBody(w, value, type);
}

function writeBody(w: KeyWriter, value: unknown, type: number): void {
  switch (type) {
    case NUMBER:
      return writeNumber(w, numericOf(value));
    case STRING:
      return writeString(w, stringOf(value));
    case OBJECT:
      return writeDocument(w, documentOf(value));
    case ARRAY:
      return writeArray(w, value as readonly unknown[]);
    case BINDATA:
      return writeBinary(w, value);
    case OBJECT_ID:
      return w.bytes((value as ObjectId).id);
    case BOOLEAN:
      return w.byte(value ? 1 : 0);
    case DATE:
      return writeSortableInt53(w, dateMillis(value));
    case TIMESTAMP:
      w.uint32((value as Timestamp).t);
      return w.uint32((value as Timestamp).i);
    case REGEXP: {
      const [pattern, options] = regexParts(value);
      writeString(w, pattern);
      return writeString(w, options);
    }
    case CODE:
      return writeString(w, (value as Code).code);
    case CODE_WITH_SCOPE:
      writeString(w, (value as Code).code);
      return writeDocument(w, (value as Code).scope as Document);
    default:
      return; // MinKey, MaxKey, null and undefined are their type byte alone.
  }
}

/**
 * UTF-8 with 0x00 escaped as 00 FF and terminated by 00 00: the terminator
 * sorts below any continuation, so "a" < "a\0" < "ab" and no string's
 * encoding is a prefix of another's.
 */
function writeString(w: KeyWriter, s: string): void {
  if (s.length > SHORT_STRING || !writeShortAscii(w, s)) writeEscapedUtf8(w, s);
  const at = w.reserve(2);
  w.buf[at] = 0x00;
  w.buf[at + 1] = 0x00;
}

function writeEscapedUtf8(w: KeyWriter, s: string): void {
  if (s.indexOf('\u0000') === -1) return w.utf8(s);
  const parts = s.split('\u0000');
  w.utf8(parts[0]);
  for (let i = 1; i < parts.length; i++) {
    w.byte(0x00);
    w.byte(0xff);
    w.utf8(parts[i]);
  }
}

/** Below this length, copying char codes beats the two native calls of the UTF-8 path. */
const SHORT_STRING = 64;

/** Writes `s` if it is NUL-free ASCII; otherwise writes nothing and returns false. */
function writeShortAscii(w: KeyWriter, s: string): boolean {
  const at = w.reserve(s.length);
  const buf = w.buf;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code === 0 || code >= 0x80) {
      w.pos = at;
      return false;
    }
    buf[at + i] = code;
  }
  return true;
}

function writeDocument(w: KeyWriter, doc: Document): void {
  for (const key of Object.keys(doc)) {
    const value = doc[key];
    const type = canonicalTypeOrder(value);
    w.byte(type + TYPE_BYTE_OFFSET);
    writeString(w, key);
    writeBody(w, value, type);
  }
  w.byte(END);
}

function writeArray(w: KeyWriter, values: readonly unknown[]): void {
  for (let i = 0; i < values.length; i++) writeValue(w, values[i]);
  w.byte(END);
}

function writeBinary(w: KeyWriter, value: unknown): void {
  const bytes = binaryBytes(value);
  w.uint32(bytes.length);
  w.byte(binarySubtype(value));
  w.bytes(bytes);
}

/** Signed integers up to 2^53 as 8 big-endian bytes with the sign bit flipped. */
function writeSortableInt53(w: KeyWriter, n: number): void {
  const high = Math.floor(n / 0x100000000);
  w.uint32((high ^ 0x80000000) >>> 0);
  w.uint32(n - high * 0x100000000);
}

/**
 * Nearest double, then BELOW/EXACT/ABOVE. Rounding to nearest is monotone, so
 * the double alone orders values whose doubles differ; values sharing a double
 * are ordered by the side byte and, for inexact ones, by their exact digits.
 */
function writeNumber(w: KeyWriter, value: Numeric): void {
  if (typeof value === 'number') {
    writeSortableDouble(w, value);
    return w.byte(EXACT);
  }
  const nearest = nearestDouble(value);
  writeSortableDouble(w, nearest);
  const side = sideOfDouble(value, nearest);
  if (side === 0) return w.byte(EXACT);
  w.byte(side < 0 ? BELOW_DOUBLE : ABOVE_DOUBLE);
  writeExactDigits(w, typeof value === 'bigint' ? decimalOfBigInt(value) : value);
}

/** Sign of (value - nearest), exactly. Decimals beyond the double range round to ±Infinity. */
function sideOfDouble(value: bigint | DecimalValue, nearest: number): number {
  if (typeof value === 'bigint') {
    return Number.isSafeInteger(nearest) ? 0 : compareScalars(value, BigInt(nearest));
  }
  if (!Number.isFinite(nearest)) return -Math.sign(nearest);
  return compareExact(exactOf(value), exactOfDouble(nearest));
}

function decimalOfBigInt(value: bigint): DecimalValue {
  return { negative: value < 0n, coefficient: value < 0n ? -value : value, exponent: 0 };
}

/**
 * IEEE bits, made unsigned-sortable: negatives are inverted, positives get the
 * sign bit set. NaN becomes all zeros, below -Infinity (000F FFFF ...).
 */
function writeSortableDouble(w: KeyWriter, d: number): void {
  const at = w.reserve(8);
  const buf = w.buf;
  if (d !== d) {
    buf.fill(0, at, at + 8);
    return;
  }
  buf.writeDoubleBE(d === 0 ? 0 : d, at);
  if (buf[at] & 0x80) w.invert(at, at + 8);
  else buf[at] |= 0x80;
}

/**
 * The exact value as 0.d1d2...dn × 10^e with trailing zeros dropped (so equal
 * values from Long and Decimal128 match): e as offset 16-bit, digits as bytes
 * 1..10, then 0x00. Negatives are inverted so larger magnitudes sort first.
 */
function writeExactDigits(w: KeyWriter, value: DecimalValue): void {
  const all = value.coefficient.toString();
  let end = all.length;
  while (all.charCodeAt(end - 1) === 0x30) end--;
  const at = w.reserve(3 + end);
  const buf = w.buf;
  buf.writeUInt16BE(all.length + value.exponent + 0x8000, at);
  for (let i = 0; i < end; i++) buf[at + 2 + i] = all.charCodeAt(i) - 0x2f;
  buf[at + 2 + end] = 0x00;
  if (value.negative) w.invert(at, at + 3 + end);
}
