import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import { filterEqualityFields } from '../query/filter.js';
import { encodeValue } from '../storage/keys.js';
import { compileProjection } from '../query/projection.js';
import { applyUpdate, isReplacement } from '../query/update.js';
import type { WriteTx } from '../storage/writer.js';
import type { CommandContext, CommandResult } from './context.js';
import { cursorReply } from './cursor-commands.js';
import { encode, withId } from './documents.js';
import { findMatches, type Match } from './exec.js';
import { MAX_WRITE_BATCH_SIZE } from './hello.js';
import { boolArg, docArg, numberArg, plainNumbers, stringArg, toNumber, typeName } from './values.js';

interface WriteError {
  index: number;
  code: number;
  codeName?: string;
  errmsg: string;
  [extra: string]: unknown;
}

function writeError(index: number, err: unknown): WriteError {
  if (err instanceof ArgonError) return { index, code: err.code, codeName: err.codeName, errmsg: err.message, ...err.info };
  throw err;
}

function isDocument(v: unknown): v is Document {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || (v as { _bsontype?: string })._bsontype !== undefined) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function batchOf(cmd: Document, field: string): Document[] {
  const docs = cmd[field];
  if (!Array.isArray(docs)) throw new ArgonError('TypeMismatch', `Field '${field}' must be an array`);
  if (docs.length > MAX_WRITE_BATCH_SIZE) {
    throw new ArgonError('InvalidLength', `Write batch sizes must be between 1 and ${MAX_WRITE_BATCH_SIZE}. Got ${docs.length} operations.`);
  }
  return docs as Document[];
}

/** bypassDocumentValidation: the command's writes skip the collection's validator. */
function bypassArg(cmd: Document): boolean {
  return boolArg(cmd, 'bypassDocumentValidation', false);
}

function writeReply(n: number, errors: WriteError[], extra: Document = {}): Document {
  return errors.length > 0 ? { n, ...extra, writeErrors: errors, ok: 1 } : { n, ...extra, ok: 1 };
}

// ---- insert ----------------------------------------------------------------------------

export async function insert(cmd: Document, ctx: CommandContext): Promise<Document> {
  const coll = stringArg(cmd, 'insert');
  const docs = batchOf(cmd, 'documents');
  const ordered = boolArg(cmd, 'ordered', true);
  // A non-document entry is a malformed command, refused whole before anything is written.
  docs.forEach((doc, index) => {
    if (!isDocument(doc)) throw new ArgonError('TypeMismatch', `BSON field 'insert.documents.${index}' is the wrong type '${typeName(doc)}', expected type 'object'`);
  });
  const bypass = bypassArg(cmd);
  const errors: WriteError[] = [];
  let n = 0;
  await ctx.store.transact(ctx.branch, (tx) => {
    tx.bypassDocumentValidation = bypass;
    docs.forEach((doc, index) => {
      if (ordered && errors.length > 0) return;
      try {
        tx.insert(ctx.db, coll, withId(doc));
        n++;
      } catch (err) {
        errors.push(writeError(index, err));
      }
    });
  });
  return writeReply(n, errors);
}

// ---- find ------------------------------------------------------------------------------

export function find(cmd: Document, ctx: CommandContext): CommandResult {
  const coll = stringArg(cmd, 'find');
  const filter = docArg(cmd, 'filter') ?? {};
  const sort = docArg(cmd, 'sort');
  const projection = docArg(cmd, 'projection');
  const skip = numberArg(cmd, 'skip', 0)!;
  let limit = numberArg(cmd, 'limit', 0)!;
  let singleBatch = boolArg(cmd, 'singleBatch', false);
  if (skip < 0) throw new ArgonError('BadValue', 'skip value must be non-negative');
  if (limit < 0) {
    // A negative limit is the legacy way to ask for one batch.
    limit = -limit;
    singleBatch = true;
  }
  const hint = cmd.hint as string | Document | undefined;
  const bounds = cmd.min !== undefined || cmd.max !== undefined ? { min: docArg(cmd, 'min'), max: docArg(cmd, 'max') } : undefined;
  const byId = plainIdLookup(filter);
  if (byId.is && !sort && !projection && skip === 0 && hint === undefined && !bounds && numberArg(cmd, 'batchSize') !== 0) {
    // The hot point read: the stored bytes go out as they are, with no decode and no re-check
    // (key equality in the store is MongoDB's equality for _id).
    const raw = ctx.store.getRaw(ctx.point, ctx.db, coll, byId.id);
    return cursorReply(ctx, `${ctx.db}.${coll}`, raw ? [raw] : [], undefined, true);
  }
  const matches = findMatches(ctx, coll, filter, { sort, hint, bounds, limit: limit > 0 ? skip + limit : undefined });
  const window = matches.slice(skip, limit > 0 ? skip + limit : undefined);
  const project = projection && Object.keys(projection).length > 0 ? compileProjection(plainNumbers(projection), plainNumbers(filter)) : null;
  const out = project ? window.map((m) => encode(project(m.doc))) : window.map((m) => m.raw);
  let batchSize = numberArg(cmd, 'batchSize');
  if (batchSize !== undefined && batchSize < 0) throw new ArgonError('BadValue', 'batchSize value must be non-negative');
  if (limit > 0 && (batchSize === undefined || batchSize > limit)) batchSize = limit;
  return cursorReply(ctx, `${ctx.db}.${coll}`, out, batchSize, singleBatch);
}

