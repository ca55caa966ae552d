/**
 * Update documents: operator updates ($set, $inc, $push, ... with positional
 * `$`, `$[]`, `$[id]`), replacement documents and aggregation-pipeline updates.
 * Numbers keep MongoDB's types: $inc of an int32 stays int32 unless it
 * overflows to int64, int + double gives double, Long stays Long.
 */
import { Int32, Long, Timestamp } from 'bson';
import { ArgonError } from '../errors.js';
import { compileFilter, compileValuePredicate, isRegex, positionalIndex } from './filter.js';
import { runPipeline } from './aggregate.js';
import { restoreTypes } from './expr.js';
import {
  arith,
  badValue,
  bsonTypeName,
  clone,
  compareBson,
  identical,
  isIndexPart,
  isNumeric,
  isPlainObject,
  numKind,
  show,
  toBigInt,
  toNumber,
  zeroLike,
  type Document,
} from './values.js';

export interface UpdateOptions {
  arrayFilters?: Document[];
  /** The update creates a new document (upsert): $setOnInsert applies. */
  isUpsertInsert?: boolean;
  /** The query that selected the document (for the positional `$`). */
  query?: Document;
  /** Clock for $currentDate and $$NOW. */
  now?: Date;
}

export interface UpdateResult {
  doc: Document;
  changed: boolean;
}

const OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$setOnInsert',
  '$currentDate',
  '$push',
  '$pull',
  '$pullAll',
  '$addToSet',
  '$pop',
  '$bit',
]);

/** True when `update` is a replacement document (no top-level `$` operators). */
export function isReplacement(update: Document | Document[]): boolean {
  if (Array.isArray(update)) return false;
  const keys = Object.keys(update);
  return keys.length === 0 || !keys[0]!.startsWith('$');
}

/** Applies an update (operators, replacement or pipeline) to a copy of `doc`. */
export function applyUpdate(doc: Document, update: Document | Document[], opts: UpdateOptions = {}): UpdateResult {
  let out: Document;
  if (Array.isArray(update)) out = applyPipelineUpdate(doc, update, opts);
  else if (isReplacement(update)) out = applyReplacement(doc, update);
  else out = applyOperators(doc, update, opts);
  return { doc: out, changed: !identical(doc, out) };
}

// ---------------------------------------------------------------------------
// Replacement
// ---------------------------------------------------------------------------

/** The replacement document with the old `_id` kept (and first); changing `_id` is an error. */
export function applyReplacement(old: Document, replacement: Document): Document {
  for (const k of Object.keys(replacement)) {
    if (k.startsWith('$')) {
      throw new ArgonError('DollarPrefixedFieldName', `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`);
    }
  }
  const out: Document = {};
  if (old._id !== undefined) {
    if (replacement._id !== undefined && compareBson(replacement._id, old._id) !== 0) {
      throw immutableId(`After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${show(replacement._id)}`);
    }
    out._id = replacement._id !== undefined ? clone(replacement._id) : old._id;
  } else if (replacement._id !== undefined) {
    out._id = clone(replacement._id);
  }
  for (const k of Object.keys(replacement)) if (k !== '_id') out[k] = clone(replacement[k]);
  return out;
}

function immutableId(message: string): ArgonError {
  return new ArgonError('ImmutableField', message);
}

// ---------------------------------------------------------------------------
// Pipeline updates
// ---------------------------------------------------------------------------

const PIPELINE_UPDATE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);

function applyPipelineUpdate(doc: Document, pipeline: Document[], opts: UpdateOptions): Document {
  for (const stage of pipeline) {
    const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined;
    if (!name || !PIPELINE_UPDATE_STAGES.has(name)) {
      throw badValue(`${name ?? 'stage'} is not allowed to be used within an update`);
    }
  }
  const result = runPipeline([doc], pipeline, { collection: () => [], now: opts.now });
  const out = restoreTypes(result.docs[0] ?? {}, doc) as Document;
  if (doc._id !== undefined && (out._id === undefined || compareBson(out._id, doc._id) !== 0)) {
    throw immutableId(`After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${show(out._id)}`);
  }
  if (doc._id !== undefined && Object.keys(out)[0] !== '_id') {
    const { _id, ...rest } = out;
    return { _id, ...rest };
  }
  return out;
}

