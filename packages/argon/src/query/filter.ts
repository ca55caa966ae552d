/**
 * Query filters (find, update, delete, $match) with MongoDB's semantics:
 * dotted paths traverse arrays, a leaf array matches when the array itself or
 * any element matches, comparisons stay within a type bracket, null matches
 * missing fields. Works on bson wrapper values (Int32, Long, ...) and plain JS.
 */
import { ArgonError } from '../errors.js';
import { compileExprPredicate, type ExprContext } from './expr.js';
import { compileSchema } from './schema.js';
import {
  badValue,
  bsonTypeName,
  canonicalTypeOrder,
  clone,
  compareBson,
  isIndexPart,
  isNumeric,
  isPlainObject,
  numKind,
  toBigInt,
  toNumber,
  TYPE_NUMBERS,
  type Document,
} from './values.js';

export type Predicate = (doc: Document) => boolean;
/** Tests the values found at one path (undefined = missing). */
type PathTest = (values: unknown[]) => boolean;
type ValueTest = (v: unknown) => boolean;

/** Compiles a filter document into a predicate. Throws ArgonError on malformed filters. */
export function compileFilter(filter: Document | undefined | null, ctx: ExprContext = {}): Predicate {
  if (filter == null) return () => true;
  if (!isPlainObject(filter)) throw badValue('filter must be an object');
  const parts: Predicate[] = [];
  for (const key of Object.keys(filter)) {
    const p = compileEntry(key, filter[key], ctx);
    if (p) parts.push(p);
  }
  return and(parts);
}

function and(parts: Predicate[]): Predicate {
  if (parts.length === 0) return () => true;
  if (parts.length === 1) return parts[0]!;
  return (doc) => parts.every((p) => p(doc));
}

function compileEntry(key: string, value: unknown, ctx: ExprContext): Predicate | null {
  if (key.startsWith('$')) {
    switch (key) {
      case '$and':
      case '$or':
      case '$nor': {
        if (!Array.isArray(value) || value.length === 0) throw badValue(`${key} must be a nonempty array`);
        const subs = value.map((v) => {
          if (!isPlainObject(v)) throw badValue(`${key} argument's entries must be objects`);
          return compileFilter(v, ctx);
        });
        if (key === '$and') return and(subs);
        if (key === '$or') return (doc) => subs.some((p) => p(doc));
        return (doc) => !subs.some((p) => p(doc));
      }
      case '$expr':
        return compileExprPredicate(value, ctx);
      case '$jsonSchema': {
        if (!isPlainObject(value)) throw badValue('$jsonSchema must be an object');
        const test = compileSchema(value);
        return (doc) => test(doc);
      }
      case '$comment':
        return null;
      case '$alwaysTrue':
        return () => true;
      case '$alwaysFalse':
        return () => false;
      case '$where':
        throw badValue('$where is not supported');
      case '$text':
        throw new ArgonError('IndexNotFound', 'text index required for $text query');
      default:
        throw badValue(`unknown top level operator: ${key}`);
    }
  }
  const parts = key.split('.');
  const test = compileCondition(value, ctx);
  return (doc) => test(collectValues(doc, parts));
}

// ---------------------------------------------------------------------------
// Path traversal
// ---------------------------------------------------------------------------

/**
 * The values a dotted path reaches, traversing arrays of subdocuments (leaf
 * arrays are returned whole). Returns [undefined] when nothing is found.
 */
export function collectValues(doc: unknown, parts: string[]): unknown[] {
  const out: unknown[] = [];
  collect(doc, parts, 0, out);
  if (out.length === 0) out.push(undefined);
  return out;
}

function collect(value: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    out.push(value);
    return;
  }
  const part = parts[i]!;
  if (Array.isArray(value)) {
    if (isIndexPart(part)) {
      const e = value[Number(part)];
      if (e !== undefined) collect(e, parts, i + 1, out);
    }
    for (const e of value) if (isPlainObject(e)) collect(e, parts, i, out);
    return;
  }
  if (isPlainObject(value)) {
    const child = Object.prototype.hasOwnProperty.call(value, part) ? value[part] : undefined;
    if (child === undefined) out.push(undefined);
    else collect(child, parts, i + 1, out);
    return;
  }
  out.push(undefined);
}

