/** Output for people (aligned tables, units, colour) and for scripts (JSON), on stdout. */

/**
 * Colour only for a person at a terminal: never when stdout is piped or redirected, nor with
 * NO_COLOR set (no-color.org). JSON never goes through these.
 */
function colour(open: number, close: number): (text: string) => string {
  return (text) => (process.stdout.isTTY === true && !process.env.NO_COLOR ? `\x1b[${open}m${text}\x1b[${close}m` : text);
}

export const paint = { green: colour(32, 39), red: colour(31, 39), yellow: colour(33, 39), bold: colour(1, 22), dim: colour(2, 22) };

const visible = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').length;

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Columns padded to their widest cell; numbers (the columns named in `right`) right-aligned. */
export function printTable(header: string[], rows: string[][], right: number[] = []): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(widths[i]! - visible(c));
        return right.includes(i) ? pad + c : c + pad;
      })
      .join('  ')
      .trimEnd();
  console.log(paint.bold(line(header)));
  for (const row of rows) console.log(line(row));
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `0 B`, `812 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Dollars: cents once there are whole dollars, else enough digits that small buckets are not $0.00. */
export function formatUsd(usd: number): string {
  return `$${usd >= 1 ? usd.toFixed(2) : usd.toFixed(6).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
}

/** `1 blob`, `3 blobs`, with thousands separated. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** `0.4s`, `12s`, `4m 10s`, `2h 03m`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
