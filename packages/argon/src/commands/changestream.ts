/**
 * Change streams: `aggregate` whose first stage is `{$changeStream: {...}}`, on a collection, on a
 * database (`{aggregate: 1}`) or on the whole branch (`admin`, `allChangesForCluster`). Events are
 * read from the endpoint's branch's change log; the documents before and after a change are the
 * versions stored as of its LSN and the one before, so update descriptions and pre-images need no
 * extra bookkeeping. A getMore waits for the branch's next commit (awaitData) up to `maxTimeMS`.
 */
import { calculateObjectSize, Long, Timestamp, type Document } from 'bson';
import { ArgonError } from '../errors.js';
import { runPipeline } from '../query/aggregate.js';
import { describeUpdate } from '../query/update-description.js';
import { isPlainObject } from '../query/values.js';
import type { Store } from '../storage/store.js';
import type { Change, LogEntry } from '../storage/types.js';
import type { CommandContext } from './context.js';
import type { AwaitableCursor, AwaitedBatch } from './cursors.js';
import { decodeFaithful } from './documents.js';
import { collectionOptions } from './namespaces.js';
import { toNumber, typeName } from './values.js';

// ---- resume tokens -------------------------------------------------------------------------

/**
 * A point in a branch's stream of events: a batch (LSN), a change of that batch (its index), and
 * which event of the change (a drop may be followed by dropDatabase and invalidate events).
 */
interface Position {
  lsn: number;
  index: number;
  step: number;
}

const STEP_CHANGE = 0;
const STEP_DROP_DATABASE = 1;
const STEP_INVALIDATE = 2;
/** Index and step past every event of a batch: the position of a stream that has seen all of it. */
const END_INDEX = 0xffffffff;
const END_STEP = 0xff;
const TOKEN_VERSION = 1;
const TOKEN_BYTES = 14;
const TWO_32 = 2 ** 32;

function endOf(lsn: number): Position {
  return { lsn, index: END_INDEX, step: END_STEP };
}

function isEnd(p: Position): boolean {
  return p.index === END_INDEX && p.step === END_STEP;
}

function compare(a: Position, b: Position): number {
  return a.lsn - b.lsn || a.index - b.index || a.step - b.step;
}

/** Fixed-width big-endian fields, so tokens sort as strings in stream order, as MongoDB's do. */
function encodeToken(p: Position): { _data: string } {
  const bytes = Buffer.alloc(TOKEN_BYTES);
  bytes[0] = TOKEN_VERSION;
  bytes.writeUInt32BE(Math.floor(p.lsn / TWO_32), 1);
  bytes.writeUInt32BE(p.lsn % TWO_32, 5);
  bytes.writeUInt32BE(p.index, 9);
  bytes[13] = p.step;
  return { _data: bytes.toString('hex').toUpperCase() };
}

function decodeToken(token: Document): Position {
  const data = token._data;
  if (typeof data !== 'string') {
    throw new ArgonError('Location40647', `Bad resume token: _data of missing or of wrong type. Expected string, got ${typeName(data)}`);
  }
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(data)) throw new ArgonError('FailedToParse', 'resume token string was not a valid hex string');
  const bytes = Buffer.from(data, 'hex');
  if (bytes.length !== TOKEN_BYTES || bytes[0] !== TOKEN_VERSION) {
    throw new ArgonError('FailedToParse', `resume token ${data} was not issued by this server's change streams`);
  }
  return { lsn: bytes.readUInt32BE(1) * TWO_32 + bytes.readUInt32BE(5), index: bytes.readUInt32BE(9), step: bytes[13]! };
}

// ---- the $changeStream specification --------------------------------------------------------

type FullDocumentMode = 'default' | 'updateLookup' | 'whenAvailable' | 'required';
type BeforeChangeMode = 'off' | 'whenAvailable' | 'required';

/** What a stream watches: one collection, one database, or every user database of the branch. */
interface Scope {
  db?: string;
  coll?: string;
}