/** Tests a value and, if it is an array, each element. */
function expanding(test: ValueTest): PathTest {
  return (values) => values.some((v) => test(v) || (Array.isArray(v) && v.some(test)));
}

// ---------------------------------------------------------------------------
// Field conditions
// ---------------------------------------------------------------------------

function isOperatorObject(v: unknown): v is Document {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  if (keys.length === 0 || !keys[0]!.startsWith('$')) return false;
  // DBRef-shaped documents compare as values.
  return !(keys[0] === '$ref' || keys[0] === '$id' || keys[0] === '$db');
}

export function isRegex(v: unknown): boolean {
  return v instanceof RegExp || (v as { _bsontype?: unknown } | null)?._bsontype === 'BSONRegExp';
}

/** The condition on one field: an operator object, a regex, or a value to equal. */
function compileCondition(cond: unknown, ctx: ExprContext): PathTest {
  if (isOperatorObject(cond)) {
    const tests: PathTest[] = [];
    const keys = Object.keys(cond);
    const hasRegex = keys.includes('$regex');
    for (const op of keys) {
      if (op === '$options') {
        if (!hasRegex) throw badValue('$options needs a $regex');
        continue;
      }
      if (op === '$regex') {
        tests.push(expanding(regexTest(cond.$regex, cond.$options)));
        continue;
      }
      tests.push(compileOperator(op, cond[op], ctx));
    }
    return tests.length === 1 ? tests[0]! : (values) => tests.every((t) => t(values));
  }
  if (isRegex(cond)) return expanding(regexTest(cond, undefined));
  return expanding(equalsTest(cond));
}

/** A predicate on a single value, as `$pull` conditions and `$elemMatch` use. */
export function compileValuePredicate(cond: unknown, ctx: ExprContext = {}): (v: unknown) => boolean {
  const test = compileCondition(cond, ctx);
  return (v) => test([v]);
}

