import net from 'node:net';
import { MessageFramer, type RawMessage } from '../src/wire/framing.js';
import { HEADER_SIZE } from '../src/wire/protocol.js';

/**
 * A raw TCP client for protocol tests: frames the server's replies (copied out of the socket
 * chunks) and lets a test wait for a condition. Subclasses decide what to keep of each reply.
 */
export abstract class RawConnection {
  closed = false;
  private readonly framer = new MessageFramer();
  private wake: (() => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const m of this.framer.push(chunk)) {
          const copy = Buffer.from(m.message);
          this.onReply({ header: m.header, message: copy, body: copy.subarray(HEADER_SIZE) });
        }
      } catch (err) {
        this.onUnframeable(err as Error);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  protected abstract onReply(message: RawMessage): void;

  protected onUnframeable(err: Error): void {
    throw err;
  }

  /** Connects to 127.0.0.1:`port` and wraps the socket in the subclass it is called on. */
  static open<T extends RawConnection>(this: new (socket: net.Socket) => T, port: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new this(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until `pred` holds, the socket closes, or `ms` pass; returns whether `pred` holds. */
  async waitFor(pred: () => boolean, ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (this.closed || Date.now() >= deadline) return pred();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return true;
  }

  waitClosed(ms = 5000): Promise<boolean> {
    return this.waitFor(() => this.closed, ms);
  }

  close(): void {
    this.socket.destroy();
  }
}
