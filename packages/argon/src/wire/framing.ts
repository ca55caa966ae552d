/**
 * Splits a TCP byte stream into whole wire messages.
 *
 * TCP delivers arbitrary slices: a message may span many chunks and a chunk
 * may hold several messages. The framer keeps unconsumed chunks in a queue
 * (never concatenating on every push, which would be quadratic for a large
 * message arriving in small reads) and copies each byte at most once: a
 * message lying inside a single chunk is returned as a zero-copy view, one
 * spanning chunks is assembled into one fresh buffer when its last byte
 * arrives.
 */
import { HEADER_SIZE, MAX_MESSAGE_SIZE_BYTES, type MessageHeader } from './protocol.js';
import { WireError } from './errors.js';

export { WireError } from './errors.js';

export interface RawMessage {
  header: MessageHeader;
  /** Bytes after the 16-byte header. */
  body: Buffer;
  /**
   * The whole message, header included (body is a view into it). Both may be
   * views into a socket chunk: copy anything kept beyond the request, or the
   * whole chunk stays alive.
   */
  message: Buffer;
}

export class MessageFramer {
  // Pending chunks are chunks[head..]; the first one is consumed from headOffset.
  // A moving head (instead of Array.shift) keeps many tiny chunks O(1) each.
  private chunks: Buffer[] = [];
  private head = 0;
  private headOffset = 0;
  private buffered = 0;
  /** Length of the message being assembled, or -1 while its length is unknown. */
  private expected = -1;
  private failure: WireError | undefined;
  private readonly lengthScratch = Buffer.alloc(4);

  /** Bytes received but not yet returned as part of a message. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Feeds one socket chunk; returns every message it completes, in order.
   * Throws a fatal WireError on an impossible message length, after which the
   * framer stays failed (the stream cannot be resynchronised): close the
   * connection. Messages completed earlier in the same chunk are dropped with
   * it, since the connection is going away anyway.
   */
  push(chunk: Buffer): RawMessage[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: RawMessage[] = [];
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < 4) break;
        const length = this.peekLength();
        // Check as soon as 4 bytes are here: refuse a bogus 2 GB length
        // before buffering anything more for it.
        if (length < HEADER_SIZE || length > MAX_MESSAGE_SIZE_BYTES) {
          this.failure = new WireError(
            'ProtocolError',
            `invalid message length ${length}: must be between ${HEADER_SIZE} and ${MAX_MESSAGE_SIZE_BYTES} bytes`,
            true,
          );
          throw this.failure;
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      const message = this.take(this.expected);
      this.expected = -1;
      out.push({
        header: {
          messageLength: message.readInt32LE(0),
          requestId: message.readInt32LE(4),
          responseTo: message.readInt32LE(8),
          opCode: message.readInt32LE(12),
        },
        body: message.subarray(HEADER_SIZE),
        message,
      });
    }
    this.compact();
    return out;
  }

  /** Reads the int32 length prefix of the next message without consuming it. */
  private peekLength(): number {
    const first = this.chunks[this.head]!;
    if (first.length - this.headOffset >= 4) return first.readInt32LE(this.headOffset);
    let filled = 0;
    for (let i = this.head, off = this.headOffset; filled < 4; i++, off = 0) {
      const c = this.chunks[i]!;
      const n = Math.min(4 - filled, c.length - off);
      c.copy(this.lengthScratch, filled, off, off + n);
      filled += n;
    }
    return this.lengthScratch.readInt32LE(0);
  }

  /** Removes and returns the next n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[this.head]!;
    const avail = first.length - this.headOffset;
    if (avail >= n) {
      const view = first.subarray(this.headOffset, this.headOffset + n);
      this.advance(first, n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head]!;
      const k = Math.min(n - filled, c.length - this.headOffset);
      c.copy(out, filled, this.headOffset, this.headOffset + k);
      filled += k;
      this.advance(c, k);
    }
    return out;
  }

  private advance(chunk: Buffer, n: number): void {
    this.headOffset += n;
    if (this.headOffset === chunk.length) {
      this.chunks[this.head] = undefined as unknown as Buffer; // release for GC
      this.head++;
      this.headOffset = 0;
    }
  }

  /** Drops consumed slots once they dominate the array (amortised O(1)). */
  private compact(): void {
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
