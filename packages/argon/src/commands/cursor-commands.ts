import type { Document } from 'bson';
import { Long, serialize } from 'bson';
import { ArgonError } from '../errors.js';
import { buildCursorReply } from '../wire/opmsg.js';
import type { CommandContext, RawReply } from './context.js';
import { numberArg, stringArg } from './values.js';

/** Serializes each document only when a batch needs it. */
function* asBson(docs: Iterable<Document | Buffer>): Generator<Buffer> {
  for (const doc of docs) yield doc instanceof Buffer ? doc : Buffer.from(serialize(doc));
}

/** Opens a cursor over `docs` and replies with its first batch, as find, aggregate and list* do. */
export function cursorReply(ctx: CommandContext, ns: string, docs: Iterable<Document | Buffer>, batchSize?: number, singleBatch = false): RawReply {
  const { id, batch } = ctx.cursors.open(ns, asBson(docs)[Symbol.iterator](), batchSize, ctx.connection.id, singleBatch);
  return { raw: buildCursorReply(ns, id, 'firstBatch', batch) };
}

export function getMore(cmd: Document, ctx: CommandContext): RawReply | Promise<Document> {
  const id = cmd.getMore;
  if (!Long.isLong(id)) throw new ArgonError('TypeMismatch', "Field 'getMore' must be of type long");
  const ns = `${ctx.db}.${stringArg(cmd, 'collection')}`;
  const awaited = ctx.cursors.awaitMore(id, ns, numberArg(cmd, 'batchSize'), numberArg(cmd, 'maxTimeMS'));
  if (awaited) return awaited.then(({ id: next, docs, fields }) => ({ cursor: { nextBatch: docs, ...fields, id: next, ns }, ok: 1 }));
  const { id: next, batch } = ctx.cursors.getMore(id, ns, numberArg(cmd, 'batchSize'));
  return { raw: buildCursorReply(ns, next, 'nextBatch', batch) };
}

export function killCursors(cmd: Document, ctx: CommandContext): Document {
  stringArg(cmd, 'killCursors');
  const ids = cmd.cursors;
  if (!Array.isArray(ids) || !ids.every((id) => Long.isLong(id))) {
    throw new ArgonError('TypeMismatch', "Field 'cursors' must be an array of longs");
  }
  const { killed, notFound } = ctx.cursors.kill(ids as Long[]);
  return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
}
