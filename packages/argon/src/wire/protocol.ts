/**
 * Constants and the standard message header shared by every wire message.
 * All integers on the wire are little-endian int32 unless noted.
 */

/** Opcodes of the MongoDB wire protocol. */
export const OpCode = {
  OP_REPLY: 1,
  /** Legacy opcodes removed in MongoDB 5.1/6.0: recognised only to reject them. */
  OP_UPDATE: 2001,
  OP_INSERT: 2002,
  RESERVED: 2003,
  /** Still needed: drivers and mongosh send the first hello/isMaster with it. */
  OP_QUERY: 2004,
  OP_GET_MORE: 2005,
  OP_DELETE: 2006,
  OP_KILL_CURSORS: 2007,
  OP_COMPRESSED: 2012,
  OP_MSG: 2013,
} as const;

export type OpCodeValue = (typeof OpCode)[keyof typeof OpCode];

/** Opcodes a client may send that Argon refuses (removed from MongoDB too). */
export const LEGACY_OPCODES: ReadonlySet<number> = new Set([
  OpCode.OP_UPDATE,
  OpCode.OP_INSERT,
  OpCode.RESERVED,
  OpCode.OP_GET_MORE,
  OpCode.OP_DELETE,
  OpCode.OP_KILL_CURSORS,
]);

/** Human-readable opcode name, for logs and error messages. */
export function opCodeName(opCode: number): string {
  for (const [name, value] of Object.entries(OpCode)) if (value === opCode) return name;
  return `unknown opcode ${opCode}`;
}

export interface MessageHeader {
  /** Total message size in bytes, header included. */
  messageLength: number;
  requestId: number;
  /** requestId of the message this one answers (0 in client requests). */
  responseTo: number;
  opCode: number;
}

export const HEADER_SIZE = 16;

/** Same limits a MongoDB server advertises in its hello reply. */
export const MAX_MESSAGE_SIZE_BYTES = 48_000_000;
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
export const MAX_WRITE_BATCH_SIZE = 100_000;
/**
 * Commands and replies may exceed the user-document limit by 16 KiB so that a
 * maximal user document still fits inside the command that carries it
 * (MongoDB's BSONObjMaxInternalSize).
 */
export const MAX_BSON_INTERNAL_SIZE = MAX_BSON_OBJECT_SIZE + 16 * 1024;

/** OP_MSG flag bits. */
export const OpMsgFlag = {
  checksumPresent: 1 << 0,
  moreToCome: 1 << 1,
  exhaustAllowed: 1 << 16,
} as const;

/**
 * Bits 0-15 are "required": a receiver that does not understand a set
 * required bit must fail, because ignoring it could change the meaning of the
 * message. Bits 16-31 are optional and unknown ones are ignored.
 */
export const OP_MSG_REQUIRED_BITS_MASK = 0xffff;
export const OP_MSG_KNOWN_REQUIRED_BITS = OpMsgFlag.checksumPresent | OpMsgFlag.moreToCome;

/** OP_REPLY responseFlags bits. */
export const OpReplyFlag = {
  cursorNotFound: 1 << 0,
  queryFailure: 1 << 1,
  shardConfigStale: 1 << 2,
  awaitCapable: 1 << 3,
} as const;

export function readHeader(buf: Buffer, offset = 0): MessageHeader {
  return {
    messageLength: buf.readInt32LE(offset),
    requestId: buf.readInt32LE(offset + 4),
    responseTo: buf.readInt32LE(offset + 8),
    opCode: buf.readInt32LE(offset + 12),
  };
}

export function writeHeader(buf: Buffer, header: MessageHeader, offset = 0): void {
  buf.writeInt32LE(header.messageLength, offset);
  buf.writeInt32LE(header.requestId, offset + 4);
  buf.writeInt32LE(header.responseTo, offset + 8);
  buf.writeInt32LE(header.opCode, offset + 12);
}
