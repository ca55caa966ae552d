/**
 * Value helpers shared by the query layer: BSON type names, numeric views of the
 * bson wrapper classes (Int32, Double, Long, Decimal128) and plain JS numbers,
 * exact equality, and dotted-path access.
 */
import { Decimal128, Double, Int32, Long, serialize } from 'bson';
import { ArgonError } from '../errors.js';
import { canonicalTypeOrder, compareBson } from '../storage/keys.js';

export type Document = Record<string, unknown>;

export { compareBson, canonicalTypeOrder };

/** Numeric BSON kinds, ordered by how MongoDB widens them in arithmetic. */
export type NumKind = 'int' | 'long' | 'double' | 'decimal';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function tagOf(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const t = (v as { _bsontype?: unknown })._bsontype;
  return typeof t === 'string' ? t : undefined;
}

/** True for a plain JS object (a BSON embedded document), not arrays or BSON wrappers. */
export function isPlainObject(v: unknown): v is Document {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  if (tagOf(v) !== undefined) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function isNumeric(v: unknown): boolean {
  if (typeof v === 'number' || typeof v === 'bigint') return true;
  const t = tagOf(v);
  return t === 'Int32' || t === 'Double' || t === 'Long' || t === 'Decimal128';
}

/** The BSON numeric kind a value is stored as (JS numbers as the bson serializer writes them). */
export function numKind(v: unknown): NumKind | undefined {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX && !Object.is(v, -0) ? 'int' : 'double';
  }
  if (typeof v === 'bigint') return 'long';
  switch (tagOf(v)) {
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Long':
      return 'long';
    case 'Decimal128':
      return 'decimal';
    default:
      return undefined;
  }
}

/** A numeric value as a JS number (Long and Decimal128 may round). */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  switch (tagOf(v)) {
    case 'Int32':
    case 'Double':
      return (v as Int32 | Double).value;
    case 'Long':
      return (v as Long).toNumber();
    case 'Decimal128':
      return Number.parseFloat((v as Decimal128).toString());
    default:
      return NaN;
  }
}

/** An integral numeric value as a BigInt, or undefined if not integral / not numeric. */
export function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  const t = tagOf(v);
  if (t === 'Long') return (v as Long).toBigInt();
  if (t === 'Decimal128') {
    const d = parseDecimal((v as Decimal128).toString());
    if (!d) return undefined;
    if (d.exp >= 0) return d.coef * 10n ** BigInt(d.exp);
    const div = 10n ** BigInt(-d.exp);
    return d.coef % div === 0n ? d.coef / div : undefined;
  }
  const n = typeof v === 'number' ? v : t === 'Int32' || t === 'Double' ? (v as Int32).value : NaN;
  if (!Number.isFinite(n) || !Number.isInteger(n)) return undefined;
  return BigInt(n);
}

/** MongoDB's $type names, keyed by a value's stored BSON type. */
export function bsonTypeName(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return numKind(v)!;
    case 'object':
      break;
    default:
      return 'unknown';
  }
  const t = tagOf(v);
  if (t !== undefined) {
    const numeric = numKind(v);
    if (numeric) return numeric;
    switch (t) {
      case 'ObjectId':
        return 'objectId';
      case 'Binary':
        return 'binData';
      case 'Timestamp':
        return 'timestamp';
      case 'BSONRegExp':
        return 'regex';
      case 'BSONSymbol':
        return 'symbol';
      case 'Code':
        return (v as { scope?: unknown }).scope != null ? 'javascriptWithScope' : 'javascript';
      case 'MinKey':
        return 'minKey';
      case 'MaxKey':
        return 'maxKey';
      case 'DBRef':
        return 'object';
      default:
        return 'unknown';
    }
  }
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp) return 'regex';
  if (v instanceof Uint8Array) return 'binData';
  return 'object';
}

export const TYPE_NUMBERS: Record<string, number> = {
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  undefined: 6,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  dbPointer: 12,
  javascript: 13,
  symbol: 14,
  javascriptWithScope: 15,
  int: 16,
  timestamp: 17,
  long: 18,
  decimal: 19,
  minKey: -1,
  maxKey: 127,
};

/** Equal in MongoDB's comparison order (1, Int32(1), 1.0 and Long(1) are all equal). */
export function bsonEquals(a: unknown, b: unknown): boolean {
  return compareBson(a === undefined ? null : a, b === undefined ? null : b) === 0;
}

/** Byte-identical once stored (types included): how MongoDB decides an update was a no-op. */
export function identical(a: unknown, b: unknown): boolean {
  try {
    return Buffer.from(serialize({ v: a })).equals(Buffer.from(serialize({ v: b })));
  } catch {
    return false;
  }
}

/** Deep copy of a document tree; BSON wrappers, Dates and binaries are immutable here and shared. */
export function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map((e) => clone(e)) as T;
  if (isPlainObject(v)) {
    const out: Document = {};
    for (const k of Object.keys(v)) out[k] = clone(v[k]);
    return out as T;
  }
  return v;
}

// ---------------------------------------------------------------------------
// Decimal arithmetic (exact, rounded once into Decimal128)
// ---------------------------------------------------------------------------

interface Dec {
  coef: bigint; // signed
  exp: number;
}

function parseDecimal(s: string): Dec | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  let coef = BigInt(digits === '' ? '0' : digits);
  if (m[1] === '-') coef = -coef;
  return { coef, exp: Number(m[4] ?? 0) - (m[3] ?? '').length };
}

