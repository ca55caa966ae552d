/** Public surface of the wire-protocol layer. */
export * from './protocol.js';
export { WireError, WireErrorCodes, type WireErrorCodeName } from './errors.js';
export { MessageFramer, type RawMessage } from './framing.js';
export { crc32c } from './crc32c.js';
export type { DecodeOptions } from './bsonio.js';
export {
  decodeOpMsg,
  encodeOpMsg,
  encodeOpMsgRaw,
  frameOpMsg,
  type DecodeOpMsgOptions,
  type EncodeOpMsgOptions,
  type OpMsg,
} from './opmsg.js';
export { buildCursorReply, encodeCursorReply, cursorBatchEntrySize, type CursorBatchKey } from './cursor-reply.js';
export { decodeOpQuery, encodeOpReply, type OpQuery, type EncodeOpReplyOptions } from './opquery.js';
export {
  decodeCompressed,
  encodeCompressed,
  CompressorId,
  SUPPORTED_COMPRESSORS,
  type DecompressedMessage,
  type SupportedCompressorId,
} from './compression.js';
