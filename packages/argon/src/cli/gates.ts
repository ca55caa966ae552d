import { readFileSync } from 'node:fs';
import { EJSON } from 'bson';
import type { Command } from 'commander';
import { ArgonError } from '../errors.js';
import { output, printTable } from './format.js';
import { withServer } from './server-client.js';

type Doc = Record<string, any>;

/** Extended JSON given inline, or `@FILE` to read it from a file. */
function jsonArg(text: string, what: string): unknown {
  const source = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
  try {
    return EJSON.parse(source, { relaxed: true });
  } catch (error) {
    throw new ArgonError('BadValue', `${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function namespace(ns: string | undefined): { db: string; coll: string } {
  const dot = ns?.indexOf('.') ?? -1;
  if (!ns || dot <= 0 || dot === ns.length - 1) throw new ArgonError('BadValue', '--ns DB.COLLECTION is required for schema and pipeline gates');
  return { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
}

function gateRow(g: Doc): Doc {
  const rule = g.kind === 'jsonSchema' ? `${g.scope} documents match ${EJSON.stringify(g.schema)}` : g.kind === 'pipeline' ? `returns nothing: ${EJSON.stringify(g.pipeline)}` : `2xx within ${g.timeoutMs} ms`;
  return { name: g.name, kind: g.kind, on: g.kind === 'webhook' ? g.url : `${g.db}.${g.coll}`, rule };
}

function verdicts(gates: Doc[] | undefined): string {
  return (gates ?? []).map((g) => `${g.name} ${g.passed ? 'passed' : 'FAILED'}`).join(', ') || '-';
}

/** `argon gate add|list|remove|check|history`: merge gates of a branch, on the running server. */
export function registerGateCommands(program: Command, serverUri: () => string): void {
  const json = () => program.opts<{ json?: boolean }>().json;
  const gate = program.command('gate').description('merge gates: checks a merge into a (protected) branch must pass before it applies');

  gate
    .command('add <branch> <name>')
    .description('add or replace a gate: one of --schema, --pipeline, --webhook')
    .option('--schema <json|@file>', 'a $jsonSchema the documents of --ns must match')
    .option('--changed', 'with --schema: check only the documents the merge writes (default: the whole collection after the merge)')
    .option('--pipeline <json|@file>', 'an aggregation pipeline on --ns that must return no documents')
    .option('--ns <db.collection>', 'the collection a schema or pipeline gate checks')
    .option('--webhook <url>', 'POST the merge as JSON there; a 2xx reply passes')
    .option('--timeout <ms>', 'with --webhook: how long to wait for the reply', '10000')
    .option('--secret-env <VAR>', 'with --webhook: sign each call (X-Argon-Signature: sha256=HMAC of the body) with the secret in this environment variable')
    .action((branch: string, name: string, o: Doc) => {
      const kinds = ['schema', 'pipeline', 'webhook'].filter((k) => o[k] !== undefined);
      if (kinds.length !== 1) throw new ArgonError('BadValue', 'give exactly one of --schema, --pipeline, --webhook');
      const spec: Doc =
        o.webhook !== undefined
          ? { name, kind: 'webhook', url: o.webhook, timeoutMs: Number(o.timeout), ...webhookSecret(o.secretEnv) }
          : o.schema !== undefined
            ? { name, kind: 'jsonSchema', ...namespace(o.ns), schema: jsonArg(o.schema, '--schema'), scope: o.changed ? 'changed' : 'all' }
            : { name, kind: 'pipeline', ...namespace(o.ns), pipeline: jsonArg(o.pipeline, '--pipeline') };
      return withServer(serverUri(), async (admin) => {
        const { gates } = await admin({ argonGateSet: branch, gate: spec });
        output(json(), gates, () => console.log(`Gate '${name}' (${spec.kind}) set on '${branch}'; it has ${gates.length} gate(s)`));
      });
    });

  gate
    .command('list <branch>')
    .description("a branch's merge gates")
    .action((branch: string) =>
      withServer(serverUri(), async (admin) => {
        const { gates } = await admin({ argonGateList: branch });
        output(json(), gates, () => (gates.length === 0 ? console.log(`'${branch}' has no merge gates`) : printTable(gates.map(gateRow))));
      }),
    );

  gate
    .command('remove <branch> <name>')
    .description('remove a merge gate')
    .action((branch: string, name: string) =>
      withServer(serverUri(), async (admin) => {
        const { gates } = await admin({ argonGateDelete: branch, name });
        output(json(), gates, () => console.log(`Removed gate '${name}' from '${branch}'`));
      }),
    );

  gate
    .command('check <source>')
    .description("run TARGET's gates on the merge of SOURCE without writing (a dry-run merge); exits non-zero unless all pass")
    .requiredOption('--into <target>', 'the branch whose gates run')
    .option('--strategy <strategy>', 'fail, ours or theirs, as for argon merge', 'fail')
    .action((source: string, o: { into: string; strategy: string }) =>
      withServer(serverUri(), async (admin) => {
        const result = await admin({ argonMerge: source, into: o.into, strategy: o.strategy, dryRun: true });
        const gates: Doc[] = result.gates ?? [];
        output(json(), gates, () => {
          if (result.status === 'conflicts') return console.log(`The merge has ${result.conflicts.length} conflict(s): gates judge merged states only`);
          if (!result.gates) return console.log(result.status === 'up-to-date' ? 'Nothing to merge' : `'${o.into}' has no merge gates`);
          printTable(gates.map((g) => ({ gate: g.name, kind: g.kind, result: g.passed ? 'passed' : 'FAILED', details: g.details })));
        });
        if (result.status === 'conflicts' || gates.some((g) => !g.passed)) process.exitCode = 1;
      }),
    );

  gate
    .command('history <branch>')
    .description('merges into a branch, newest first, with the verdicts of its gates')
    .option('--limit <n>', 'how many merges', '20')
    .action((branch: string, o: { limit: string }) =>
      withServer(serverUri(), async (admin) => {
        const { merges } = await admin({ argonMergeList: branch, limit: Number(o.limit) });
        output(json(), merges, () =>
          printTable(
            (merges as Doc[]).map((m) => ({
              lsn: m.lsn,
              time: m.time,
              source: `${m.source}@${m.sourceLsn}`,
              strategy: m.strategy,
              applied: m.applied ? `+${m.applied.inserted} ~${m.applied.updated} -${m.applied.deleted}` : '-',
              gates: verdicts(m.gates),
            })),
          ),
        );
      }),
    );
}

/** Read from the environment, so the secret shows neither in the shell history nor in `ps`. */
function webhookSecret(variable: string | undefined): { secret?: string } {
  if (variable === undefined) return {};
  const secret = process.env[variable];
  if (!secret) throw new ArgonError('BadValue', `--secret-env: the environment variable ${variable} is not set`);
  return { secret };
}
