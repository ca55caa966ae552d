/** Output helpers: aligned tables, colour and progress for people, JSON for scripts. */

const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Colour only for a person at a terminal: never when stdout is piped or redirected, nor when
 * NO_COLOR is set (no-color.org). JSON output never goes through these helpers.
 */
function colourWanted(): boolean {
  return process.stdout.isTTY === true && !process.env.NO_COLOR;
}

const style = (open: number, close: number) => (text: string) => (colourWanted() ? `\x1b[${open}m${text}\x1b[${close}m` : text);

export const paint = {
  green: style(32, 39),
  red: style(31, 39),
  yellow: style(33, 39),
  bold: style(1, 22),
  dim: style(2, 22),
};

/** Length as the terminal shows it: colour codes take no room. */
function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

export function printTable(rows: Record<string, unknown>[]): void {
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]!);
  const cells = rows.map((r) => keys.map((k) => cell(r[k])));
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => visibleLength(c[i]!))));
  const line = (vals: string[]) => vals.map((v, i) => v + ' '.repeat(widths[i]! - visibleLength(v))).join('  ').trimEnd();
  console.log(line(keys.map((k) => k.toUpperCase())));
  for (const c of cells) console.log(line(c));
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** An argument as a shell reads it back, for commands the CLI suggests: quoted only when it must be. */
export function shellQuote(arg: string): string {
  return /^[\w./:@=,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function output(json: boolean | undefined, value: unknown, human: () => void): void {
  if (json) console.log(JSON.stringify(value, null, 2));
  else human();
}

/** `3h 02m`, `4m 10s`, `12s`: how long a server has been up. */
export function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  const days = Math.floor(s / 86400);
  const clock = `${Math.floor((s % 86400) / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return days > 0 ? `${days}d ${clock}` : clock;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Operations quicker than this finish before a spinner would be worth drawing. */
const SPINNER_DELAY_MS = 150;

/**
 * Runs a long server operation with a spinner and the elapsed time on stderr. The server reports
 * no progress, so this only shows that work is going on. Drawn only when stderr is a terminal,
 * and erased before anything is printed, so stdout (tables or JSON) is never mixed with it.
 */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (process.stderr.isTTY !== true) return work();
  const started = performance.now();
  let frame = 0;
  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    if (elapsed < SPINNER_DELAY_MS) return;
    process.stderr.write(`\r${SPINNER[frame++ % SPINNER.length]} ${label} ${paint.dim(`${(elapsed / 1000).toFixed(1)}s`)}`);
  }, 100);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    if (frame > 0) process.stderr.write('\r\x1b[K');
  }
}
