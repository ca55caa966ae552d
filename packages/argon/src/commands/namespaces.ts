import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { CommandContext, CommandResult } from './context.js';
import { cursorReply } from './cursor-commands.js';
import { compileFilter } from '../query/filter.js';
import { isPlainObject } from '../query/values.js';
import type { CollectionInfo, ValidationOptions } from '../storage/types.js';
import { boolArg, docArg, stringArg, typeName } from './values.js';

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
      : { name: c.name, type: 'collection', options: collectionOptions(c), info: { readOnly: false }, idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } },
  );
  if (filter) infos = infos.filter(compileFilter(filter));
  const cursor = docArg(cmd, 'cursor');
  return cursorReply(ctx, `${ctx.db}.$cmd.listCollections`, infos, cursor?.batchSize as number | undefined);
}

export async function create(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'create');
  if (cmd.capped) throw new ArgonError('NotImplemented', 'capped collections are not supported (see docs/compatibility.md)');
  if (cmd.viewOn !== undefined) throw new ArgonError('NotImplemented', 'views are not supported (see docs/compatibility.md)');
  const validation = validationArgs(cmd, 'create', ctx.db, name);
  const { result } = await ctx.store.transact(ctx.branch, (tx) => tx.createCollection(ctx.db, name, validation));
  if (!result) throw new ArgonError('NamespaceExists', `Collection ${ctx.db}.${name} already exists.`);
  return { ok: 1 };
}

/** collMod's options Argon does not implement; anything else but validation is not an option at all. */
const COLLMOD_UNSUPPORTED = new Set(['index', 'viewOn', 'pipeline', 'expireAfterSeconds', 'timeseries', 'changeStreamPreAndPostImages', 'recordPreImages', 'isTimeseriesNamespace', 'dryRun', 'cappedSize', 'cappedMax']);
/** Arguments any command may carry (mongod's generic arguments; `$`-prefixed ones too). */
const GENERIC_ARGS = new Set(['apiVersion', 'apiStrict', 'apiDeprecationErrors', 'maxTimeMS', 'readConcern', 'writeConcern', 'lsid', 'txnNumber', 'autocommit', 'startTransaction', 'stmtId', 'comment', 'clientOperationKey', 'mayBypassWriteBlocking']);

/** Changes a collection's validation options; those not given keep their value. */
export async function collMod(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'collMod');
  for (const field of Object.keys(cmd)) {
    if (field === 'collMod' || field.startsWith('$') || GENERIC_ARGS.has(field) || VALIDATION_FIELDS.includes(field)) continue;
    if (COLLMOD_UNSUPPORTED.has(field)) throw new ArgonError('NotImplemented', `collMod option '${field}' is not supported (see docs/compatibility.md)`);
    // mongod 7 parses collMod strictly (IDL), so an unknown option is 40415, not 4.x's InvalidOptions.
    throw new ArgonError('Location40415', `BSON field 'collMod.${field}' is an unknown field.`);
  }
  const given = validationArgs(cmd, 'collMod', ctx.db, name);
  await ctx.store.transact(ctx.branch, (tx) => {
    const current = tx.collection(ctx.db, name);
    if (!current) throw new ArgonError('NamespaceNotFound', `ns does not exist: ${ctx.db}.${name}`);
    const { validator, validationLevel, validationAction } = current;
    tx.setValidation(ctx.db, name, { validator, validationLevel, validationAction, ...given });
  });
  return { ok: 1 };
}

const VALIDATION_FIELDS = ['validator', 'validationLevel', 'validationAction'];
const ENUMS: Record<string, string[]> = { validationLevel: ['off', 'strict', 'moderate'], validationAction: ['error', 'warn'] };

/** The validation options of a create or collMod command, refused as mongod 7 refuses them. */
function validationArgs(cmd: Document, command: string, db: string, coll: string): ValidationOptions {
  const out: Document = {};
  for (const field of VALIDATION_FIELDS) {
    const value = cmd[field];
    if (value === undefined) continue;
    const expected = field === 'validator' ? 'object' : 'string';
    if (field === 'validator' ? !isPlainObject(value) : typeof value !== 'string') {
      throw new ArgonError('TypeMismatch', `BSON field '${command}.${field}' is the wrong type '${typeName(value)}', expected type '${expected}'`);
    }
    if (ENUMS[field] && !ENUMS[field].includes(value)) throw new ArgonError('BadValue', `Enumeration value '${value}' for field '${command}.${field}' is not a valid value.`);
    out[field] = value;
  }
  if (out.validator && Object.keys(out.validator).length > 0) {
    if (coll.startsWith('system.')) throw new ArgonError('InvalidOptions', `Document validators not allowed on system collection ${db}.${coll}`);
    if (['admin', 'local', 'config'].includes(db)) throw new ArgonError('InvalidOptions', `Document validators are not allowed on collection ${db}.${coll} in the ${db} internal database`);
  }
  return out;
}

/** listCollections' `options`: as mongod, only what was set. */
export function collectionOptions(c: CollectionInfo): Document {
  const options: Document = {};
  if (c.validator) options.validator = c.validator;
  if (c.validationLevel) options.validationLevel = c.validationLevel;
  if (c.validationAction) options.validationAction = c.validationAction;
  return options;
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