/** `{_id: value}` with a plain value (no operators, no regex): answerable by one key lookup. */
function plainIdLookup(filter: Document): { is: true; id: unknown } | { is: false } {
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== '_id') return { is: false };
  const id = filter._id;
  if (id === null || id === undefined || Array.isArray(id)) return { is: false };
  if (typeof id === 'object') {
    const t = (id as { _bsontype?: string })._bsontype;
    if (t === 'BSONRegExp' || id instanceof RegExp) return { is: false };
    if (t === undefined && Object.keys(id).some((k) => k.startsWith('$'))) return { is: false };
  }
  return { is: true, id };
}

// ---- update ----------------------------------------------------------------------------

interface UpdateStatement {
  q: Document;
  u: Document | Document[];
  upsert: boolean;
  multi: boolean;
  arrayFilters?: Document[];
}

function parseUpdate(raw: Document): UpdateStatement {
  if (typeof raw.q !== 'object' || raw.q === null) throw new ArgonError('TypeMismatch', "The 'q' field of an update must be an object");
  if (typeof raw.u !== 'object' || raw.u === null) throw new ArgonError('TypeMismatch', "The 'u' field of an update must be an object or an array");
  return {
    q: raw.q as Document,
    // A pipeline update's constants are expression arguments; operator updates keep exact types.
    u: Array.isArray(raw.u) ? plainNumbers(raw.u as Document[]) : (raw.u as Document),
    upsert: boolArg(raw, 'upsert', false),
    multi: boolArg(raw, 'multi', false),
    arrayFilters: raw.arrayFilters as Document[] | undefined,
  };
}

/** Applies one update statement inside a batch; returns what it did. */
function runUpdate(tx: WriteTx, ctx: CommandContext, coll: string, st: UpdateStatement, sort?: Document): { n: number; modified: number; upsertedId?: unknown; before?: Document; after?: Document } {
  const matches: Match[] = findMatches(ctx, coll, st.q, { sort, limit: st.multi ? undefined : 1 });
  if (matches.length === 0) {
    if (!st.upsert) return { n: 0, modified: 0 };
    const seed = filterEqualityFields(st.q);
    const { doc } = applyUpdate(seed, st.u, { arrayFilters: st.arrayFilters, isUpsertInsert: true, query: st.q });
    const inserted = withId(doc);
    tx.insert(ctx.db, coll, inserted);
    return { n: 1, modified: 0, upsertedId: inserted._id, after: inserted };
  }
  let modified = 0;
  let last: { before: Document; after: Document } | undefined;
  for (const m of matches) {
    const { doc, changed } = applyUpdate(m.doc, st.u, { arrayFilters: st.arrayFilters, query: st.q });
    if (changed) {
      tx.replace(ctx.db, coll, doc, false, isReplacement(st.u));
      modified++;
    }
    last = { before: m.doc, after: doc };
  }
  return { n: matches.length, modified, ...last };
}

export async function update(cmd: Document, ctx: CommandContext): Promise<Document> {
  const coll = stringArg(cmd, 'update');
  const statements = batchOf(cmd, 'updates');
  const ordered = boolArg(cmd, 'ordered', true);
  const bypass = bypassArg(cmd);
  const errors: WriteError[] = [];
  const upserted: Document[] = [];
  let n = 0;
  let nModified = 0;
  for (let index = 0; index < statements.length; index++) {
    if (ordered && errors.length > 0) break;
    try {
      const st = parseUpdate(statements[index]!);
      // One batch per statement: a statement is atomic, and later statements see earlier ones.
      const { result } = await ctx.store.transact(ctx.branch, (tx) => {
        tx.bypassDocumentValidation = bypass;
        return runUpdate(tx, ctx, coll, st);
      });
      n += result.n;
      nModified += result.modified;
      if (result.upsertedId !== undefined) upserted.push({ index, _id: result.upsertedId });
    } catch (err) {
      errors.push(writeError(index, err));
    }
  }
  return writeReply(n, errors, upserted.length > 0 ? { nModified, upserted } : { nModified });
}

// ---- delete ----------------------------------------------------------------------------

