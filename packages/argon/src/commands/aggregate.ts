import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import { runPipeline, type MergeSpec } from '../query/aggregate.js';
import { applyUpdate } from '../query/update.js';
import { isPlainObject } from '../query/values.js';
import type { WriteTx } from '../storage/writer.js';
import { openChangeStream } from './changestream.js';
import type { CommandContext, CommandResult } from './context.js';
import { cursorReply } from './cursor-commands.js';
import { decodeFaithful, withId } from './documents.js';
import { findMatches } from './exec.js';
import { boolArg, docArg, plainNumbers } from './values.js';

/** Stages that must come first because they produce the input instead of transforming it. */
function source(ctx: CommandContext, coll: string | null, pipeline: Document[]): { input: Iterable<Document>; rest: Document[] } {
  const first = pipeline[0] ?? {};
  if ('$documents' in first) {
    if (coll !== null) throw new ArgonError('BadValue', '$documents is only valid in a collectionless aggregate ({ aggregate: 1 })');
    return { input: first.$documents as Document[], rest: pipeline.slice(1) };
  }
  if (coll === null) throw new ArgonError('InvalidNamespace', "{aggregate: 1} is only valid with a first stage that generates documents, such as $documents");
  if ('$collStats' in first) {
    const stats = ctx.store.collectionStats(ctx.point, ctx.db, coll);
    const spec = first.$collStats as Document;
    const doc: Document = { ns: `${ctx.db}.${coll}`, host: ctx.server.host, localTime: new Date() };
    if (spec.count !== undefined) doc.count = stats.count;
    if (spec.storageStats !== undefined) doc.storageStats = { count: stats.count, size: stats.bytes, storageSize: stats.bytes, nindexes: 1 };
    return { input: [doc], rest: pipeline.slice(1) };
  }
  if ('$match' in first) {
    // A leading $match goes through the planner, so it can use an index.
    return { input: findMatches(ctx, coll, first.$match as Document).map((m) => m.doc), rest: pipeline.slice(1) };
  }
  return { input: scanAll(ctx, coll), rest: pipeline };
}

function* scanAll(ctx: CommandContext, coll: string): Generator<Document> {
  for (const raw of ctx.store.scanRaw(ctx.point, ctx.db, coll)) yield decodeFaithful(raw);
}

export async function aggregate(cmd: Document, ctx: CommandContext): Promise<CommandResult> {
  const target = cmd.aggregate;
  const coll = typeof target === 'string' ? target : null;
  if (coll === null && !(typeof target === 'number' || (typeof target === 'object' && target !== null && Number(target.valueOf()) === 1))) {
    throw new ArgonError('TypeMismatch', "The 'aggregate' field must be a collection name or 1");
  }
  if (!Array.isArray(cmd.pipeline)) throw new ArgonError('TypeMismatch', "'pipeline' option must be specified as an array");
  const cursor = docArg(cmd, 'cursor');
  if (!cursor && !boolArg(cmd, 'explain', false)) throw new ArgonError('FailedToParse', "The 'cursor' option is required, except for aggregate with the explain argument");
  const pipeline = plainNumbers(cmd.pipeline as Document[]);
  const streamStage = pipeline.findIndex((stage) => isPlainObject(stage) && '$changeStream' in stage);
  if (streamStage > 0) throw new ArgonError('Location40602', '$changeStream is only valid as the first stage in a pipeline.');
  if (streamStage === 0) return openChangeStream(cmd, ctx, coll, pipeline);
  const { input, rest } = source(ctx, coll, pipeline);
  const result = runPipeline(input, rest, {
    db: ctx.db,
    collection: (name) => scanAll(ctx, name),
    variables: docArg(cmd, 'let'),
  });
  if ((result.out || result.merge) && typeof ctx.point !== 'string') {
    throw new ArgonError('ReadOnlyEndpoint', '$out and $merge write: this endpoint is read-only (a branch as of a past point)');
  }
  if (result.out) {
    const { db, coll: outColl } = result.out;
    await ctx.store.transact(ctx.branch, (tx) => {
      tx.dropCollection(db, outColl);
      tx.createCollection(db, outColl);
      for (const doc of result.docs) tx.insert(db, outColl, withId(doc));
    });
    return cursorReply(ctx, `${ctx.db}.${coll ?? '$cmd.aggregate'}`, []);
  }
  if (result.merge) {
    const bypass = boolArg(cmd, 'bypassDocumentValidation', false);
    await ctx.store.transact(ctx.branch, (tx) => {
      tx.bypassDocumentValidation = bypass;
      mergeInto(tx, result.merge!, result.docs);
    });
    return cursorReply(ctx, `${ctx.db}.${coll ?? '$cmd.aggregate'}`, []);
  }
  return cursorReply(ctx, `${ctx.db}.${coll ?? '$cmd.aggregate'}`, result.docs, cursor?.batchSize as number | undefined);
}

/** `$merge`: match each output document on the `on` fields and apply whenMatched / whenNotMatched. */
function mergeInto(tx: WriteTx, spec: MergeSpec, docs: Document[]): void {
  const existing = new Map<string, Document>();
  const keyOf = (d: Document) => JSON.stringify(spec.on.map((f) => d[f]));
  for (const raw of tx.scanRaw(spec.db, spec.coll)) {
    const doc = decodeFaithful(raw);
    existing.set(keyOf(doc), doc);
  }
  for (const doc of docs) {
    const match = existing.get(keyOf(doc));
    if (!match) {
      if (spec.whenNotMatched === 'insert') tx.insert(spec.db, spec.coll, withId(doc));
      else if (spec.whenNotMatched === 'fail') throw new ArgonError('Location13113', '$merge could not find a matching document in the target collection');
      continue;
    }
    switch (spec.whenMatched) {
      case 'replace':
        tx.replace(spec.db, spec.coll, { ...doc, _id: match._id }, false, true);
        break;
      case 'keepExisting':
        break;
      case 'fail':
        throw new ArgonError('DuplicateKey', `$merge found an existing document with the same ${spec.on.join(', ')}`);
      case 'merge':
        tx.replace(spec.db, spec.coll, { ...match, ...doc, _id: match._id });
        break;
      default:
        if (Array.isArray(spec.whenMatched)) {
          tx.replace(spec.db, spec.coll, applyUpdate(match, spec.whenMatched, {}).doc);
        }
    }
  }
}
