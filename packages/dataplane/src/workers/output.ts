import { StringDecoder } from 'node:string_decoder';
import { StreamRedactor } from './redact.js';

/**
 * A task attempt's output, from pipe chunks to numbered log lines: decode (UTF-8 safe across
 * chunks) → redact secrets → split into lines → cap the total → batch to the listener.
 */

export type OutputStream = 'stdout' | 'stderr' | 'system';

export interface OutputLine {
  seq: number;
  stream: OutputStream;
  at: Date;
  text: string;
}

export interface OutputOptions {
  onLines: (lines: OutputLine[]) => void;
  /** Secret variants to mask (see secretVariants). */
  secrets: string[];
  /** Bytes of lines kept per attempt; later lines are dropped. */
  maxBytes: number;
  flushMs?: number;
  batchLines?: number;
  /** A line longer than this is cut, so a task printing without newlines cannot fill memory. */
  maxLineChars?: number;
}

/** Splits text into lines: `\n` or `\r\n` ends a line; a partial line waits for more. */
export class LineSplitter {
  private pending = '';
  constructor(private readonly maxLineChars: number) {}

  push(text: string, emit: (line: string) => void): void {
    const all = this.pending + text;
    let start = 0;
    let nl: number;
    while ((nl = all.indexOf('\n', start)) >= 0) {
      emit(stripCr(all.slice(start, nl)));
      start = nl + 1;
    }
    let buf = all.slice(start);
    while (buf.length > this.maxLineChars) {
      // Not between the two halves of a surrogate pair (an emoji, say).
      const cut = isHighSurrogate(buf.charCodeAt(this.maxLineChars - 1)) ? this.maxLineChars - 1 : this.maxLineChars;
      emit(buf.slice(0, cut));
      buf = buf.slice(cut);
    }
    this.pending = buf;
  }

  end(emit: (line: string) => void): void {
    if (this.pending.length) emit(stripCr(this.pending));
    this.pending = '';
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** All output of one attempt: sequence numbers, the byte cap and batching are shared by its streams. */
export class OutputCollector {
  private seq = 0;
  private bytes = 0;
  private truncated = false;
  private batch: OutputLine[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: OutputOptions) {}

  /** A sink for one pipe: feed it chunks, then end it. */
  stream(name: 'stdout' | 'stderr'): { write(chunk: Buffer): void; end(): void } {
    const decoder = new StringDecoder('utf8');
    const redactor = new StreamRedactor(this.options.secrets);
    const splitter = new LineSplitter(this.options.maxLineChars ?? 64 * 1024);
    const emit = (line: string) => this.line(name, line);
    return {
      write: (chunk) => {
        // Past the cap the pipe is still drained (so the task never blocks) but nothing is kept.
        if (!this.truncated) splitter.push(redactor.push(decoder.write(chunk)), emit);
      },
      end: () => {
        if (this.truncated) return;
        splitter.push(redactor.push(decoder.end()), emit);
        splitter.push(redactor.end(), emit);
        splitter.end(emit);
      },
    };
  }

  /** A line from Dataplane itself (timeouts, truncation): never capped. */
  system(text: string): void {
    this.add({ seq: this.seq++, stream: 'system', at: new Date(), text });
  }

  /** Hands over whatever is batched; call once the attempt has ended. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.batch.length === 0) return;
    const lines = this.batch;
    this.batch = [];
    this.options.onLines(lines);
  }

  private line(stream: 'stdout' | 'stderr', text: string): void {
    if (this.truncated) return;
    const size = Buffer.byteLength(text) + 1;
    if (this.bytes + size > this.options.maxBytes) {
      this.truncated = true;
      this.system(`[output truncated after ${this.bytes} bytes]`);
      return;
    }
    this.bytes += size;
    this.add({ seq: this.seq++, stream, at: new Date(), text });
  }

  private add(line: OutputLine): void {
    this.batch.push(line);
    if (this.batch.length >= (this.options.batchLines ?? 100)) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.options.flushMs ?? 20);
  }
}
