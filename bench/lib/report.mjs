// The benchmarks' result table: one row per figure, Argon beside a peer measured in the same run.
import { cpus } from 'node:os';

export const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))];
export const fmtMs = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
export const fmtRate = (n) => `${Math.round(n).toLocaleString('en-US')}/s`;
export const fmtMiB = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

/** Collects rows and prints them as a Markdown table under a title line. */
export class Report {
  rows = [];

  row(figure, argon, goal, met, peer) {
    this.rows.push({ figure, argon, goal, met: met === null ? '—' : met ? 'yes' : 'NO', peer });
  }

  print(title) {
    const headers = ['figure', 'Argon', 'goal', 'met', 'peer (same run)'];
    const keys = ['figure', 'argon', 'goal', 'met', 'peer'];
    const widths = keys.map((k, i) => Math.max(headers[i].length, ...this.rows.map((r) => String(r[k]).length)));
    const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
    console.log(`\n${title} — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores\n`);
    console.log(line(headers));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of this.rows) console.log(line(keys.map((k) => r[k])));
  }
}