function compileOperator(op: string, arg: unknown, ctx: ExprContext): PathTest {
  switch (op) {
    case '$eq':
      return expanding(equalsTest(arg));
    case '$ne': {
      const t = expanding(equalsTest(arg));
      return (values) => !t(values);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return expanding(compareTest(op, arg));
    case '$in':
      return expanding(inTest(arg));
    case '$nin': {
      const t = expanding(inTest(arg));
      return (values) => !t(values);
    }
    case '$exists': {
      const want = truthy(arg);
      return (values) => values.some((v) => v !== undefined) === want;
    }
    case '$type':
      return expanding(typeTest(arg));
    case '$size': {
      if (!isNumeric(arg)) throw badValue('$size needs a number');
      const n = toNumber(arg);
      if (!Number.isInteger(n)) throw badValue(`Failed to parse $size. Expected an integer, but found a non-integral number: ${n}`);
      if (n < 0) throw badValue(`Failed to parse $size. Expected a non-negative number in: $size: ${n}`);
      return (values) => values.some((v) => Array.isArray(v) && v.length === n);
    }
    case '$all': {
      if (!Array.isArray(arg)) throw badValue('$all needs an array');
      if (arg.length === 0) return () => false;
      const subs = arg.map((e): PathTest => {
        if (isPlainObject(e) && Object.keys(e)[0] === '$elemMatch') return compileOperator('$elemMatch', e.$elemMatch, ctx);
        if (isOperatorObject(e)) throw badValue('no $ expressions in $all');
        return isRegex(e) ? expanding(regexTest(e, undefined)) : expanding(equalsTest(e));
      });
      return (values) => subs.every((t) => t(values));
    }
    case '$elemMatch': {
      if (!isPlainObject(arg)) throw badValue('$elemMatch needs an Object');
      const keys = Object.keys(arg);
      const valueForm = keys.length > 0 && keys.every((k) => k.startsWith('$') && !['$and', '$or', '$nor', '$expr', '$where', '$jsonSchema', '$comment'].includes(k));
      let elementTest: ValueTest;
      if (valueForm) {
        const t = compileCondition(arg, ctx);
        elementTest = (e) => t([e]);
      } else {
        const p = compileFilter(arg, ctx);
        elementTest = (e) => (isPlainObject(e) || Array.isArray(e)) && p(e as Document);
      }
      return (values) => values.some((v) => Array.isArray(v) && v.some(elementTest));
    }
    case '$not': {
      let t: PathTest;
      if (isRegex(arg)) t = expanding(regexTest(arg, undefined));
      else if (isPlainObject(arg)) {
        if (Object.keys(arg).length === 0) throw badValue('$not cannot be empty');
        if (!isOperatorObject(arg)) throw badValue('$not needs a regex or a document of operators');
        t = compileCondition(arg, ctx);
      } else throw badValue('$not needs a regex or a document');
      return (values) => !t(values);
    }
    case '$mod':
      return expanding(modTest(arg));
    case '$bitsAllSet':
    case '$bitsAllClear':
    case '$bitsAnySet':
    case '$bitsAnyClear':
      return expanding(bitsTest(op, arg));
    case '$comment':
      return () => true;
    case '$near':
    case '$nearSphere':
    case '$geoWithin':
    case '$geoIntersects':
    case '$within':
      throw badValue(`${op} is not supported`);
    default:
      break;
  }
  throw badValue(`unknown operator: ${op}`);
}

function truthy(v: unknown): boolean {
  if (isNumeric(v)) return toNumber(v) !== 0;
  return v !== false && v !== null && v !== undefined;
}

// ---------------------------------------------------------------------------
// Value tests
// ---------------------------------------------------------------------------

function equalsTest(q: unknown): ValueTest {
  if (q === null || q === undefined) return (v) => v === null || v === undefined;
  const type = canonicalTypeOrder(q);
  return (v) => v !== undefined && canonicalTypeOrder(v) === type && compareBson(v, q) === 0;
}

function isNaNValue(v: unknown): boolean {
  return isNumeric(v) && Number.isNaN(toNumber(v));
}

function compareTest(op: string, q: unknown): ValueTest {
  const qType = canonicalTypeOrder(q === undefined ? null : q);
  const crossType = qType === -1 || qType === 127; // MinKey / MaxKey compare against everything
  const qNaN = isNaNValue(q);
  const accept = (c: number): boolean =>
    op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0;
  return (raw) => {
    const v = raw === undefined ? null : raw;
    if (!crossType && canonicalTypeOrder(v) !== qType) return false;
    if (qType === 10) {
      // NaN equals NaN but is neither greater nor less than anything.
      const vNaN = isNaNValue(v);
      if (qNaN || vNaN) return qNaN && vNaN && (op === '$gte' || op === '$lte');
    }
    return accept(compareBson(v, q));
  };
}

function inTest(arg: unknown): ValueTest {
  if (!Array.isArray(arg)) throw badValue('$in needs an array');
  const tests = arg.map((e) => {
    if (isRegex(e)) return regexTest(e, undefined);
    if (isOperatorObject(e)) throw badValue('cannot nest $ under $in');
    return equalsTest(e);
  });
  return (v) => tests.some((t) => t(v));
}

const TYPE_ALIASES = new Map<number, string>(Object.entries(TYPE_NUMBERS).map(([k, n]) => [n, k]));

function typeTest(arg: unknown): ValueTest {
  const list = Array.isArray(arg) ? arg : [arg];
  if (list.length === 0) throw badValue('$type must match at least one type');
  const names = new Set<string>();
  for (const t of list) {
    if (typeof t === 'string') {
      if (t !== 'number' && !(t in TYPE_NUMBERS)) throw badValue(`Unknown type name alias: ${t}`);
      names.add(t);
    } else if (isNumeric(t)) {
      const n = toNumber(t);
      const name = TYPE_ALIASES.get(n);
      if (!Number.isInteger(n) || name === undefined) throw badValue(`Invalid numerical type code: ${n}`);
      names.add(name);
    } else {
      throw badValue('type must be represented as a number or a string');
    }
  }
  return (v) => {
    if (v === undefined) return false;
    const name = bsonTypeName(v);
    return names.has(name) || (names.has('number') && numKind(v) !== undefined);
  };
}

/** A JS RegExp for a $regex value and $options string (PCRE `x` is emulated). */
export function buildRegex(pattern: unknown, options: unknown): RegExp {
  let source: string;
  let flags = '';
  if (pattern instanceof RegExp) {
    source = pattern.source;
    flags = pattern.flags.replace(/[gy]/g, '');
  } else if (isRegex(pattern)) {
    const r = pattern as { pattern: string; options: string };
    source = r.pattern;
    flags = r.options;
  } else if (typeof pattern === 'string') {
    source = pattern;
  } else {
    throw badValue('$regex has to be a string');
  }
  if (options !== undefined) {
    if (typeof options !== 'string') throw badValue('$options has to be a string');
    if (flags && options) throw badValue('options set in both $regex and $options');
    flags = options;
  }
  let js = '';
  for (const f of flags) {
    if (f === 'i' || f === 'm' || f === 's') {
      if (!js.includes(f)) js += f;
    } else if (f === 'x') {
      source = source.replace(/\\#/g, '\u0000').replace(/#[^\n]*/g, '').replace(/\s+/g, '').replace(/\u0000/g, '\\#');
    } else if (f !== 'u' && f !== 'l') {
      throw badValue(`invalid flag in regex options: ${f}`);
    }
  }
  try {
    return new RegExp(source, js);
  } catch (e) {
    throw new ArgonError('Location51091', `Regular expression is invalid: ${(e as Error).message}`);
  }
}

function regexTest(pattern: unknown, options: unknown): ValueTest {
  const re = buildRegex(pattern, options);
  return (v) => {
    if (typeof v === 'string') return re.test(v);
    if ((v as { _bsontype?: unknown } | null)?._bsontype === 'BSONSymbol') return re.test((v as { value: string }).value);
    if (isRegex(v)) {
      const other = buildRegex(v, undefined);
      return other.source === re.source && other.flags === re.flags;
    }
    return false;
  };
}

function modTest(arg: unknown): ValueTest {
  if (!Array.isArray(arg)) throw badValue('malformed mod, needs to be an array');
  if (arg.length < 2) throw badValue('malformed mod, not enough elements');
  if (arg.length > 2) throw badValue('malformed mod, too many elements');
  const [d, r] = arg;
  if (!isNumeric(d)) throw badValue('malformed mod, divisor not a number');
  if (!isNumeric(r)) throw badValue('malformed mod, remainder not a number');
  const dn = toNumber(d);
  const rn = toNumber(r);
  if (!Number.isFinite(dn) || !Number.isFinite(rn)) throw badValue('malformed mod, divisor and remainder must be finite');
  const divisor = toBigInt(d) ?? BigInt(Math.trunc(dn));
  const remainder = toBigInt(r) ?? BigInt(Math.trunc(rn));
  if (divisor === 0n) throw badValue('divisor cannot be 0');
  return (v) => {
    if (!isNumeric(v)) return false;
    const n = toNumber(v);
    if (!Number.isFinite(n)) return false;
    const iv = toBigInt(v) ?? BigInt(Math.trunc(n));
    return iv % divisor === remainder;
  };
}

function bitPositions(arg: unknown, op: string): number[] {
  if (Array.isArray(arg)) {
    return arg.map((p) => {
      const n = isNumeric(p) ? toNumber(p) : NaN;
      if (!Number.isInteger(n) || n < 0) throw badValue(`${op} bit positions must be non-negative integers`);
      return n;
    });
  }
  if (isNumeric(arg)) {
    const mask = toBigInt(arg);
    if (mask === undefined || mask < 0n) throw badValue(`${op} takes a non-negative integer bitmask`);
    const out: number[] = [];
    for (let i = 0; i < 64; i++) if ((mask >> BigInt(i)) & 1n) out.push(i);
    return out;
  }
  const bytes = binaryBytes(arg);
  if (bytes) {
    const out: number[] = [];
    for (let i = 0; i < bytes.length * 8; i++) if ((bytes[i >> 3]! >> (i & 7)) & 1) out.push(i);
    return out;
  }
  throw badValue(`${op} takes an Array, a number, or a BinData but received: ${bsonTypeName(arg)}`);
}

function binaryBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if ((v as { _bsontype?: unknown } | null)?._bsontype === 'Binary') {
    const b = v as { buffer: Uint8Array; position: number };
    return b.buffer.subarray(0, b.position);
  }
  return undefined;
}

function bitsTest(op: string, arg: unknown): ValueTest {
  const positions = bitPositions(arg, op);
  const wantSet = op === '$bitsAllSet' || op === '$bitsAnySet';
  const all = op === '$bitsAllSet' || op === '$bitsAllClear';
  return (v) => {
    let bit: (p: number) => boolean;
    if (isNumeric(v)) {
      const n = toBigInt(v);
      if (n === undefined || n < -(2n ** 63n) || n >= 2n ** 63n) return false;
      const u = BigInt.asUintN(64, n);
      bit = (p) => (p >= 64 ? n < 0n : ((u >> BigInt(p)) & 1n) === 1n);
    } else {
      const bytes = binaryBytes(v);
      if (!bytes) return false;
      bit = (p) => p < bytes.length * 8 && ((bytes[p >> 3]! >> (p & 7)) & 1) === 1;
    }
    return all ? positions.every((p) => bit(p) === wantSet) : positions.some((p) => bit(p) === wantSet);
  };
}

// ---------------------------------------------------------------------------
// Helpers for updates, upserts and projections
// ---------------------------------------------------------------------------

/**
 * Top-level equality conditions (`{a: 1}`, `{'b.c': {$eq: 2}}`, inside `$and`)
 * as a nested document (`{a: 1, b: {c: 2}}`): what an upsert seeds its new
 * document with before applying the update.
 */
export function filterEqualityFields(filter: Document | undefined | null): Document {
  const out: Document = {};
  const put = (path: string, value: unknown): void => {
    const parts = path.split('.');
    let cur = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = cur[parts[i]!];
      if (next === undefined) cur = cur[parts[i]!] = {};
      else if (isPlainObject(next)) cur = next;
      else return; // conflicting paths: the first one wins
    }
    const last = parts[parts.length - 1]!;
    if (!(last in cur)) cur[last] = clone(value);
  };
  const visit = (f: Document): void => {
    for (const key of Object.keys(f)) {
      const v = f[key];
      if (key === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) visit(sub);
        continue;
      }
      if (key.startsWith('$')) continue;
      if (isOperatorObject(v)) {
        if ('$eq' in v) put(key, v.$eq);
        else if (Array.isArray(v.$in) && v.$in.length === 1 && !isRegex(v.$in[0])) put(key, v.$in[0]);
        continue;
      }
      if (isRegex(v)) continue;
      put(key, v);
    }
  };
  if (filter) visit(filter);
  return out;
}