interface StreamOptions {
  fullDocument: FullDocumentMode;
  beforeChange: BeforeChangeMode;
  /** Also report create, createIndexes and dropIndexes (MongoDB's showExpandedEvents). */
  expanded: boolean;
  showSystem: boolean;
}

const SPEC_FIELDS = new Set([
  'resumeAfter',
  'startAfter',
  'startAtOperationTime',
  'fullDocument',
  'fullDocumentBeforeChange',
  'allChangesForCluster',
  'showExpandedEvents',
  'showSystemEvents',
  'showMigrationEvents',
]);
const FULL_DOCUMENT_MODES = ['default', 'updateLookup', 'whenAvailable', 'required'];
const BEFORE_CHANGE_MODES = ['off', 'whenAvailable', 'required'];
/** The stages MongoDB allows after $changeStream: each maps one event to at most one. */
const ALLOWED_STAGES = new Set(['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact']);
const INTERNAL_DBS = new Set(['admin', 'config', 'local']);

function specField(spec: Document, name: string, type: 'string' | 'bool' | 'object'): unknown {
  const value = spec[name];
  if (value === undefined) return undefined;
  const ok = type === 'string' ? typeof value === 'string' : type === 'bool' ? typeof value === 'boolean' : isPlainObject(value);
  if (!ok) throw new ArgonError('TypeMismatch', `BSON field '$changeStream.${name}' is the wrong type '${typeName(value)}', expected type '${type}'`);
  return value;
}

function enumField<T extends string>(spec: Document, name: string, values: string[], fallback: T): T {
  const value = specField(spec, name, 'string') as string | undefined;
  if (value === undefined) return fallback;
  if (!values.includes(value)) throw new ArgonError('BadValue', `Enumeration value '${value}' for field '$changeStream.${name}' is not a valid value.`);
  return value as T;
}

