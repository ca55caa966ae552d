/**
 * Building the bytes of an outgoing OP_MSG with a single kind-0 section.
 * Shared by opmsg.ts and cursor-reply.ts.
 */
import { HEADER_SIZE, MAX_BSON_INTERNAL_SIZE, OpCode, OpMsgFlag, writeHeader } from './protocol.js';
import { WireError } from './errors.js';
import { crc32c } from './crc32c.js';

export interface EncodeOpMsgOptions {
  requestId: number;
  responseTo: number;
  flags?: number;
  /** Append a CRC-32C. Defaults to whether `flags` has checksumPresent. */
  checksum?: boolean;
}

/**
 * Allocates the final message once and lets `writeDoc` put the body document
 * straight into it at `offset`, so reply bytes are copied a single time.
 */
export function frameOpMsg(docLength: number, opts: EncodeOpMsgOptions, writeDoc: (buf: Buffer, offset: number) => void): Buffer {
  if (docLength > MAX_BSON_INTERNAL_SIZE) {
    throw new WireError('BSONObjectTooLarge', `reply document of ${docLength} bytes exceeds ${MAX_BSON_INTERNAL_SIZE} bytes`);
  }
  const checksum = opts.checksum ?? ((opts.flags ?? 0) & OpMsgFlag.checksumPresent) !== 0;
  const flags = checksum ? (opts.flags ?? 0) | OpMsgFlag.checksumPresent : (opts.flags ?? 0) & ~OpMsgFlag.checksumPresent;
  const total = HEADER_SIZE + 4 + 1 + docLength + (checksum ? 4 : 0);
  const buf = Buffer.allocUnsafe(total);
  writeHeader(buf, { messageLength: total, requestId: opts.requestId, responseTo: opts.responseTo, opCode: OpCode.OP_MSG });
  buf.writeUInt32LE(flags >>> 0, HEADER_SIZE);
  buf[HEADER_SIZE + 4] = 0; // section kind 0
  writeDoc(buf, HEADER_SIZE + 5);
  if (checksum) buf.writeUInt32LE(crc32c(buf.subarray(0, total - 4)), total - 4);
  return buf;
}