function decOf(v: unknown): Dec | number {
  if (tagOf(v) === 'Decimal128') {
    const s = (v as Decimal128).toString();
    return parseDecimal(s) ?? (s.includes('NaN') ? NaN : s.startsWith('-') ? -Infinity : Infinity);
  }
  const kind = numKind(v);
  if (kind === 'long' || kind === 'int') return { coef: toBigInt(v)!, exp: 0 };
  const n = toNumber(v);
  if (!Number.isFinite(n)) return n;
  // Doubles convert to decimal with 15 significant digits, as MongoDB does.
  return parseDecimal(n.toPrecision(15))!;
}

function decToDecimal128(d: Dec): Decimal128 {
  const s = `${d.coef}E${d.exp}`;
  const withRounding = (Decimal128 as unknown as { fromStringWithRounding?: (s: string) => Decimal128 }).fromStringWithRounding;
  return withRounding ? withRounding(s) : Decimal128.fromString(s);
}

function decArith(op: 'add' | 'mul', a: unknown, b: unknown): Decimal128 {
  const x = decOf(a);
  const y = decOf(b);
  if (typeof x === 'number' || typeof y === 'number') {
    const r = op === 'add' ? toNumber(a) + toNumber(b) : toNumber(a) * toNumber(b);
    return Decimal128.fromString(Number.isNaN(r) ? 'NaN' : r === Infinity ? 'Infinity' : r === -Infinity ? '-Infinity' : String(r));
  }
  if (op === 'mul') return decToDecimal128({ coef: x.coef * y.coef, exp: x.exp + y.exp });
  const exp = Math.min(x.exp, y.exp);
  const coef = x.coef * 10n ** BigInt(x.exp - exp) + y.coef * 10n ** BigInt(y.exp - exp);
  return decToDecimal128({ coef, exp });
}

// ---------------------------------------------------------------------------
// Typed arithmetic ($inc, $mul): MongoDB's widening rules
// ---------------------------------------------------------------------------

const KIND_RANK: Record<NumKind, number> = { int: 0, long: 1, double: 2, decimal: 3 };

/** Produces a value of `kind`; plain JS numbers are kept when both inputs were plain and bson would store the same type. */
function make(kind: NumKind, n: number | bigint, plain: boolean): unknown {
  if (kind === 'int') return plain ? Number(n) : new Int32(Number(n));
  if (kind === 'long') return Long.fromBigInt(BigInt(n));
  const d = Number(n);
  return plain && numKind(d) === 'double' ? d : new Double(d);
}

/** a + b (op 'add') or a × b (op 'mul') with MongoDB's result types. */
export function arith(op: 'add' | 'mul', a: unknown, b: unknown): unknown {
  const ka = numKind(a)!;
  const kb = numKind(b)!;
  const kind = KIND_RANK[ka] >= KIND_RANK[kb] ? ka : kb;
  const plain = typeof a === 'number' && typeof b === 'number';
  if (kind === 'decimal') return decArith(op, a, b);
  if (kind === 'double') {
    const x = toNumber(a);
    const y = toNumber(b);
    return make('double', op === 'add' ? x + y : x * y, plain);
  }
  const x = toBigInt(a)!;
  const y = toBigInt(b)!;
  const r = op === 'add' ? x + y : x * y;
  if (kind === 'int' && r >= BigInt(INT32_MIN) && r <= BigInt(INT32_MAX)) return make('int', r, plain);
  if (r >= -(2n ** 63n) && r < 2n ** 63n) return make('long', r, plain);
  // int64 overflow: MongoDB falls back to double.
  return make('double', op === 'add' ? Number(x) + Number(y) : Number(x) * Number(y), false);
}

/** Zero of the given value's numeric kind ($mul on a missing field). */
export function zeroLike(v: unknown): unknown {
  switch (numKind(v)) {
    case 'long':
      return Long.fromNumber(0);
    case 'double':
      return new Double(0);
    case 'decimal':
      return Decimal128.fromString('0');
    default:
      return typeof v === 'number' ? 0 : new Int32(0);
  }
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

export function isIndexPart(part: string): boolean {
  return /^(0|[1-9]\d*)$/.test(part);
}

/** The value at a dotted path without array expansion (numeric parts index arrays). */
export function getPath(doc: unknown, path: string | string[]): unknown {
  const parts = typeof path === 'string' ? path.split('.') : path;
  let cur: unknown = doc;
  for (const part of parts) {
    if (Array.isArray(cur)) {
      if (!isIndexPart(part)) return undefined;
      cur = cur[Number(part)];
    } else if (isPlainObject(cur)) {
      cur = Object.prototype.hasOwnProperty.call(cur, part) ? cur[part] : undefined;
    } else {
      return undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

export function badValue(message: string): ArgonError {
  return new ArgonError('BadValue', message);
}

/** Short JSON-ish rendering used in error messages. */
export function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => {
      if (typeof x === 'bigint') return `${x}`;
      const t = tagOf(x);
      if (t === 'Int32' || t === 'Double') return (x as Int32).value;
      if (t !== undefined && typeof (x as { toString?: unknown }).toString === 'function') return String(x);
      return x;
    }) ?? 'undefined';
  } catch {
    return String(v);
  }
}
