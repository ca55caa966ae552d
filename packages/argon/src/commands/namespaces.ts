import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { CommandContext, CommandResult } from './context.js';
import { cursorReply } from './cursor-commands.js';
import { compileFilter } from '../query/filter.js';
import { boolArg, docArg, stringArg } from './values.js';

export function listDatabases(cmd: Document, ctx: CommandContext): Document {
  const filter = docArg(cmd, 'filter');
  const nameOnly = boolArg(cmd, 'nameOnly', false);
  let databases: Document[] = ctx.store.listDatabases(ctx.point).map((name) => {
    const sizeOnDisk = ctx.store.listCollections(ctx.point, name).reduce((n, c) => n + collectionBytes(ctx, name, c.name), 0);
    return nameOnly ? { name } : { name, sizeOnDisk, empty: sizeOnDisk === 0 };
  });
  if (filter) databases = databases.filter(compileFilter(filter));
  const totalSize = databases.reduce((n, d) => n + ((d.sizeOnDisk as number) ?? 0), 0);
  return nameOnly ? { databases, ok: 1 } : { databases, totalSize, totalSizeMb: Math.round(totalSize / 1024 / 1024), ok: 1 };
}

export function listCollections(cmd: Document, ctx: CommandContext): CommandResult {
  const filter = docArg(cmd, 'filter');
  const nameOnly = boolArg(cmd, 'nameOnly', false);
  let infos: Document[] = ctx.store.listCollections(ctx.point, ctx.db).map((c) =>
    nameOnly
      ? { name: c.name, type: 'collection' }
      : { name: c.name, type: 'collection', options: {}, info: { readOnly: false }, idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } },
  );
  if (filter) infos = infos.filter(compileFilter(filter));
  const cursor = docArg(cmd, 'cursor');
  return cursorReply(ctx, `${ctx.db}.$cmd.listCollections`, infos, cursor?.batchSize as number | undefined);
}

export async function create(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'create');
  if (cmd.capped) throw new ArgonError('NotImplemented', 'capped collections are not supported (see docs/compatibility.md)');
  if (cmd.viewOn !== undefined) throw new ArgonError('NotImplemented', 'views are not supported (see docs/compatibility.md)');
  const { result } = await ctx.store.transact(ctx.branch, (tx) => tx.createCollection(ctx.db, name));
  if (!result) throw new ArgonError('NamespaceExists', `Collection ${ctx.db}.${name} already exists.`);
  return { ok: 1 };
}

export async function drop(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'drop');
  const before = ctx.store.collection(ctx.point, ctx.db, name);
  const { result } = await ctx.store.transact(ctx.branch, (tx) => tx.dropCollection(ctx.db, name));
  // Since 7.0 dropping a missing collection succeeds.
  return result ? { nIndexesWas: before?.indexes.length ?? 1, ns: `${ctx.db}.${name}`, ok: 1 } : { ok: 1 };
}

export async function dropDatabase(_cmd: Document, ctx: CommandContext): Promise<Document> {
  const names = ctx.store.listCollections(ctx.point, ctx.db).map((c) => c.name);
  if (names.length > 0) await ctx.store.transact(ctx.branch, (tx) => names.forEach((n) => tx.dropCollection(ctx.db, n, true)));
  return { dropped: ctx.db, ok: 1 };
}

export async function renameCollection(cmd: Document, ctx: CommandContext): Promise<Document> {
  const from = splitNs(stringArg(cmd, 'renameCollection'));
  const to = splitNs(stringArg(cmd, 'to'));
  if (from.db !== to.db) throw new ArgonError('IllegalOperation', 'renaming a collection across databases is not supported');
  await ctx.store.transact(ctx.branch, (tx) => tx.renameCollection(from.db, from.coll, to.coll, boolArg(cmd, 'dropTarget', false)));
  return { ok: 1 };
}

export function dbStats(cmd: Document, ctx: CommandContext): Document {
  const scale = typeof cmd.scale === 'number' && cmd.scale > 0 ? cmd.scale : 1;
  const colls = ctx.store.listCollections(ctx.point, ctx.db);
  let objects = 0;
  let dataSize = 0;
  let indexes = 0;
  for (const c of colls) {
    objects += ctx.store.count(ctx.point, ctx.db, c.name);
    dataSize += collectionBytes(ctx, ctx.db, c.name);
    indexes += c.indexes.length;
  }
  return {
    db: ctx.db,
    collections: colls.length,
    views: 0,
    objects,
    avgObjSize: objects ? dataSize / objects : 0,
    dataSize: dataSize / scale,
    storageSize: dataSize / scale,
    indexes,
    indexSize: 0,
    totalSize: dataSize / scale,
    scaleFactor: scale,
    ok: 1,
  };
}

export function collStats(cmd: Document, ctx: CommandContext): Document {
  const name = stringArg(cmd, 'collStats');
  const info = ctx.store.collection(ctx.point, ctx.db, name);
  if (!info) throw new ArgonError('NamespaceNotFound', `Collection [${ctx.db}.${name}] not found.`);
  const count = ctx.store.count(ctx.point, ctx.db, name);
  const size = collectionBytes(ctx, ctx.db, name);
  return {
    ns: `${ctx.db}.${name}`,
    count,
    size,
    avgObjSize: count ? size / count : 0,
    storageSize: size,
    nindexes: info.indexes.length,
    indexSizes: Object.fromEntries(info.indexes.map((i) => [i.name, 0])),
    totalIndexSize: 0,
    capped: false,
    ok: 1,
  };
}

function collectionBytes(ctx: CommandContext, db: string, coll: string): number {
  return ctx.store.collectionStats(ctx.point, db, coll).bytes;
}

function splitNs(ns: string): { db: string; coll: string } {
  const dot = ns.indexOf('.');
  if (dot <= 0) throw new ArgonError('InvalidNamespace', `Invalid namespace specified '${ns}'`);
  return { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
}
