import type { Socket } from 'node:net';
import type { Document } from 'bson';
import type { Logger } from 'pino';
import { ArgonError } from '../errors.js';
import { lookupCommand } from '../commands/registry.js';
import { isRawReply, type CommandContext, type CommandResult, type ServerInfo } from '../commands/context.js';
import type { CursorManager } from '../commands/cursors.js';
import type { Store } from '../storage/store.js';
import { decodeCompressed, encodeCompressed } from '../wire/compression.js';
import { WireError } from '../wire/errors.js';
import { MessageFramer, type RawMessage } from '../wire/framing.js';
import { decodeOpMsg, encodeOpMsg, encodeOpMsgRaw } from '../wire/opmsg.js';
import { decodeOpQuery, encodeOpReply } from '../wire/opquery.js';
import { OpCode } from '../wire/protocol.js';

export interface EndpointInfo {
  branch: string;
  readOnly: boolean;
}

let nextConnectionId = 1;
let nextResponseId = 1;

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

  constructor(
    private readonly socket: Socket,
    private readonly endpoint: EndpointInfo,
    private readonly store: Store,
    private readonly cursors: CursorManager,
    private readonly server: ServerInfo,
    private readonly log: Logger,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err, connectionId: this.id }, 'socket error'));
  }

  private onData(chunk: Buffer): void {
    let messages: RawMessage[];
    try {
      messages = this.framer.push(chunk);
    } catch (err) {
      this.log.warn({ connectionId: this.id, err: (err as Error).message }, 'closing connection: unframeable input');
      this.socket.destroy();
      return;
    }
    for (const message of messages) {
      // Messages may be views into the chunk; copy so the socket buffer is not pinned.
      const copy: RawMessage = { ...message, body: Buffer.from(message.body), message: Buffer.from(message.message) };
      this.queue = this.queue.then(() => this.handle(copy)).catch((err) => {
        this.log.error({ err, connectionId: this.id }, 'unexpected error while handling a message');
        this.socket.destroy();
      });
    }
  }

  private async handle(message: RawMessage, compressorId?: number): Promise<void> {
    const { header } = message;
    if (header.opCode === OpCode.OP_COMPRESSED) {
      const inner = decodeCompressed(message);
      return this.handle(inner.message, inner.compressorId);
    }
    let reply: Buffer | null;
    if (header.opCode === OpCode.OP_MSG) reply = await this.handleOpMsg(message);
    else if (header.opCode === OpCode.OP_QUERY) reply = await this.handleOpQuery(message);
    else {
      this.log.warn({ connectionId: this.id, opCode: header.opCode }, 'closing connection: unsupported opcode');
      this.socket.destroy();
      return;
    }
    if (reply === null || this.socket.destroyed) return;
    this.socket.write(compressorId !== undefined && compressorId !== 0 ? encodeCompressed(reply, compressorId, nextResponseId++, header.requestId) : reply);
  }

  private async handleOpMsg(message: RawMessage): Promise<Buffer | null> {
    const replyOpts = { requestId: nextResponseId++, responseTo: message.header.requestId };
    let moreToCome = false;
    let result: CommandResult;
    try {
      const msg = decodeOpMsg(message.body, { faithful: true, header: message.header });
      moreToCome = msg.moreToCome;
      const doc: Document = { ...msg.doc };
      for (const [identifier, docs] of msg.sequences) doc[identifier] = docs;
      result = await this.run(doc);
    } catch (err) {
      result = errorReply(err);
    }
    if (moreToCome) return null;
    return isRawReply(result) ? encodeOpMsgRaw(result.raw, replyOpts) : encodeOpMsg(result, replyOpts);
  }

  private async handleOpQuery(message: RawMessage): Promise<Buffer> {
    const replyOpts = { requestId: nextResponseId++, responseTo: message.header.requestId };
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
    const doc = isRawReply(result) ? (await import('bson')).deserialize(result.raw) : result;
    return encodeOpReply([doc], replyOpts);
  }

  private async run(doc: Document): Promise<CommandResult> {
    const name = Object.keys(doc)[0];
    if (name === undefined) throw new ArgonError('BadValue', 'empty command document');
    const spec = lookupCommand(name);
    if (!spec) throw new ArgonError('CommandNotFound', `no such command: '${name}'`);
    const db = doc.$db;
    if (typeof db !== 'string' || db.length === 0) throw new ArgonError('BadValue', "the '$db' field is missing or not a string");
    if (spec.adminOnly && db !== 'admin') throw new ArgonError('Unauthorized', `${name} may only be run against the admin database.`);
    if (spec.writes && this.endpoint.readOnly) {
      throw new ArgonError('IllegalOperation', `this endpoint is read-only (branch '${this.endpoint.branch}' as of a past point)`);
    }
    const ctx: CommandContext = {
      store: this.store,
      branch: this.endpoint.branch,
      db,
      cursors: this.cursors,
      connection: {
        id: this.id,
        remoteAddress: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
        localPort: this.socket.localPort ?? 0,
        clientMetadata: this.clientMetadata,
      },
      server: this.server,
    };
    const result = await spec.handler(doc, ctx);
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
