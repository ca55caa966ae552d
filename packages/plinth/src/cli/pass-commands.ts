import type { Command } from 'commander';
import type { ScrubProgress, ScrubSummary } from '../admin-passes.js';
import type { GcReport } from '../block/gc.js';
import type { PassRecord, PassResult } from './admin-client.js';
import { connect, connectionOptions, type ConnectionOptions } from './connection.js';
import { CliError } from './errors.js';
import { formatBytes, formatSeconds, paint, plural, printJson, printTable } from './format.js';
import { Progress } from './progress.js';

/**
 * `plinth gc` and `plinth scrub`: one pass now, on the server, with its progress as the server
 * streams it (admin.ts). Both exit 1 when the pass found trouble, so cron and CI notice.
 */

/** Runs the pass, drawing its progress records; the display is gone before anything is printed. */
async function runPass<P, R>(o: ConnectionOptions, name: 'gc' | 'scrub', describe: (progress: P) => { text: string; fraction?: number }): Promise<PassResult<R>> {
  const client = await connect(o);
  const progress = new Progress(name, { quiet: o.json });
  const onRecord = (record: PassRecord) => {
    if (record.type === 'start' && record.joined) progress.note(`joined the ${name} pass already running since ${record.startedAt}`);
    else if (record.type === 'start') progress.update('started');
    else if (record.type === 'progress') {
      const { text, fraction } = describe(record as unknown as P);
      progress.update(text, fraction);
    }
  };
  // Ctrl-C ends only the watching: the pass belongs to the server and goes on there.
  const interrupted = () => {
    progress.stop();
    process.stderr.write(`plinth: stopped watching; the ${name} pass goes on on the server, which logs its result\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    return await client.pass<R>(name, onRecord);
  } finally {
    process.off('SIGINT', interrupted);
    progress.stop();
  }
}

const joinedNote = (result: PassResult<unknown>) => (result.joined ? paint.dim(` (joined the pass started at ${result.startedAt})`) : '');

function gcCounts(r: GcReport): string {
  return [
    `${plural(r.blobsDeleted, 'blob')} deleted`,
    `${plural(r.pendingAborted, 'stale pending version')} dropped`,
    `${plural(r.uploadsAborted, 'stale upload')} aborted`,
    `${plural(r.tempRemoved, 'temp file')} removed`,
  ].join(', ');
}

function scrubCounts(p: ScrubProgress): { text: string; fraction?: number } {
  const size = p.expected ? `${formatBytes(p.bytes)} of ~${formatBytes(p.expected.bytes)}` : formatBytes(p.bytes);
  return { text: `${size} · ${plural(p.scanned, 'blob')} · ${p.corrupt} corrupt`, fraction: p.expected && p.expected.bytes > 0 ? p.bytes / p.expected.bytes : undefined };
}

function printScrub(result: PassResult<ScrubSummary>): void {
  const r = result.report;
  const corrupt = r.corrupt.length === 0 ? paint.green('none corrupt') : paint.red(`${r.corrupt.length} corrupt (${r.quarantined} quarantined)`);
  console.log(`Scrubbed ${plural(r.scanned, 'blob')} (${formatBytes(r.bytes)}) in ${formatSeconds(result.seconds)}: ${corrupt}, ${plural(r.tablesRewritten, 'chunk table')} rebuilt${joinedNote(result)}`);
  if (r.corrupt.length === 0) return;
  printTable(
    ['BLOB', 'NEEDS REPAIR', 'QUARANTINED AT'],
    r.corrupt.map((c) => [c.blob, c.referenced ? paint.red('yes: still referenced') : 'no: unreferenced', c.quarantinedAt ?? '(gone before it could be moved)']),
  );
}

export function registerPassCommands(program: Command): void {
  connectionOptions(program.command('gc').description('run one garbage-collection pass now and print what it reclaimed'))
    .addHelpText(
      'after',
      `
The pass drops stale pending versions, aborts multipart uploads older than 7 days, deletes blobs
nothing references and removes temp files, each only once older than the server's grace period
(24 h). The collector runs hourly anyway; this runs it now. A pass already running is joined,
not repeated. Exit status 1 when a step of the pass failed (the server log has each one).

Examples:
  $ plinth gc
  $ plinth gc --json | jq .report.blobsDeleted`,
    )
    .action(async (o: ConnectionOptions) => {
      const result = await runPass<GcReport, GcReport>(o, 'gc', (counts) => ({ text: gcCounts(counts) }));
      if (o.json) printJson(result);
      else console.log(`Garbage collection done in ${formatSeconds(result.seconds)}: ${gcCounts(result.report)}${joinedNote(result)}`);
      if (result.report.errors > 0) throw new CliError(`${plural(result.report.errors, 'step')} of the pass failed`, undefined, 'the server log has each one');
    });

  connectionOptions(program.command('scrub').description('read every blob now, check it against its hash and quarantine the corrupt ones'))
    .addHelpText(
      'after',
      `
The scrub reads the whole data node (the server also runs it daily), so it takes as long as
reading every stored byte; progress shows meanwhile, and a scrub already running is joined.
A corrupt blob that is still referenced needs restoring from another copy. Exit status 1 when
any blob is corrupt.

Examples:
  $ plinth scrub
  $ plinth scrub --json | jq '.report.corrupt[] | select(.referenced) | .blob'`,
    )
    .action(async (o: ConnectionOptions) => {
      const result = await runPass<ScrubProgress, ScrubSummary>(o, 'scrub', scrubCounts);
      if (o.json) printJson(result);
      else printScrub(result);
      const corrupt = result.report.corrupt.length;
      if (corrupt > 0) throw new CliError(`${plural(corrupt, 'corrupt blob')} found`, undefined, 'see the report: a referenced one needs restoring from another copy');
    });
}