// ---------------------------------------------------------------------------
// Operator updates
// ---------------------------------------------------------------------------

interface Entry {
  op: string;
  path: string;
  parts: string[];
  arg: unknown;
}

function parseEntries(update: Document): Entry[] {
  const entries: Entry[] = [];
  for (const op of Object.keys(update)) {
    if (!OPERATORS.has(op)) {
      throw new ArgonError('FailedToParse', `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    const spec = update[op];
    if (!isPlainObject(spec)) {
      throw new ArgonError('FailedToParse', `Modifiers operate on fields but we found type ${bsonTypeName(spec)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${show(spec)}}`);
    }
    for (const path of Object.keys(spec)) {
      checkPath(path, op);
      if (op === '$rename' && spec[path] === path) throw badValue(`The source and target field for $rename must differ: ${path}: ${show(path)}`);
      entries.push({ op, path, parts: path.split('.'), arg: spec[path] });
    }
  }
  return entries;
}

function checkPath(path: string, op: string): void {
  if (path === '') throw badValue("An empty update path is not valid.");
  const parts = path.split('.');
  let positional = 0;
  for (const p of parts) {
    if (p === '') throw badValue(`The update path '${path}' contains an empty field name, which is not allowed.`);
    if (p === '$') positional++;
    else if (p.startsWith('$') && !/^\$\[[a-z0-9]*\]$/.test(p)) {
      throw new ArgonError('DollarPrefixedFieldName', `The dollar ($) prefixed field '${p}' in '${path}' is not valid for storage.`);
    }
  }
  if (positional > 1) throw badValue(`Too many positional (i.e. '$') elements found in path '${path}'`);
  if (op === '$rename' && parts.some((p) => p.startsWith('$'))) throw badValue(`The source field for $rename may not be dynamic: ${path}`);
}

/** Component-wise: one path is a prefix of the other. */
function conflicts(a: string[], b: string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkConflicts(entries: Entry[]): void {
  const paths: string[][] = [];
  for (const e of entries) {
    paths.push(e.parts);
    if (e.op === '$rename' && typeof e.arg === 'string') paths.push(e.arg.split('.'));
  }
  for (let i = 0; i < paths.length; i++) {
    for (let j = 0; j < i; j++) {
      if (conflicts(paths[i]!, paths[j]!)) {
        const shorter = paths[i]!.length <= paths[j]!.length ? paths[i]! : paths[j]!;
        throw new ArgonError('ConflictingUpdateOperators', `Updating the path '${paths[i]!.join('.')}' would create a conflict at '${shorter.join('.')}'`);
      }
    }
  }
}

function comparePathParts(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (isIndexPart(x) && isIndexPart(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

interface ApplyContext {
  opts: UpdateOptions;
  filters: Map<string, (e: unknown) => boolean>;
  usedFilters: Set<string>;
  root: Document;
  original: Document;
}

function compileArrayFilters(arrayFilters: Document[] | undefined): Map<string, (e: unknown) => boolean> {
  const out = new Map<string, (e: unknown) => boolean>();
  for (const f of arrayFilters ?? []) {
    if (!isPlainObject(f)) throw badValue('Each array filter must be an object');
    let id: string | undefined;
    for (const key of Object.keys(f)) {
      const top = key.split('.')[0]!;
      if (top.startsWith('$')) {
        // {$or: [...]} style filters: identifier taken from inside
        continue;
      }
      if (id !== undefined && id !== top) throw new ArgonError('FailedToParse', `Error parsing array filter :: caused by :: Expected a single top-level field name, found '${id}' and '${top}'`);
      id = top;
    }
    if (id === undefined) throw new ArgonError('FailedToParse', 'Cannot use an expression without a top-level field name in arrayFilters');
    if (!/^[a-z][a-zA-Z0-9]*$/.test(id)) throw badValue(`The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`);
    if (out.has(id)) throw new ArgonError('FailedToParse', `Found multiple array filters with the same top-level field name ${id}`);
    const test = compileFilter(f);
    const key = id;
    out.set(id, (e) => test({ [key]: e }));
  }
  return out;
}

function applyOperators(doc: Document, update: Document, opts: UpdateOptions): Document {
  const entries = parseEntries(update);
  checkConflicts(entries);
  entries.sort((a, b) => comparePathParts(a.parts, b.parts));
  const root = clone(doc);
  const ctx: ApplyContext = { opts, filters: compileArrayFilters(opts.arrayFilters), usedFilters: new Set(), root, original: doc };
  for (const e of entries) {
    if (e.op === '$setOnInsert' && !opts.isUpsertInsert) {
      // still resolve identifiers so unused-filter checks stay accurate
      continue;
    }
    if (e.op === '$rename') {
      applyRename(ctx, e);
      continue;
    }
    const targets = expandPath(ctx, e.parts, e.op);
    for (const t of targets) applyAt(ctx, e, t);
  }
  for (const id of ctx.filters.keys()) {
    if (!ctx.usedFilters.has(id)) throw new ArgonError('FailedToParse', `The array filter for identifier '${id}' was not used in the update ${show(update)}`);
  }
  if (doc._id !== undefined && !opts.isUpsertInsert && (root._id === undefined || !identicalId(root._id, doc._id))) {
    throw immutableId("Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  if (opts.isUpsertInsert && root._id !== undefined && Object.keys(root)[0] !== '_id') {
    const { _id, ...rest } = root;
    return { _id, ...rest };
  }
  return root;
}

function identicalId(a: unknown, b: unknown): boolean {
  return compareBson(a, b) === 0 && identical(a, b);
}

/** Expands `$`, `$[]` and `$[id]` into concrete paths. */
function expandPath(ctx: ApplyContext, parts: string[], op: string): string[][] {
  let paths: string[][] = [[]];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '$') {
      const next: string[][] = [];
      for (const prefix of paths) {
        const idx = positionalIndex(ctx.opts.query, prefix, ctx.original);
        if (idx === undefined || ctx.opts.isUpsertInsert) {
          throw badValue("The positional operator did not find the match needed from the query.");
        }
        next.push([...prefix, String(idx)]);
      }
      paths = next;
    } else if (p.startsWith('$[')) {
      const id = p.slice(2, -1);
      let test: ((e: unknown) => boolean) | undefined;
      if (id !== '') {
        test = ctx.filters.get(id);
        if (!test) throw badValue(`No array filter found for identifier '${id}' in path '${parts.join('.')}'`);
        ctx.usedFilters.add(id);
      }
      const next: string[][] = [];
      for (const prefix of paths) {
        const arr = getConcrete(ctx.root, prefix);
        if (!Array.isArray(arr)) {
          if (ctx.opts.isUpsertInsert && arr === undefined) continue;
          throw badValue(`The path '${prefix.join('.')}' must exist in the document in order to apply array updates.`);
        }
        arr.forEach((e, idx) => {
          if (!test || test(e)) next.push([...prefix, String(idx)]);
        });
      }
      paths = next;
    } else {
      for (const prefix of paths) prefix.push(p);
    }
  }
  void op;
  return paths;
}

function getConcrete(root: unknown, parts: string[]): unknown {
  let cur = root;
  for (const p of parts) {
    if (Array.isArray(cur)) cur = isIndexPart(p) ? cur[Number(p)] : undefined;
    else if (isPlainObject(cur)) cur = cur[p];
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

type Container = Document | unknown[];

/** The container holding the last component, creating intermediate documents when `create`. */
function parentOf(root: Document, parts: string[], create: boolean): Container | undefined {
  let cur: Container = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    let child: unknown;
    if (Array.isArray(cur)) {
      if (!isIndexPart(p)) {
        if (!create) return undefined;
        throw pathNotViable(p, parts.slice(0, i), cur);
      }
      child = cur[Number(p)];
      if (child === undefined) {
        if (!create) return undefined;
        child = {};
        padArray(cur, Number(p));
        cur[Number(p)] = child;
      }
    } else {
      child = Object.prototype.hasOwnProperty.call(cur, p) ? cur[p] : undefined;
      if (child === undefined) {
        if (!create) return undefined;
        child = {};
        cur[p] = child;
      }
    }
    if (!Array.isArray(child) && !isPlainObject(child)) {
      if (!create) return undefined;
      throw pathNotViable(parts[i + 1]!, parts.slice(0, i + 1), child);
    }
    cur = child as Container;
  }
  return cur;
}

function pathNotViable(field: string, at: string[], value: unknown): ArgonError {
  return new ArgonError('PathNotViable', `Cannot create field '${field}' in element {${at[at.length - 1] ?? ''}: ${show(value)}}`);
}

function padArray(arr: unknown[], idx: number): void {
  while (arr.length < idx) arr.push(null);
}

function getField(c: Container, key: string): unknown {
  if (Array.isArray(c)) return isIndexPart(key) ? c[Number(key)] : undefined;
  return Object.prototype.hasOwnProperty.call(c, key) ? c[key] : undefined;
}

function setField(c: Container, key: string, value: unknown, parts: string[]): void {
  if (Array.isArray(c)) {
    if (!isIndexPart(key)) throw pathNotViable(key, parts.slice(0, -1), c);
    const idx = Number(key);
    padArray(c, idx);
    c[idx] = value;
  } else {
    c[key] = value;
  }
}

function applyAt(ctx: ApplyContext, e: Entry, parts: string[]): void {
  const key = parts[parts.length - 1]!;
  const creates = !['$unset', '$pull', '$pullAll', '$pop'].includes(e.op);
  const parent = parentOf(ctx.root, parts, creates);
  if (!parent) return;
  const cur = getField(parent, key);
  const set = (v: unknown): void => setField(parent, key, v, parts);
  const field = parts.join('.');
  switch (e.op) {
    case '$set':
    case '$setOnInsert':
      set(clone(e.arg));
      return;
    case '$unset':
      if (cur === undefined) return;
      if (Array.isArray(parent)) parent[Number(key)] = null;
      else delete parent[key];
      return;
    case '$inc':
    case '$mul': {
      const verb = e.op === '$inc' ? 'increment' : 'multiply';
      if (!isNumeric(e.arg)) throw new ArgonError('TypeMismatch', `Cannot ${verb} with non-numeric argument: {${field}: ${show(e.arg)}}`);
      if (cur === undefined) {
        set(e.op === '$inc' ? e.arg : zeroLike(e.arg));
        return;
      }
      if (!isNumeric(cur)) {
        throw new ArgonError('TypeMismatch', `Cannot apply ${e.op} to a value of non-numeric type. {_id: ${show(ctx.root._id)}} has the field '${key}' of non-numeric type ${bsonTypeName(cur)}`);
      }
      set(arith(e.op === '$inc' ? 'add' : 'mul', cur, e.arg));
      return;
    }
    case '$min':
    case '$max': {
      if (cur === undefined) {
        set(clone(e.arg));
        return;
      }
      const c = compareBson(e.arg, cur);
      if (e.op === '$min' ? c < 0 : c > 0) set(clone(e.arg));
      return;
    }
    case '$currentDate': {
      const now = ctx.opts.now ?? new Date();
      let type = 'date';
      if (isPlainObject(e.arg)) {
        const keys = Object.keys(e.arg);
        if (keys.length !== 1 || keys[0] !== '$type' || (e.arg.$type !== 'date' && e.arg.$type !== 'timestamp')) {
          throw badValue(`The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}`);
        }
        type = e.arg.$type as string;
      } else if (typeof e.arg !== 'boolean') {
        throw badValue(`${field} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`);
      }
      set(type === 'date' ? new Date(now.getTime()) : new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 }));
      return;
    }
    case '$push':
      set(applyPush(cur, e.arg, field, ctx));
      return;
    case '$addToSet':
      set(applyAddToSet(cur, e.arg, field, ctx));
      return;
    case '$pop': {
      const n = isNumeric(e.arg) ? toNumber(e.arg) : NaN;
      if (n !== 1 && n !== -1) throw new ArgonError('FailedToParse', `$pop expects 1 or -1, found: ${show(e.arg)}`);
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw new ArgonError('TypeMismatch', `Path '${field}' contains an element of non-array type '${bsonTypeName(cur)}'`);
      if (cur.length === 0) return;
      set(n === 1 ? cur.slice(0, -1) : cur.slice(1));
      return;
    }
    case '$pull': {
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw badValue('Cannot apply $pull to a non-array value');
      const matches = pullPredicate(e.arg);
      set(cur.filter((x) => !matches(x)));
      return;
    }
    case '$pullAll': {
      if (!Array.isArray(e.arg)) throw badValue(`$pullAll requires an array argument but was given a ${bsonTypeName(e.arg)}`);
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw badValue('Cannot apply $pull to a non-array value');
      const values = e.arg;
      set(cur.filter((x) => !values.some((v) => compareBson(v, x) === 0)));
      return;
    }
    case '$bit':
      set(applyBit(cur, e.arg, field));
      return;
    default:
      throw new ArgonError('FailedToParse', `Unknown modifier: ${e.op}`);
  }
}

function mustBeArray(cur: unknown, field: string, ctx: ApplyContext): unknown[] {
  if (cur === undefined) return [];
  if (!Array.isArray(cur)) {
    throw badValue(`The field '${field}' must be an array but is of type ${bsonTypeName(cur)} in document {_id: ${show(ctx.root._id)}}`);
  }
  return cur.slice();
}

function intArg(v: unknown, what: string): number {
  const n = isNumeric(v) ? toNumber(v) : NaN;
  if (!Number.isInteger(n)) throw badValue(`The value for ${what} must be an integer value but was given type: ${bsonTypeName(v)}`);
  return n;
}

function applyPush(cur: unknown, arg: unknown, field: string, ctx: ApplyContext): unknown[] {
  const arr = mustBeArray(cur, field, ctx);
  if (!(isPlainObject(arg) && '$each' in arg)) {
    arr.push(clone(arg));
    return arr;
  }
  for (const k of Object.keys(arg)) {
    if (!['$each', '$slice', '$sort', '$position'].includes(k)) throw badValue(`Unrecognized clause in $push: ${k}`);
  }
  if (!Array.isArray(arg.$each)) throw badValue(`The argument to $each in $push must be an array but it was of type: ${bsonTypeName(arg.$each)}`);
  const items = arg.$each.map((x) => clone(x));
  if (arg.$position !== undefined) {
    let pos = intArg(arg.$position, '$position');
    if (pos < 0) pos = Math.max(0, arr.length + pos);
    arr.splice(Math.min(pos, arr.length), 0, ...items);
  } else {
    arr.push(...items);
  }
  let result = arr;
  if (arg.$sort !== undefined) result = sortArray(result, arg.$sort);
  if (arg.$slice !== undefined) {
    const n = intArg(arg.$slice, '$slice');
    result = n >= 0 ? result.slice(0, n) : result.slice(Math.max(0, result.length + n));
  }
  return result;
}

function sortArray(arr: unknown[], spec: unknown): unknown[] {
  const dir = (v: unknown): number => {
    const n = isNumeric(v) ? toNumber(v) : NaN;
    if (n !== 1 && n !== -1) throw badValue('The $sort element value must be either 1 or -1');
    return n;
  };
  if (isPlainObject(spec)) {
    const keys = Object.keys(spec);
    if (keys.length === 0) throw badValue('The $sort pattern is empty when it should be a set of fields.');
    const fields = keys.map((k) => ({ parts: k.split('.'), d: dir(spec[k]) }));
    const at = (x: unknown, parts: string[]): unknown => {
      const v = getConcrete(x, parts);
      return v === undefined ? null : v;
    };
    return arr
      .map((x, i) => ({ x, i }))
      .sort((a, b) => {
        for (const f of fields) {
          const c = compareBson(at(a.x, f.parts), at(b.x, f.parts)) * f.d;
          if (c !== 0) return c;
        }
        return a.i - b.i;
      })
      .map((e) => e.x);
  }
  const d = dir(spec);
  return arr
    .map((x, i) => ({ x, i }))
    .sort((a, b) => compareBson(a.x, b.x) * d || a.i - b.i)
    .map((e) => e.x);
}

function applyAddToSet(cur: unknown, arg: unknown, field: string, ctx: ApplyContext): unknown[] {
  const arr = mustBeArray(cur, field, ctx);
  let items: unknown[] = [arg];
  if (isPlainObject(arg) && Object.keys(arg)[0] === '$each') {
    if (!Array.isArray(arg.$each)) throw badValue(`The argument to $each in $addToSet must be an array but it was of type ${bsonTypeName(arg.$each)}`);
    if (Object.keys(arg).length > 1) throw badValue(`Found unexpected fields after $each in $addToSet: ${show(arg)}`);
    items = arg.$each;
  }
  for (const item of items) {
    if (!arr.some((x) => compareBson(x, item) === 0)) arr.push(clone(item));
  }
  return arr;
}

function pullPredicate(cond: unknown): (x: unknown) => boolean {
  if (isPlainObject(cond)) {
    const keys = Object.keys(cond);
    if (keys.length > 0 && keys[0]!.startsWith('$') && !['$and', '$or', '$nor', '$expr'].includes(keys[0]!)) {
      return compileValuePredicate(cond);
    }
    const f = compileFilter(cond);
    return (x) => isPlainObject(x) && f(x);
  }
  if (isRegex(cond)) return compileValuePredicate(cond);
  return (x) => compareBson(x, cond) === 0;
}

function applyBit(cur: unknown, arg: unknown, field: string): unknown {
  if (!isPlainObject(arg) || Object.keys(arg).length === 0) {
    throw badValue(`The $bit modifier is not compatible with a ${bsonTypeName(arg)}. You must pass in an embedded document: {$bit: {field: {and/or/xor: #}}`);
  }
  let value = cur === undefined ? new Int32(0) : cur;
  const k0 = numKind(value);
  if (k0 !== 'int' && k0 !== 'long') {
    throw badValue(`Cannot apply $bit to a value of non-integral type.{_id: ...} has the field ${field} of non-integer type ${bsonTypeName(value)}`);
  }
  for (const op of Object.keys(arg)) {
    if (op !== 'and' && op !== 'or' && op !== 'xor') {
      throw badValue(`The $bit modifier only supports 'and', 'or', and 'xor', not '${op}' which is an unknown operator: {${op}: ${show(arg[op])}}`);
    }
    const operand = arg[op];
    const kb = numKind(operand);
    if (kb !== 'int' && kb !== 'long') throw badValue(`The $bit modifier field must be an Integer(32/64 bit); a '${bsonTypeName(operand)}' is not supported here: {${op}: ${show(operand)}}`);
    const a = toBigInt(value)!;
    const b = toBigInt(operand)!;
    const r = op === 'and' ? a & b : op === 'or' ? a | b : a ^ b;
    const long = numKind(value) === 'long' || kb === 'long';
    value = long ? Long.fromBigInt(BigInt.asIntN(64, r)) : typeof value === 'number' && typeof operand === 'number' ? Number(BigInt.asIntN(32, r)) : new Int32(Number(BigInt.asIntN(32, r)));
  }
  return value;
}

function applyRename(ctx: ApplyContext, e: Entry): void {
  if (typeof e.arg !== 'string') throw badValue(`The 'to' field for $rename must be a string: ${e.path}: ${show(e.arg)}`);
  const to = e.arg;
  if (to === e.path) throw badValue(`The source and target field for $rename must differ: ${e.path}: ${show(to)}`);
  checkPath(to, '$rename');
  if (e.path === '_id' || to === '_id') throw immutableId("Performing an update on the path '_id' would modify the immutable field '_id'");
  const fromParts = e.parts;
  const toParts = to.split('.');
  const parent = parentOf(ctx.root, fromParts, false);
  if (!parent) return;
  if (Array.isArray(parent)) throw badValue(`The source field cannot be an array element, '${e.path}' in doc with ${fromParts[0]} being an array`);
  checkNoArrays(ctx.root, fromParts, 'source');
  const key = fromParts[fromParts.length - 1]!;
  if (!Object.prototype.hasOwnProperty.call(parent, key)) return;
  const value = parent[key];
  checkNoArrays(ctx.root, toParts, 'destination');
  delete parent[key];
  const dest = parentOf(ctx.root, toParts, true)!;
  setField(dest, toParts[toParts.length - 1]!, value, toParts);
}

function checkNoArrays(root: Document, parts: string[], which: string): void {
  let cur: unknown = root;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = isPlainObject(cur) ? cur[parts[i]!] : undefined;
    if (Array.isArray(cur)) throw badValue(`The ${which} field cannot be an array element, '${parts.join('.')}' in doc with ${parts.slice(0, i + 1).join('.')} being an array`);
    if (cur === undefined) return;
  }
}
