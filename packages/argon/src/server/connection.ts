import type { Socket } from 'node:net';
import { deserialize, type Document } from 'bson';
import type { Logger } from 'pino';
import { ArgonError } from '../errors.js';
import { lookupCommand } from '../commands/registry.js';
import { dispatch } from '../commands/dispatch.js';
import { newCaller } from '../auth/service.js';
import { isRawReply, type CommandContext, type CommandResult, type ServerInfo } from '../commands/context.js';
import type { CursorManager } from '../commands/cursors.js';
import type { Store } from '../storage/store.js';
import type { ReadPoint } from '../storage/types.js';
import type { ServerMetrics } from './metrics.js';
import { decodeCompressed, encodeCompressed } from '../wire/compression.js';
import { WireError } from '../wire/errors.js';
import { MessageFramer, type RawMessage } from '../wire/framing.js';
import { decodeOpMsg, encodeOpMsg, encodeOpMsgRaw, type EncodeOpMsgOptions } from '../wire/opmsg.js';
import { decodeOpQuery, encodeOpReply } from '../wire/opquery.js';
import { HEADER_SIZE, OpCode } from '../wire/protocol.js';

export interface EndpointInfo {
  branch: string;
  readOnly: boolean;
  /** A pinned past point for time-travel endpoints; the branch head otherwise. */
  point?: ReadPoint;
}

let nextConnectionId = 1;
let lastResponseId = 0;

/** requestIds are int32 on the wire: wrap around instead of overflowing writeInt32LE. */
function nextResponseId(): number {
  lastResponseId = lastResponseId >= 0x7fffffff ? 1 : lastResponseId + 1;
  return lastResponseId;
}

/**
 * Flow control. A client may pipeline requests without reading the replies; the server stops
 * reading from its socket while this many messages wait to be handled...
 */
const MAX_PENDING_MESSAGES = 64;
/** ...or while this many reply bytes sit unsent in the socket's buffer. */
const MAX_BUFFERED_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * One client connection: frames messages, runs them one after another (a client expects replies
 * in order), and answers in the protocol the request came in. A malformed message gets an error
 * reply; only a stream that can no longer be framed is closed.
 */
export class Connection {
  readonly id = nextConnectionId++;
  private readonly framer = new MessageFramer();
  private queue: Promise<void> = Promise.resolve();
  private clientMetadata?: Document;
  /** Who this connection is authenticated as; SCRAM conversations in progress. */
  private readonly caller = newCaller('wire');
  /** Messages framed but not yet handled. */
  private pending = 0;
  private readPaused = false;
  /** Set when the server gave up on the stream: queued messages are dropped. */
  private abandoned = false;

