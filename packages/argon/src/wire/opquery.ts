/**
 * Legacy OP_QUERY (2004) / OP_REPLY (1).
 *
 * MongoDB removed these for everything except the connection handshake:
 * drivers and mongosh that do not yet know the server's wire version send
 * their first hello/isMaster as an OP_QUERY on `admin.$cmd` and expect an
 * OP_REPLY. Everything after that uses OP_MSG.
 *
 *   OP_QUERY: header | int32 flags | cstring fullCollectionName |
 *             int32 numberToSkip | int32 numberToReturn | document query |
 *             [document returnFieldsSelector]
 *   OP_REPLY: header | int32 responseFlags | int64 cursorID |
 *             int32 startingFrom | int32 numberReturned | document*
 */
import { Long, serialize, type Document } from 'bson';
import { HEADER_SIZE, MAX_MESSAGE_SIZE_BYTES, OpCode, writeHeader, type MessageHeader } from './protocol.js';
import { WireError } from './errors.js';
import { decodeDocument, deserializeOptions, documentLength, readCString, type DecodeOptions } from './bsonio.js';

export interface OpQuery {
  flags: number;
  /** "<db>.<collection>", e.g. "admin.$cmd". */
  fullCollectionName: string;
  /** Part before the first dot. */
  databaseName: string;
  /** Part after the first dot ("$cmd" for commands). */
  collectionName: string;
  numberToSkip: number;
  numberToReturn: number;
  /** The query (or command), with any `$query` wrapper removed. */
  query: Document;
  /** `$readPreference` of a wrapped query, if any. */
  readPreference?: Document;
  returnFieldsSelector?: Document;
}

/** Parses the body of an OP_QUERY. Throws non-fatal WireErrors. */
export function decodeOpQuery(body: Buffer, opts: DecodeOptions = {}): OpQuery {
  const end = body.length;
  if (end < 4 + 1 + 8 + 5) throw new WireError('ProtocolError', `OP_QUERY too short (${end} body bytes)`);
  const flags = body.readInt32LE(0);
  const [fullCollectionName, afterName] = readCString(body, 4, end, 'OP_QUERY fullCollectionName');
  if (end - afterName < 8) throw new WireError('ProtocolError', 'OP_QUERY truncated after fullCollectionName');
  const numberToSkip = body.readInt32LE(afterName);
  const numberToReturn = body.readInt32LE(afterName + 4);
  const options = deserializeOptions(opts);

  let pos = afterName + 8;
  const querySize = documentLength(body, pos, end, 'OP_QUERY query');
  const wrapped = decodeDocument(body.subarray(pos, pos + querySize), options, 'OP_QUERY query');
  pos += querySize;
  let returnFieldsSelector: Document | undefined;
  if (pos < end) {
    const size = documentLength(body, pos, end, 'OP_QUERY returnFieldsSelector');
    returnFieldsSelector = decodeDocument(body.subarray(pos, pos + size), options, 'OP_QUERY returnFieldsSelector');
    pos += size;
    if (pos !== end) throw new WireError('ProtocolError', `OP_QUERY has ${end - pos} trailing bytes`);
  }

  // Drivers wrap a query that carries a read preference as
  // { $query: <query>, $readPreference: ... } (older ones used `query`).
  let query = wrapped;
  let readPreference: Document | undefined;
  if (isDocument(wrapped.$query)) {
    query = wrapped.$query;
    if (isDocument(wrapped.$readPreference)) readPreference = wrapped.$readPreference;
  } else if (isDocument(wrapped.query) && isDocument(wrapped.$readPreference)) {
    query = wrapped.query;
    readPreference = wrapped.$readPreference;
  }

  const dot = fullCollectionName.indexOf('.');
  const result: OpQuery = {
    flags,
    fullCollectionName,
    databaseName: dot < 0 ? fullCollectionName : fullCollectionName.slice(0, dot),
    collectionName: dot < 0 ? '' : fullCollectionName.slice(dot + 1),
    numberToSkip,
    numberToReturn,
    query,
  };
  if (readPreference) result.readPreference = readPreference;
  if (returnFieldsSelector) result.returnFieldsSelector = returnFieldsSelector;
  return result;
}

function isDocument(v: unknown): v is Document {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface EncodeOpReplyOptions {
  requestId: number;
  responseTo: number;
  /** OpReplyFlag bits; 0 by default. */
  flags?: number;
  /** 0 (no cursor) by default. */
  cursorId?: Long;
  startingFrom?: number;
}

/** Builds a complete OP_REPLY message carrying `docs`. */
export function encodeOpReply(docs: readonly Document[], opts: EncodeOpReplyOptions): Buffer {
  const serialized = docs.map((d) => serialize(d, { ignoreUndefined: false, checkKeys: false }));
  let total = HEADER_SIZE + 20;
  for (const s of serialized) total += s.length;
  if (total > MAX_MESSAGE_SIZE_BYTES) {
    throw new WireError('BSONObjectTooLarge', `OP_REPLY of ${total} bytes exceeds ${MAX_MESSAGE_SIZE_BYTES} bytes`);
  }
  const header: MessageHeader = { messageLength: total, requestId: opts.requestId, responseTo: opts.responseTo, opCode: OpCode.OP_REPLY };
  const buf = Buffer.allocUnsafe(total);
  writeHeader(buf, header);
  let o = HEADER_SIZE;
  o = buf.writeInt32LE(opts.flags ?? 0, o);
  const cursorId = opts.cursorId ?? Long.ZERO;
  o = buf.writeInt32LE(cursorId.low, o);
  o = buf.writeInt32LE(cursorId.high, o);
  o = buf.writeInt32LE(opts.startingFrom ?? 0, o);
  o = buf.writeInt32LE(serialized.length, o);
  for (const s of serialized) {
    buf.set(s, o);
    o += s.length;
  }
  return buf;
}
