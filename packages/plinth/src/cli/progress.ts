import { formatSeconds } from './format.js';

/**
 * How far a long server pass has got, on stderr so that stdout (a report, or JSON) stays clean.
 * At a terminal: one line redrawn in place (spinner, a bar when the total is known, counts,
 * elapsed time), erased at the end. Elsewhere (a log file, CI): a plain line now and then, or
 * nothing with `quiet` (--json: scripts want only the report).
 */

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** No plain lines when not at a terminal. */
  quiet?: boolean;
  /** Plain lines at most this often. */
  plainEveryMs?: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 24;
const REDRAW_MS = 100;

/** `[██████░░░░░░]  45%`; never full before the pass says it is done (the total is an estimate). */
export function bar(fraction: number, width = BAR_WIDTH): string {
  const shown = Math.min(Math.max(fraction, 0), 0.99);
  const filled = Math.floor(shown * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.floor(shown * 100)).padStart(3)}%`;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly started = Date.now();
  private text = '';
  private fraction: number | undefined;
  private frame = 0;
  private lastPlain = -Infinity;
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly label: string,
    private readonly options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), REDRAW_MS);
      // Drawing is no reason to keep the process alive.
      this.timer.unref();
    }
  }

  /** The latest counts; `fraction` (0–1) draws a bar at a terminal. */
  update(text: string, fraction?: number): void {
    this.text = text;
    this.fraction = fraction;
    if (this.tty || this.options.quiet) return;
    const now = Date.now();
    if (now - this.lastPlain < (this.options.plainEveryMs ?? 10_000)) return;
    this.lastPlain = now;
    this.stream.write(`${this.label}: ${text}\n`);
  }

  /** A line that stays (at a terminal, above the redrawn one). */
  note(text: string): void {
    if (this.tty) this.stream.write(`\r\x1b[K${text}\n`);
    else if (!this.options.quiet) this.stream.write(`${this.label}: ${text}\n`);
  }

  /** Erases the line; call before printing the result. */
  stop(): void {
    clearInterval(this.timer);
    if (this.tty) this.stream.write('\r\x1b[K');
  }

  private draw(): void {
    const elapsed = formatSeconds((Date.now() - this.started) / 1000);
    const parts = [SPINNER[this.frame++ % SPINNER.length], this.label, this.fraction === undefined ? '' : bar(this.fraction), this.text, `(${elapsed})`];
    const line = parts.filter((p) => p !== '').join(' ');
    // A line wider than the terminal wraps, and \r then redraws only its last row.
    const width = (this.stream.columns ?? 80) - 1;
    this.stream.write(`\r\x1b[K${line.length > width ? line.slice(0, width) : line}`);
  }
}