function scopeOf(ctx: CommandContext, coll: string | null, allChangesForCluster: boolean): Scope {
  const ns = coll === null ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${coll}`;
  if (allChangesForCluster && (ctx.db !== 'admin' || coll !== null)) {
    throw new ArgonError('InvalidOptions', `A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name; found ${ns}`);
  }
  if (ctx.db === 'admin' ? !allChangesForCluster : INTERNAL_DBS.has(ctx.db)) {
    throw new ArgonError('InvalidNamespace', `$changeStream may not be opened on the internal ${ctx.db} database`);
  }
  if (coll !== null && coll.startsWith('system.')) throw new ArgonError('InvalidNamespace', `$changeStream may not be opened on the internal ${ns} collection`);
  if (allChangesForCluster) return {};
  return coll === null ? { db: ctx.db } : { db: ctx.db, coll };
}

function checkStages(stages: Document[]): void {
  for (const stage of stages) {
    const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined;
    if (name === undefined || !ALLOWED_STAGES.has(name)) {
      throw new ArgonError('IllegalOperation', `${name ?? 'a non-object stage'} is not permitted in a $changeStream pipeline`);
    }
  }
}

// ---- the stream --------------------------------------------------------------------------

/** What getMore waits for when maxTimeMS is not given: mongod's awaitData default. */
const DEFAULT_AWAIT_MS = 1000;
const DEFAULT_FIRST_BATCH = 101;
/** Raw events put through the pipeline at a time. */
const CHUNK = 1000;
/** Room left for the reply envelope under the 16 MiB reply limit. */
const BATCH_BYTES = 16 * 1024 * 1024 - 16 * 1024;

/** One event a change yields, built only if the stream gets that far. */
interface Candidate {
  at: Position;
  make: () => Document;
}

class ChangeStream implements AwaitableCursor {
  /** The last event consumed (returned or filtered out), or the end of the last batch scanned. */
  private after: Position;
  /** Events that went through the pipeline but did not fit in the last reply. */
  private pending: Document[] = [];
  /** An invalidate was produced: the stream ends once it is delivered. */
  private invalidated = false;
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: () => void;
  /** The branch record the stream follows: a reset or rename replaces it under the name. */
  private readonly branchId: number;

  constructor(
    private readonly store: Store,
    private readonly branch: string,
    private readonly forkLsn: number,
    private readonly scope: Scope,
    private readonly options: StreamOptions,
    private readonly stages: Document[],
    start: Position,
    /** startAtOperationTime: events of batches older than this clusterTime are skipped. */
    private readonly notBefore: { t: number; i: number } | null,
  ) {
    this.after = start;
    this.branchId = store.getBranch(branch).id;
    this.unsubscribe = store.onCommit((name) => {
      if (name === this.branch) this.wake?.();
    });
  }

  /** The first batch: what is already there, without waiting. */
  firstBatch(batchSize: number): AwaitedBatch {
    const docs = this.collect(batchSize);
    return { docs, fields: { postBatchResumeToken: this.resumeToken(docs) }, done: this.done };
  }

  async next(batchSize: number | undefined, maxTimeMS: number | undefined): Promise<AwaitedBatch> {
    const limit = batchSize !== undefined && batchSize > 0 ? batchSize : Infinity;
    const deadline = Date.now() + (maxTimeMS !== undefined && maxTimeMS > 0 ? maxTimeMS : DEFAULT_AWAIT_MS);
    let docs = this.collect(limit);
    while (docs.length === 0 && !this.done && !this.closed && Date.now() < deadline) {
      await this.commitOrTimeout(deadline - Date.now());
      if (!this.closed) docs = this.collect(limit);
    }
    if (this.closed) throw new ArgonError('CursorKilled', 'the change stream cursor was killed while its getMore waited');
    return { docs, fields: { postBatchResumeToken: this.resumeToken(docs) }, done: this.done };
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.wake?.();
  }

  private get done(): boolean {
    return this.invalidated && this.pending.length === 0;
  }

  /** The last event returned when some are held back, else how far the log has been read. */
  private resumeToken(docs: Document[]): Document {
    return this.pending.length > 0 ? (docs[docs.length - 1]!._id as Document) : encodeToken(this.after);
  }

  private commitOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
    });
  }

  /** Up to `limit` events after the current position, read up to the newest durable batch. */
  private collect(limit: number): Document[] {
    const out = this.pending.splice(0, limit);
    if (out.length === 0 && !this.invalidated) this.scan(limit, out);
    const kept = fitting(out);
    this.pending.unshift(...out.slice(kept));
    out.length = kept;
    return out;
  }

  private scan(limit: number, out: Document[]): void {
    if (this.timelineReplaced()) {
      // As a dropped collection does, a branch reset or renamed away ends its streams.
      const now = new Date();
      const position = { lsn: this.after.lsn, index: END_INDEX - 1, step: STEP_INVALIDATE };
      out.push({ _id: encodeToken(position), operationType: 'invalidate', clusterTime: new Timestamp({ t: Math.floor(now.getTime() / 1000), i: this.after.lsn }), wallTime: now });
      this.after = position;
      this.invalidated = true;
      return;
    }
    const upTo = this.store.durableLsn;
    const source = this.candidates(upTo);
    let exhausted = false;
    let bytes = 0;
    // Stops once a reply is full, so a huge backlog is not built in memory all at once.
    while (out.length < limit && bytes < BATCH_BYTES && !exhausted && !this.invalidated) {
      const chunk: Document[] = [];
      let invalidate: Document | null = null;
      while (chunk.length < Math.min(limit - out.length, CHUNK)) {
        const next = source.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const event = next.value.make();
        this.after = next.value.at;
        // An invalidate ends the stream and, as in MongoDB, bypasses the user's stages.
        if (event.operationType === 'invalidate') {
          invalidate = event;
          this.invalidated = true;
          break;
        }
        chunk.push(event);
      }
      for (const doc of this.transform(chunk)) {
        out.push(doc);
        bytes += calculateObjectSize(doc);
      }
      if (invalidate) out.push(invalidate);
    }
    source.return(undefined);
    if (exhausted && compare(this.after, endOf(upTo)) < 0) this.after = endOf(upTo);
  }

  private timelineReplaced(): boolean {
    const current = this.store.listBranches().find((b) => b.name === this.branch);
    return current === undefined || current.id !== this.branchId;
  }

  private transform(events: Document[]): Document[] {
    if (this.stages.length === 0 || events.length === 0) return events;
    const tokens = new Set(events.map((e) => (e._id as { _data: string })._data));
    const { docs } = runPipeline(events, this.stages, { collection: () => [] });
    for (const doc of docs) {
      const id = doc._id;
      if (!isPlainObject(id) || Object.keys(id).length !== 1 || !tokens.has(id._data as string)) {
        throw new ArgonError(
          'ChangeStreamFatalError',
          "Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.",
        );
      }
    }
    return docs;
  }

  /** Every event after the current position, in stream order, up to LSN `upTo`. */
  private *candidates(upTo: number): Generator<Candidate> {
    const from = Math.max(this.after.lsn, this.forkLsn + 1);
    for (const entry of this.store.log(this.branch, { fromLsn: from, toLsn: upTo })) {
      if (!this.passesStartTime(entry)) continue;
      for (let index = 0; index < entry.changes.length; index++) {
        for (const [step, make] of this.eventsOf(entry, index)) {
          const at = { lsn: entry.lsn, index, step };
          if (compare(at, this.after) > 0) yield { at, make: () => make(encodeToken(at)) };
        }
      }
    }
  }

  private passesStartTime(entry: LogEntry): boolean {
    if (!this.notBefore) return true;
    const seconds = Math.floor(entry.time.getTime() / 1000);
    return seconds > this.notBefore.t || (seconds === this.notBefore.t && entry.lsn >= this.notBefore.i);
  }

  private watches(db: string, coll: string): boolean {
    if (this.scope.coll !== undefined) return db === this.scope.db && coll === this.scope.coll;
    if (!this.options.showSystem && coll.startsWith('system.')) return false;
    return this.scope.db !== undefined ? db === this.scope.db : !INTERNAL_DBS.has(db);
  }

  private isWatchedCollection(db: string, coll: string): boolean {
    return this.scope.coll !== undefined && db === this.scope.db && coll === this.scope.coll;
  }

  /** The events (step and builder) one change of a batch yields for this stream. */
  private eventsOf(entry: LogEntry, index: number): [number, (id: Document) => Document][] {
    const change = entry.changes[index]!;
    const next = entry.changes[index + 1];
    const { db, coll } = change;
    const events: [number, (id: Document) => Document][] = [];
    const invalidate = (id: Document) => ({ _id: id, operationType: 'invalidate', ...this.times(entry) });
    switch (change.op) {
      case 'insert':
      case 'update':
      case 'delete':
        if (this.watches(db, coll)) events.push([STEP_CHANGE, (id) => this.documentEvent(entry, change, id)]);
        break;
      case 'createCollection':
      case 'createIndex':
      case 'dropIndex':
      case 'collMod':
        if (this.options.expanded && this.watches(db, coll)) events.push([STEP_CHANGE, (id) => this.expandedEvent(entry, change, id)]);
        break;
      case 'dropCollection': {
        // The target dropped by a rename with dropTarget: MongoDB reports only the rename.
        if (next?.op === 'renameCollection' && next.db === db && next.id === coll) break;
        if (this.watches(db, coll)) events.push([STEP_CHANGE, (id) => ({ _id: id, operationType: 'drop', ...this.times(entry), ns: { db, coll } })]);
        if (this.isWatchedCollection(db, coll)) events.push([STEP_INVALIDATE, invalidate]);
        const lastDropOfDatabase = change.dropDatabase && !(next?.op === 'dropCollection' && next.dropDatabase && next.db === db);
        if (lastDropOfDatabase && this.scope.coll === undefined && (this.scope.db === undefined ? !INTERNAL_DBS.has(db) : this.scope.db === db)) {
          events.push([STEP_DROP_DATABASE, (id) => ({ _id: id, operationType: 'dropDatabase', ...this.times(entry), ns: { db } })]);
          if (this.scope.db === db) events.push([STEP_INVALIDATE, invalidate]);
        }
        break;
      }
      case 'renameCollection': {
        const to = String(change.id);
        if (this.watches(db, coll) || this.watches(db, to)) {
          events.push([STEP_CHANGE, (id) => ({ _id: id, operationType: 'rename', ...this.times(entry), ns: { db, coll }, to: { db, coll: to } })]);
        }
        if (this.isWatchedCollection(db, coll) || this.isWatchedCollection(db, to)) events.push([STEP_INVALIDATE, invalidate]);
        break;
      }
    }
    return events;
  }

  /** clusterTime is (commit second, LSN): it orders like LSNs and startAtOperationTime maps back. */
  private times(entry: LogEntry): { clusterTime: Timestamp; wallTime: Date } {
    return { clusterTime: new Timestamp({ t: Math.floor(entry.time.getTime() / 1000), i: entry.lsn }), wallTime: entry.time };
  }

  private documentEvent(entry: LogEntry, change: Change, id: Document): Document {
    const { db, coll } = change;
    const ns = { db, coll };
    const after = change.op === 'delete' ? null : this.image(entry.lsn, change);
    if (change.op === 'insert') {
      return { _id: id, operationType: 'insert', ...this.times(entry), fullDocument: after, ns, documentKey: { _id: after?._id ?? change.id } };
    }
    const before = this.options.beforeChange !== 'off' || (change.op === 'update' && !change.replacement) ? this.image(entry.lsn - 1, change) : null;
    const documentKey = { _id: after?._id ?? before?._id ?? change.id };
    let event: Document;
    if (change.op === 'delete') {
      event = { _id: id, operationType: 'delete', ...this.times(entry), ns, documentKey };
    } else if (change.replacement || !before || !after) {
      event = { _id: id, operationType: 'replace', ...this.times(entry), fullDocument: after, ns, documentKey };
    } else {
      event = { _id: id, operationType: 'update', ...this.times(entry), ns, documentKey, updateDescription: describeUpdate(before, after) };
      const mode = this.options.fullDocument;
      if (mode === 'updateLookup') event.fullDocument = this.current(change);
      else if (mode !== 'default') event.fullDocument = this.required(after, mode, 'post-image', event);
    }
    if (this.options.beforeChange !== 'off') event.fullDocumentBeforeChange = this.required(before, this.options.beforeChange, 'pre-image', event);
    return event;
  }

  private required(image: Document | null, mode: string, what: string, event: Document): Document | null {
    if (image === null && mode === 'required') {
      throw new ArgonError('NoMatchingDocument', `Change stream was configured to require a ${what} for all ${event.operationType} events, but the ${what} was not found for event ${(event._id as { _data: string })._data}`);
    }
    return image;
  }

  /** The document of a change as of an LSN, with its exact BSON types. */
  private image(lsn: number, change: Change): Document | null {
    try {
      const raw = this.store.getRaw({ branch: this.branch, lsn }, change.db, change.coll, change.id);
      return raw ? decodeFaithful(raw) : null;
    } catch (err) {
      if (err instanceof ArgonError && err.codeName === 'SnapshotTooOld') throw historyLost(err.message);
      throw err;
    }
  }

  /** updateLookup: the document as it is now, which may be newer than the event (or gone). */
  private current(change: Change): Document | null {
    const raw = this.store.getRaw(this.branch, change.db, change.coll, change.id);
    return raw ? decodeFaithful(raw) : null;
  }

  private expandedEvent(entry: LogEntry, change: Change, id: Document): Document {
    const ns = { db: change.db, coll: change.coll };
    if (change.op === 'createCollection') {
      return { _id: id, operationType: 'create', ...this.times(entry), ns, operationDescription: { idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } } };
    }
    if (change.op === 'collMod') {
      // Argon's collMod changes only validation: the options after the batch, and before it.
      const options = (lsn: number) => {
        const info = this.store.collection({ branch: this.branch, lsn }, change.db, change.coll);
        return info ? collectionOptions(info) : {};
      };
      return { _id: id, operationType: 'modify', ...this.times(entry), ns, operationDescription: options(entry.lsn), stateBeforeChange: { collectionOptions: options(entry.lsn - 1) } };
    }
    // An index's spec is in the catalog as of the batch that created it, or the one before a drop.
    const lsn = change.op === 'createIndex' ? entry.lsn : entry.lsn - 1;
    const index = this.store.collection({ branch: this.branch, lsn }, change.db, change.coll)?.indexes.find((ix) => ix.name === change.id);
    const spec: Document = { v: 2, key: index?.key ?? {}, name: String(change.id) };
    if (index?.unique) spec.unique = true;
    if (index?.sparse) spec.sparse = true;
    if (index?.expireAfterSeconds !== undefined) spec.expireAfterSeconds = index.expireAfterSeconds;
    if (index?.partialFilterExpression !== undefined) spec.partialFilterExpression = index.partialFilterExpression;
    const operationType = change.op === 'createIndex' ? 'createIndexes' : 'dropIndexes';
    return { _id: id, operationType, ...this.times(entry), ns, operationDescription: { indexes: [spec] } };
  }
}

/** How many of `docs` fit in one reply (at least one, so a stream never stalls on a big event). */
function fitting(docs: Document[]): number {
  let bytes = 0;
  for (let i = 0; i < docs.length; i++) {
    bytes += calculateObjectSize(docs[i]!) + 16;
    if (bytes > BATCH_BYTES && i > 0) return i;
  }
  return docs.length;
}

function historyLost(detail: string): ArgonError {
  return new ArgonError('ChangeStreamHistoryLost', `Resume of change stream was not possible, as the resume point may no longer be in the change log: ${detail}`);
}

// ---- opening a stream --------------------------------------------------------------------

/** Where a new stream starts: right after the given token, at an operation time, or at the head. */
function startOf(store: Store, spec: Document): { start: Position; notBefore: { t: number; i: number } | null; resumedEvent: Position | null } {
  const resumeAfter = specField(spec, 'resumeAfter', 'object') as Document | undefined;
  const startAfter = specField(spec, 'startAfter', 'object') as Document | undefined;
  const at = spec.startAtOperationTime;
  if (resumeAfter && startAfter) throw new ArgonError('Location50865', "Do not specify both 'resumeAfter' and 'startAfter' in a $changeStream stage");
  const token = resumeAfter ?? startAfter;
  if (token && at !== undefined) throw new ArgonError('Location40674', 'Only one type of resume option is allowed, but multiple were found');
  if (token) {
    const position = decodeToken(token);
    if (resumeAfter && position.step === STEP_INVALIDATE) {
      throw new ArgonError('InvalidResumeToken', "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification");
    }
    return { start: position, notBefore: null, resumedEvent: isEnd(position) ? null : position };
  }
  if (at !== undefined) {
    if (!(at instanceof Object) || (at as { _bsontype?: string })._bsontype !== 'Timestamp') {
      throw new ArgonError('TypeMismatch', `BSON field '$changeStream.startAtOperationTime' is the wrong type '${typeName(at)}', expected type 'timestamp'`);
    }
    // Every batch after the last one committed before that second has a clusterTime at or past it.
    const { t, i } = at as Timestamp;
    return { start: endOf(store.lsnAtTime(t * 1000 - 1)), notBefore: { t, i }, resumedEvent: null };
  }
  return { start: endOf(store.durableLsn), notBefore: null, resumedEvent: null };
}

/** `aggregate` with a leading `$changeStream`: opens the stream and replies with its first batch. */
export function openChangeStream(cmd: Document, ctx: CommandContext, coll: string | null, pipeline: Document[]): Document {
  const spec = pipeline[0]!.$changeStream;
  if (!isPlainObject(spec)) throw new ArgonError('Location50808', '$changeStream stage expects a document as argument');
  for (const field of Object.keys(spec)) {
    if (!SPEC_FIELDS.has(field)) throw new ArgonError('Location40415', `BSON field '$changeStream.${field}' is an unknown field.`);
  }
  if (typeof ctx.point !== 'string') {
    throw new ArgonError('IllegalOperation', 'change streams need a branch endpoint: this endpoint serves a fixed past point, which never changes');
  }
  const scope = scopeOf(ctx, coll, (specField(spec, 'allChangesForCluster', 'bool') as boolean | undefined) ?? false);
  const options: StreamOptions = {
    fullDocument: enumField(spec, 'fullDocument', FULL_DOCUMENT_MODES, 'default'),
    beforeChange: enumField(spec, 'fullDocumentBeforeChange', BEFORE_CHANGE_MODES, 'off'),
    expanded: (specField(spec, 'showExpandedEvents', 'bool') as boolean | undefined) ?? false,
    showSystem: (specField(spec, 'showSystemEvents', 'bool') as boolean | undefined) ?? false,
  };
  specField(spec, 'showMigrationEvents', 'bool');
  const stages = pipeline.slice(1);
  checkStages(stages);

  const { store, branch } = ctx;
  const forkLsn = store.getBranch(branch).forkLsn;
  const resolved = startOf(store, spec);
  let { start, notBefore } = resolved;
  if (start.lsn < store.horizonLsn()) {
    throw historyLost(`LSN ${start.lsn} is older than the retention window of branch '${branch}'`);
  }
  if (start.lsn < forkLsn) {
    // Before its fork the branch's history is its parent's: fine to skip if nothing happened there.
    const skipped = [...store.log(branch, { fromLsn: start.lsn + 1, toLsn: forkLsn })].some((e) => !notBefore || e.time.getTime() >= notBefore.t * 1000);
    if (skipped) throw historyLost(`branch '${branch}' starts at LSN ${forkLsn}, after the requested start (LSN ${start.lsn})`);
    start = endOf(forkLsn);
    notBefore = null;
  }
  const resumed = resolved.resumedEvent;
  if (resumed && !eventExists(store, branch, forkLsn, resumed)) {
    throw new ArgonError('ChangeStreamFatalError', `cannot resume stream; the resume token was not found. ${JSON.stringify(encodeToken(resumed))}`);
  }

  const stream = new ChangeStream(store, branch, forkLsn, scope, options, stages, start, notBefore);
  const ns = coll === null ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${coll}`;
  const requested = isPlainObject(cmd.cursor) ? toNumber(cmd.cursor.batchSize) : undefined;
  const batchSize = requested !== undefined && requested >= 0 ? requested : DEFAULT_FIRST_BATCH;
  let first: AwaitedBatch;
  try {
    first = stream.firstBatch(batchSize);
  } catch (err) {
    stream.close();
    throw err;
  }
  if (first.done) stream.close();
  const id = first.done ? Long.ZERO : ctx.cursors.openAwaitable(ns, stream);
  return { cursor: { firstBatch: first.docs, ...first.fields, id, ns }, ok: 1 };
}

/** Whether a token names a change this branch made (a token of another branch's stream does not). */
function eventExists(store: Store, branch: string, forkLsn: number, at: Position): boolean {
  if (at.lsn <= forkLsn) return false;
  for (const entry of store.log(branch, { fromLsn: at.lsn, toLsn: at.lsn })) {
    if (entry.lsn === at.lsn && at.index < entry.changes.length) return true;
  }
  return false;
}