/**
 * The index of the first element of the array at `arrayPath` that satisfies
 * the filter's conditions on that array (what the positional `$` refers to).
 */
export function positionalIndex(filter: Document | undefined, arrayPath: string[], doc: Document, ctx: ExprContext = {}): number | undefined {
  if (!filter) return undefined;
  const prefix = arrayPath.join('.');
  const conds: Document[] = [];
  const visit = (f: Document): void => {
    for (const key of Object.keys(f)) {
      if (key === '$and' && Array.isArray(f[key])) {
        for (const sub of f[key] as unknown[]) if (isPlainObject(sub)) visit(sub);
      } else if (key === prefix || key.startsWith(prefix + '.')) {
        conds.push({ [key]: f[key] });
      }
    }
  };
  visit(filter);
  if (conds.length === 0) return undefined;
  const arr = getAt(doc, arrayPath);
  if (!Array.isArray(arr)) return undefined;
  const test = compileFilter({ $and: conds }, ctx);
  for (let i = 0; i < arr.length; i++) {
    const probe = clone(doc);
    setAt(probe, arrayPath, [arr[i]]);
    if (test(probe)) return i;
  }
  return undefined;
}

function getAt(doc: unknown, parts: string[]): unknown {
  let cur = doc;
  for (const p of parts) {
    if (Array.isArray(cur) && isIndexPart(p)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

function setAt(doc: unknown, parts: string[], value: unknown): void {
  let cur = doc as Document;
  for (let i = 0; i < parts.length - 1; i++) cur = (cur as Document)[parts[i]!] as Document;
  (cur as Document)[parts[parts.length - 1]!] = value;
}
