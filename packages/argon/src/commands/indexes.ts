import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { Direction, IndexSpec } from '../storage/types.js';
import type { CommandContext, CommandResult } from './context.js';
import { cursorReply } from './cursor-commands.js';
import { stringArg, toNumber } from './values.js';

/** MongoDB's default index name: `a_1_b_-1`. */
export function defaultIndexName(key: Record<string, unknown>): string {
  return Object.entries(key).map(([f, d]) => `${f}_${String(toNumber(d) ?? d)}`).join('_');
}

function parseSpec(raw: Document): IndexSpec {
  if (typeof raw.key !== 'object' || raw.key === null || Array.isArray(raw.key)) {
    throw new ArgonError('TypeMismatch', "The 'key' field of an index must be an object");
  }
  const key: Record<string, Direction> = {};
  for (const [field, dir] of Object.entries(raw.key as Document)) {
    const n = toNumber(dir);
    if (typeof dir === 'string') throw new ArgonError('CannotCreateIndex', `Index type '${dir}' on field '${field}' is not supported (see docs/compatibility.md)`);
    if (n === undefined || n === 0) throw new ArgonError('CannotCreateIndex', `Values in the index key pattern must be numbers, found ${JSON.stringify(dir)} for '${field}'`);
    key[field] = n < 0 ? -1 : 1;
  }
  if (raw.name !== undefined && typeof raw.name !== 'string') throw new ArgonError('TypeMismatch', "The 'name' field of an index must be a string");
  const spec: IndexSpec = { name: (raw.name as string | undefined) ?? defaultIndexName(raw.key as Document), key };
  if (raw.unique === true) spec.unique = true;
  if (raw.sparse === true) spec.sparse = true;
  if (raw.partialFilterExpression !== undefined) {
    if (typeof raw.partialFilterExpression !== 'object' || raw.partialFilterExpression === null || Array.isArray(raw.partialFilterExpression)) {
      throw new ArgonError('TypeMismatch', "The 'partialFilterExpression' field must be an object");
    }
    if (spec.sparse) throw new ArgonError('CannotCreateIndex', 'cannot mix "partialFilterExpression" and "sparse" options');
    spec.partialFilterExpression = raw.partialFilterExpression as Document;
  }
  const ttl = toNumber(raw.expireAfterSeconds);
  if (raw.expireAfterSeconds !== undefined) {
    if (ttl === undefined || ttl < 0) throw new ArgonError('CannotCreateIndex', 'expireAfterSeconds must be a non-negative number');
    if (Object.keys(key).length !== 1) throw new ArgonError('CannotCreateIndex', 'TTL indexes are single-field indexes, compound indexes do not support TTL');
    spec.expireAfterSeconds = ttl;
  }
  return spec;
}

export async function createIndexes(cmd: Document, ctx: CommandContext): Promise<Document> {
  const coll = stringArg(cmd, 'createIndexes');
  if (!Array.isArray(cmd.indexes) || cmd.indexes.length === 0) throw new ArgonError('BadValue', "Must specify at least one index to create");
  const specs = (cmd.indexes as Document[]).map(parseSpec);
  const before = ctx.store.collection(ctx.point, ctx.db, coll);
  const { result } = await ctx.store.transact(ctx.branch, (tx) => {
    const created = specs.filter((spec) => !tx.collection(ctx.db, coll)?.indexes.some((ix) => ix.name === spec.name && JSON.stringify(ix.key) === JSON.stringify(spec.key)));
    for (const spec of specs) tx.createIndex(ctx.db, coll, spec);
    return created.length;
  });
  const numIndexesBefore = before ? before.indexes.length : 1;
  const reply: Document = {
    numIndexesBefore,
    numIndexesAfter: numIndexesBefore + result,
    createdCollectionAutomatically: !before,
    ok: 1,
  };
  if (result === 0) reply.note = 'all indexes already exist';
  return reply;
}

export function listIndexes(cmd: Document, ctx: CommandContext): CommandResult {
  const coll = stringArg(cmd, 'listIndexes');
  const info = ctx.store.collection(ctx.point, ctx.db, coll);
  if (!info) throw new ArgonError('NamespaceNotFound', `ns does not exist: ${ctx.db}.${coll}`);
  const docs = info.indexes.map((ix) => {
    const d: Document = { v: 2, key: ix.key, name: ix.name };
    if (ix.unique) d.unique = true;
    if (ix.sparse) d.sparse = true;
    if (ix.expireAfterSeconds !== undefined) d.expireAfterSeconds = ix.expireAfterSeconds;
    if (ix.partialFilterExpression !== undefined) d.partialFilterExpression = ix.partialFilterExpression;
    return d;
  });
  return cursorReply(ctx, `${ctx.db}.$cmd.listIndexes.${coll}`, docs);
}

export async function dropIndexes(cmd: Document, ctx: CommandContext): Promise<Document> {
  const coll = stringArg(cmd, 'dropIndexes');
  const info = ctx.store.collection(ctx.point, ctx.db, coll);
  if (!info) throw new ArgonError('NamespaceNotFound', `ns not found ${ctx.db}.${coll}`);
  const secondary = info.indexes.filter((ix) => ix.name !== '_id_');
  const target = cmd.index;
  let names: string[];
  if (target === '*') names = secondary.map((ix) => ix.name);
  else if (typeof target === 'string') names = [target];
  else if (Array.isArray(target)) names = target.map(String);
  else if (typeof target === 'object' && target !== null) {
    const wanted = JSON.stringify(Object.fromEntries(Object.entries(target as Document).map(([f, d]) => [f, (toNumber(d) ?? 1) < 0 ? -1 : 1])));
    const match = info.indexes.find((ix) => JSON.stringify(ix.key) === wanted);
    if (!match) throw new ArgonError('IndexNotFound', `can't find index with key: ${JSON.stringify(target)}`);
    names = [match.name];
  } else throw new ArgonError('TypeMismatch', "The 'index' field must be a string, an object or an array of strings");
  await ctx.store.transact(ctx.branch, (tx) => names.forEach((name) => tx.dropIndex(ctx.db, coll, name)));
  return { nIndexesWas: info.indexes.length, ok: 1 };
}
