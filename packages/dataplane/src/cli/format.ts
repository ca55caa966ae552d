import { formatDuration } from '../pipelines/duration.js';

/** Terminal output: colours when stdout is a terminal (and NO_COLOR is unset), tables, JSON. */

const useColor = process.stdout.isTTY === true && !process.env.NO_COLOR;
const ansi = (open: number, close: number) => (text: string) => (useColor ? `\u001b[${open}m${text}\u001b[${close}m` : text);

export const paint = {
  bold: ansi(1, 22),
  dim: ansi(2, 22),
  red: ansi(31, 39),
  green: ansi(32, 39),
  yellow: ansi(33, 39),
  blue: ansi(34, 39),
  cyan: ansi(36, 39),
};

const STATE_COLOR: Record<string, (text: string) => string> = {
  succeeded: paint.green,
  failed: paint.red,
  timed_out: paint.red,
  upstream_failed: paint.red,
  cancelled: paint.yellow,
  retrying: paint.yellow,
  running: paint.cyan,
  queued: paint.blue,
  skipped: paint.dim,
  pending: paint.dim,
};

export const state = (s: string) => (STATE_COLOR[s] ?? ((t: string) => t))(s);

/** Prints JSON (for --json) or runs the human printer. */
export function output(json: boolean | undefined, value: unknown, human: () => void): void {
  if (json) console.log(JSON.stringify(value, null, 2));
  else human();
}

// eslint-disable-next-line no-control-regex
const visible = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '').length;

/** Rows as an aligned table, headers from the first row's keys. */
export function table(rows: Record<string, unknown>[]): string[] {
  if (rows.length === 0) return [paint.dim('(none)')];
  const headers = Object.keys(rows[0]!);
  const cells = rows.map((r) => headers.map((h) => (r[h] === null || r[h] === undefined ? '-' : String(r[h]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => visible(c[i]!))));
  const line = (values: string[]) => values.map((v, i) => v + ' '.repeat(widths[i]! - visible(v))).join('  ').trimEnd();
  return [paint.bold(line(headers.map((h) => h.toUpperCase()))), ...cells.map(line)];
}

export function printTable(rows: Record<string, unknown>[]): void {
  for (const line of table(rows)) console.log(line);
}

export function duration(ms: number | null | undefined): string {
  return ms === null || ms === undefined || Number.isNaN(ms) ? '-' : formatDuration(ms);
}

/** From start to end (or now, while it runs). */
export function elapsed(start: string | null, end: string | null): string {
  if (!start) return '-';
  return duration((end ? Date.parse(end) : Date.now()) - Date.parse(start));
}

/** A time as local HH:MM:SS (today) or YYYY-MM-DD HH:MM. */
export function when(iso: string | null): string {
  if (!iso) return '-';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return d.toDateString() === new Date().toDateString() ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time.slice(0, 5)}`;
}
