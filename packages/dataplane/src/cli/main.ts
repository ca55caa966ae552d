#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DataplaneApiError, DataplaneConnectionError, DEFAULT_SERVER } from '../api/client.js';
import { paint } from './format.js';
import { registerPipelineCommands } from './pipeline.js';
import { registerRunCommands } from './runs.js';
import { registerSecretCommands } from './secret.js';
import { registerServeCommand } from './serve.js';
import { registerWorkerCommands } from './worker.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The `dataplane` command. `serve` runs the server; every other command talks to a running server
 * over its REST API (`--server`, or DATAPLANE_SERVER).
 */
const program = new Command()
  .name('dataplane')
  .description('Dataplane: pipelines of Python, Bash and Node tasks, run on workers')
  .version(VERSION)
  .configureHelp({ showGlobalOptions: true })
  .option('--server <url>', 'the Dataplane server', process.env.DATAPLANE_SERVER ?? DEFAULT_SERVER)
  .option('--json', 'print JSON for scripts instead of tables')
  .addHelpText(
    'after',
    `
Examples:
  $ dataplane serve                             # server, API on http://127.0.0.1:9001, 2 local workers
  $ dataplane pipeline apply example.yaml       # save a pipeline (a new version when it changed)
  $ dataplane run example --param n=10 --wait   # run it; exit code 0 when it succeeded
  $ dataplane runs list --state failed
  $ dataplane logs RUN_ID --task extract --follow
  $ dataplane secret set DB_PASSWORD < password.txt   # value from stdin, never shown again
  $ dataplane worker --server http://host:9001 --group gpu --environment production`,
  );

registerServeCommand(program);
registerPipelineCommands(program);
registerRunCommands(program);
registerSecretCommands(program);
registerWorkerCommands(program);

function fail(err: unknown): void {
  if (err instanceof DataplaneApiError) {
    const [first, ...rest] = err.message.split('\n');
    console.error(`${paint.red('error')}: ${first} ${paint.dim(`(${err.code})`)}${rest.map((l) => `\n${l}`).join('')}`);
    const issues = err.details.issues as { path: string; message: string }[] | undefined;
    if (issues && !err.message.includes(issues[0]?.message ?? '\0')) for (const i of issues) console.error(`  ${i.path || '(file)'}: ${i.message}`);
    if (typeof err.details.hint === 'string') console.error(`${paint.dim('hint')}: ${err.details.hint}`);
  } else if (err instanceof DataplaneConnectionError) {
    console.error(`${paint.red('error')}: ${err.message}\n${paint.dim('hint')}: ${err.hint}`);
  } else if (err instanceof CommanderError) {
    // Commander printed it already.
  } else {
    console.error(`${paint.red('error')}: ${(err as Error)?.message ?? String(err)}`);
  }
  process.exitCode = err instanceof CommanderError ? err.exitCode : 1;
}

program.parseAsync(process.argv).catch(fail);