export async function del(cmd: Document, ctx: CommandContext): Promise<Document> {
  const coll = stringArg(cmd, 'delete');
  const statements = batchOf(cmd, 'deletes');
  const ordered = boolArg(cmd, 'ordered', true);
  const errors: WriteError[] = [];
  let n = 0;
  for (let index = 0; index < statements.length; index++) {
    if (ordered && errors.length > 0) break;
    try {
      const st = statements[index]!;
      if (typeof st.q !== 'object' || st.q === null) throw new ArgonError('TypeMismatch', "The 'q' field of a delete must be an object");
      const limit = toNumber(st.limit) ?? 0;
      if (limit !== 0 && limit !== 1) throw new ArgonError('BadValue', `The limit field in delete objects must be 0 or 1. Got ${limit}`);
      const { result } = await ctx.store.transact(ctx.branch, (tx) => {
        const matches = findMatches(ctx, coll, st.q as Document, { limit: limit === 1 ? 1 : undefined });
        for (const m of matches) tx.delete(ctx.db, coll, m.doc._id);
        return matches.length;
      });
      n += result;
    } catch (err) {
      errors.push(writeError(index, err));
    }
  }
  return writeReply(n, errors);
}

// ---- findAndModify ---------------------------------------------------------------------

export async function findAndModify(cmd: Document, ctx: CommandContext): Promise<Document> {
  const coll = stringArg(cmd, 'findAndModify');
  const query = docArg(cmd, 'query') ?? {};
  const sort = docArg(cmd, 'sort');
  const remove = boolArg(cmd, 'remove', false);
  const returnNew = boolArg(cmd, 'new', false);
  const fields = docArg(cmd, 'fields');
  const upsert = boolArg(cmd, 'upsert', false);
  const u = cmd.update as Document | Document[] | undefined;
  if (remove && u !== undefined) throw new ArgonError('FailedToParse', 'Cannot specify both an update and remove=true');
  if (!remove && u === undefined) throw new ArgonError('FailedToParse', 'Either an update or remove=true must be specified');
  if (remove && (upsert || returnNew)) throw new ArgonError('FailedToParse', 'Cannot specify both upsert=true and remove=true');
  const project = fields && Object.keys(fields).length > 0 ? compileProjection(plainNumbers(fields), plainNumbers(query)) : (d: Document) => d;
  const bypass = bypassArg(cmd);

  const { result } = await ctx.store.transact(ctx.branch, (tx) => {
    tx.bypassDocumentValidation = bypass;
    if (remove) {
      const [m] = findMatches(ctx, coll, query, { sort, limit: 1 });
      if (!m) return { lastErrorObject: { n: 0 }, value: null };
      tx.delete(ctx.db, coll, m.doc._id);
      return { lastErrorObject: { n: 1 }, value: project(m.doc) };
    }
    const st: UpdateStatement = { q: query, u: Array.isArray(u) ? plainNumbers(u) : u!, upsert, multi: false, arrayFilters: cmd.arrayFilters as Document[] | undefined };
    const r = runUpdate(tx, ctx, coll, st, sort);
    const lastErrorObject: Document = { n: r.n, updatedExisting: r.n > 0 && r.upsertedId === undefined };
    if (r.upsertedId !== undefined) lastErrorObject.upserted = r.upsertedId;
    const value = returnNew ? r.after : r.before;
    return { lastErrorObject, value: value ? project(value) : null };
  });
  return { ...result, ok: 1 };
}

// ---- count and distinct ----------------------------------------------------------------

export function count(cmd: Document, ctx: CommandContext): Document {
  const coll = stringArg(cmd, 'count');
  const query = docArg(cmd, 'query') ?? {};
  const skip = numberArg(cmd, 'skip', 0)!;
  const limit = Math.abs(numberArg(cmd, 'limit', 0)!);
  if (Object.keys(query).length === 0) {
    const total = ctx.store.count(ctx.point, ctx.db, coll);
    const n = Math.max(0, total - skip);
    return { n: limit > 0 ? Math.min(n, limit) : n, ok: 1 };
  }
  const n = Math.max(0, findMatches(ctx, coll, query).length - skip);
  return { n: limit > 0 ? Math.min(n, limit) : n, ok: 1 };
}

export function distinct(cmd: Document, ctx: CommandContext): Document {
  const coll = stringArg(cmd, 'distinct');
  const key = stringArg(cmd, 'key');
  const query = docArg(cmd, 'query') ?? {};
  const values: unknown[] = [];
  const seen = new Set<string>();
  const add = (v: unknown) => {
    // Numerically equal values (1, 1.0, NumberLong(1)) are one distinct value, as in MongoDB.
    const k = encodeValue(v).toString('latin1');
    if (!seen.has(k)) {
      seen.add(k);
      values.push(v);
    }
  };
  for (const { doc } of findMatches(ctx, coll, query)) {
    for (const v of valuesAtPath(doc, key.split('.'))) {
      if (Array.isArray(v)) v.forEach(add);
      else add(v);
    }
  }
  return { values, ok: 1 };
}

function valuesAtPath(value: unknown, parts: string[]): unknown[] {
  if (parts.length === 0) return value === undefined ? [] : [value];
  if (Array.isArray(value)) return value.flatMap((v) => valuesAtPath(v, parts));
  if (value === null || typeof value !== 'object') return [];
  return valuesAtPath((value as Document)[parts[0]!], parts.slice(1));
}

