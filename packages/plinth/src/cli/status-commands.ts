import type { Command } from 'commander';
import type { CostEstimate, Prices } from '../admin.js';
import type { CostRecord } from '../meta/types.js';
import { fetchHealth } from './admin-client.js';
import { connect, connectionOptions, outputOptions, type ConnectionOptions, type OutputOptions } from './connection.js';
import { CliError } from './errors.js';
import { formatBytes, formatUsd, paint, printJson, printTable } from './format.js';

/** `plinth costs` and `plinth health`: what the server stores and costs, and whether it is up. */

interface CostReport {
  currency: string;
  prices: Prices;
  buckets: (CostRecord & { estimate: CostEstimate })[];
  total: CostEstimate;
}

function printCosts(report: CostReport): void {
  const sum = (field: (b: CostRecord) => number) => report.buckets.reduce((total, b) => total + field(b), 0);
  const row = (name: string, r: Pick<CostRecord, 'bytesStored' | 'requests' | 'egressBytes'>, usd: number) => [
    name,
    formatBytes(r.bytesStored),
    ...[r.requests.get, r.requests.put, r.requests.list, r.requests.delete].map(String),
    formatBytes(r.egressBytes),
    formatUsd(usd),
  ];
  const rows = report.buckets.map((b) => row(b.bucket, b, b.estimate.total));
  if (report.buckets.length > 1) {
    const requests = { get: sum((b) => b.requests.get), put: sum((b) => b.requests.put), list: sum((b) => b.requests.list), delete: sum((b) => b.requests.delete) };
    rows.push(row('total', { bytesStored: sum((b) => b.bytesStored), requests, egressBytes: sum((b) => b.egressBytes) }, report.total.total).map(paint.bold));
  }
  printTable(['BUCKET', 'STORED', 'GET', 'PUT', 'LIST', 'DELETE', 'EGRESS', 'USD/MONTH'], rows, [1, 2, 3, 4, 5, 6, 7]);
  const { total: t, prices: p } = report;
  console.log(
    paint.dim(
      `\nEstimate per month: storage ${formatUsd(t.storage)} + requests ${formatUsd(t.requests)} + egress ${formatUsd(t.egress)} = ${formatUsd(t.total)}, ` +
        `at ${formatUsd(p.storagePerGbMonth)}/GB-month, ${formatUsd(p.putPer1000)} per 1000 PUT/LIST, ${formatUsd(p.getPer1000)} per 1000 GET, ${formatUsd(p.egressPerGb)}/GB out.` +
        '\nRequests and egress count from each bucket\'s creation: an order of magnitude, not an invoice.',
    ),
  );
}

/** The /health JSON, indented, its statuses coloured at a terminal. */
function printHealth(health: Record<string, unknown>): void {
  const text = JSON.stringify(health, null, 2).replace(/("status": )"(\w+)"/g, (_all, key: string, value: string) => {
    const paintStatus = value === 'ok' || value === 'up' ? paint.green : paint.red;
    return `${key}${paintStatus(`"${value}"`)}`;
  });
  console.log(text);
}

export function registerStatusCommands(program: Command): void {
  connectionOptions(program.command('costs').description("per-bucket stored bytes, requests, egress and the month's estimated cost in USD"))
    .option('--bucket <name>', 'only this bucket')
    .addHelpText(
      'after',
      `
The prices are S3 Standard's unless the server was started with --prices FILE.

Examples:
  $ plinth costs
  $ plinth costs --bucket photos --json | jq .total.total`,
    )
    .action(async (o: ConnectionOptions & { bucket?: string }) => {
      const report = await (await connect(o)).request<CostReport>('GET', ['costs'], { query: o.bucket === undefined ? {} : { bucket: o.bucket } });
      // Cost records outlive their buckets, so none at all means the name is wrong.
      if (o.bucket !== undefined && report.buckets.length === 0) throw new CliError(`no cost record for a bucket named '${o.bucket}'`, 'NoSuchBucket');
      if (o.json) return printJson(report);
      if (report.buckets.length === 0) return console.log('No buckets yet: nothing to cost.');
      printCosts(report);
    });

  outputOptions(program.command('health').description("the server's /health: status, version, uptime, metadata backend, data node usage (no credentials needed)"))
    .addHelpText(
      'after',
      `
Exit status 1 when the server is not ok (metadata store or data node down) or cannot be reached.

Examples:
  $ plinth health
  $ plinth health --endpoint http://s3.internal:9000 --json`,
    )
    .action(async (o: OutputOptions) => {
      const health = await fetchHealth(o.endpoint);
      if (o.json) printJson(health);
      else printHealth(health);
      if (health.status !== 'ok') throw new CliError(`${o.endpoint} is ${String(health.status)}`);
    });
}
