#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describeError } from './errors.js';
import { registerPassCommands } from './pass-commands.js';
import { registerServe } from './serve.js';
import { registerStatusCommands } from './status-commands.js';
import { registerUserCommands } from './user-commands.js';

/**
 * The `plinth` command. `serve` runs the S3-compatible server; the operator commands talk to a
 * running one through its admin API (admin.ts), signed as the admin.
 */
const program = new Command()
  .name('plinth')
  .description('Plinth: S3-compatible object storage')
  // From the package's package.json (this file runs as dist/src/cli/main.js), so it cannot drift.
  .version((JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version)
  .showHelpAfterError('(add --help for usage and examples)')
  .addHelpText(
    'after',
    `
The operator commands (user, costs, health, gc, scrub) talk to a running server: --endpoint
(default http://127.0.0.1:9000, or PLINTH_ENDPOINT), signed with the admin's keys from
--access-key/--secret-key, else PLINTH_ACCESS_KEY/PLINTH_SECRET_KEY, else the credentials.json
that \`plinth serve\` generated in --data (default .plinth). --json prints JSON for scripts. They
exit with status 1 on failure, with the server's S3 error code in the message.

Examples:
  $ plinth serve --data ./.plinth
  $ plinth user add --name ana
  $ plinth costs --bucket photos
  $ plinth scrub --endpoint http://s3.internal:9000 --json`,
  );

registerServe(program);
registerUserCommands(program);
registerStatusCommands(program);
registerPassCommands(program);

program.parseAsync().catch((err: unknown) => {
  console.error(describeError(err));
  process.exitCode = 1;
});