  constructor(
    private readonly socket: Socket,
    private readonly endpoint: EndpointInfo,
    private readonly store: Store,
    private readonly cursors: CursorManager,
    private readonly server: ServerInfo,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err, connectionId: this.id }, 'socket error'));
    socket.on('drain', () => this.throttle());
  }

  /** Closes the connection on a broken stream; messages still queued are not handled. */
  private abandon(): void {
    this.abandoned = true;
    this.socket.destroy();
  }

  /** Pauses reading while too much work or too many unsent reply bytes are queued. */
  private throttle(): void {
    const overloaded = this.pending >= MAX_PENDING_MESSAGES || this.socket.writableLength >= MAX_BUFFERED_REPLY_BYTES;
    if (overloaded && !this.readPaused && !this.socket.destroyed) {
      this.readPaused = true;
      this.socket.pause();
    } else if (!overloaded && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  /** Resolves once the socket's send buffer has room again (or the socket is gone). */
  private writeRoom(): Promise<void> | void {
    if (this.socket.writableLength < MAX_BUFFERED_REPLY_BYTES || !this.socket.writable) return;
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private send(reply: Buffer): void {
    if (!this.socket.writable) return;
    this.socket.write(reply);
  }

  private onData(chunk: Buffer): void {
    let messages: RawMessage[];
    try {
      messages = this.framer.push(chunk);
    } catch (err) {
      this.log.warn({ connectionId: this.id, err: (err as Error).message }, 'closing connection: unframeable input');
      this.abandon();
      return;
    }
    for (const message of messages) {
      // Messages may be views into the chunk; copy (once) so the socket buffer is not pinned.
      const bytes = Buffer.from(message.message);
      const copy: RawMessage = { header: message.header, message: bytes, body: bytes.subarray(HEADER_SIZE) };
      this.pending++;
      this.queue = this.queue
        .then(() => this.writeRoom())
        .then(() => (this.abandoned ? undefined : this.handle(copy)))
        .catch((err) => {
          this.log.error({ err, connectionId: this.id }, 'unexpected error while handling a message');
          this.abandon();
        })
        .finally(() => {
          this.pending--;
          this.throttle();
        });
    }
    this.throttle();
  }

  private async handle(message: RawMessage, compressorId?: number): Promise<void> {
    const { header } = message;
    if (header.opCode === OpCode.OP_COMPRESSED) return this.handleCompressed(message);
    let reply: Buffer | null;
    if (header.opCode === OpCode.OP_MSG) reply = await this.handleOpMsg(message);
    else if (header.opCode === OpCode.OP_QUERY) reply = await this.handleOpQuery(message);
    else return this.unsupportedOpcode(header.opCode);
    if (reply === null) return;
    // A compressed request is answered with the same compressor, noop included (as mongod does).
    this.send(compressorId !== undefined ? encodeCompressed(reply, compressorId, nextResponseId(), header.requestId) : reply);
  }

  private unsupportedOpcode(opCode: number): void {
    this.log.warn({ connectionId: this.id, opCode }, 'closing connection: unsupported opcode');
    this.abandon();
  }

  /**
   * OP_COMPRESSED: the frame is sound, so a bad payload (unknown compressor, corrupt zlib data,
   * lying sizes) gets an error reply in the protocol of the wrapped message, uncompressed since
   * the compressor may be one we do not speak. Wrapping an opcode we do not speak closes the
   * connection, as that opcode would uncompressed (and saves inflating it).
   */
  private async handleCompressed(message: RawMessage): Promise<void> {
    const { body, header } = message;
    const originalOpcode = body.length >= 4 ? body.readInt32LE(0) : undefined;
    if (
      body.length >= 9 &&
      originalOpcode !== OpCode.OP_MSG &&
      originalOpcode !== OpCode.OP_QUERY &&
      originalOpcode !== OpCode.OP_COMPRESSED
    ) {
      return this.unsupportedOpcode(originalOpcode!);
    }
    let inner: ReturnType<typeof decodeCompressed>;
    try {
      inner = decodeCompressed(message);
    } catch (err) {
      const replyOpts = { requestId: nextResponseId(), responseTo: header.requestId };
      const doc = errorReply(err);
      this.send(originalOpcode === OpCode.OP_QUERY ? encodeOpReply([doc], replyOpts) : encodeOpMsg(doc, replyOpts));
      return;
    }
    return this.handle(inner.message, inner.compressorId);
  }

  private async handleOpMsg(message: RawMessage): Promise<Buffer | null> {
    const replyOpts: EncodeOpMsgOptions = { requestId: nextResponseId(), responseTo: message.header.requestId };
    let moreToCome = false;
    let result: CommandResult;
    try {
      const msg = decodeOpMsg(message.body, { faithful: true, header: message.header });
      moreToCome = msg.moreToCome;
      const doc: Document = { ...msg.doc };
      // defineProperty: an identifier such as "__proto__" must become a field, not a prototype.
      for (const [identifier, docs] of msg.sequences) {
        Object.defineProperty(doc, identifier, { value: docs, enumerable: true, writable: true, configurable: true });
      }
      result = await this.run(doc);
    } catch (err) {
      result = errorReply(err);
    }
    if (moreToCome) return null;
    try {
      return isRawReply(result) ? encodeOpMsgRaw(result.raw, replyOpts) : encodeOpMsg(result, replyOpts);
    } catch (err) {
      // The reply itself cannot be sent (e.g. too large): the client still gets an answer.
      return encodeOpMsg(errorReply(err), replyOpts);
    }
  }

  private async handleOpQuery(message: RawMessage): Promise<Buffer> {
    const replyOpts = { requestId: nextResponseId(), responseTo: message.header.requestId };
    let result: CommandResult;
    try {
      const q = decodeOpQuery(message.body);
      if (!q.fullCollectionName.endsWith('.$cmd')) {
        throw new ArgonError('NotImplemented', 'legacy OP_QUERY reads are not supported; use OP_MSG (any current driver does)');
      }
      const db = q.fullCollectionName.slice(0, -'.$cmd'.length);
      result = await this.run({ ...q.query, $db: db });
    } catch (err) {
      result = errorReply(err);
    }
    // OP_REPLY carries documents, not raw replies: the handshake and old commands are small.
    try {
      const doc = isRawReply(result) ? deserialize(result.raw) : result;
      return encodeOpReply([doc], replyOpts);
    } catch (err) {
      return encodeOpReply([errorReply(err)], replyOpts);
    }
  }

  private async run(doc: Document): Promise<CommandResult> {
    const name = Object.keys(doc)[0];
    if (name === undefined) throw new ArgonError('BadValue', 'empty command document');
    if (doc.startTransaction === true || doc.autocommit === false) {
      // A standalone mongod refuses multi-document transactions the same way.
      throw new ArgonError('IllegalOperation', 'Transaction numbers are only allowed on a replica set member or mongos');
    }
    const spec = lookupCommand(name);
    if (!spec) throw new ArgonError('CommandNotFound', `no such command: '${name}'`);
    const db = doc.$db;
    if (typeof db !== 'string' || db.length === 0) throw new ArgonError('BadValue', "the '$db' field is missing or not a string");
    if (spec.adminOnly && db !== 'admin') throw new ArgonError('Unauthorized', `${name} may only be run against the admin database.`);
    if (spec.writes && this.endpoint.readOnly) {
      throw new ArgonError('ReadOnlyEndpoint', `this endpoint is read-only (branch '${this.endpoint.branch}' as of a past point)`);
    }
    const ctx: CommandContext = {
      store: this.store,
      branch: this.endpoint.branch,
      point: this.endpoint.point ?? this.endpoint.branch,
      db,
      cursors: this.cursors,
      caller: this.caller,
      connection: {
        id: this.id,
        remoteAddress: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
        localPort: this.socket.localPort ?? 0,
        clientMetadata: this.clientMetadata,
      },
      server: this.server,
    };
    const stopTimer = this.metrics.commandSeconds.startTimer({ command: name });
    let result: CommandResult;
    try {
      result = await dispatch(name, spec, doc, ctx);
      this.metrics.commands.inc({ command: name, outcome: 'ok' });
    } catch (err) {
      this.metrics.commands.inc({ command: name, outcome: 'error' });
      throw err;
    } finally {
      stopTimer();
    }
    this.clientMetadata = ctx.connection.clientMetadata;
    return result;
  }
}

/** MongoDB's error reply: ok 0, message, code, code name and any extra fields (keyPattern...). */
export function errorReply(err: unknown): Document {
  if (err instanceof ArgonError) return { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName, ...err.info };
  if (err instanceof WireError) return { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName };
  const message = err instanceof Error ? err.message : String(err);
  return { ok: 0, errmsg: message, code: 1, codeName: 'InternalError' };
}
