import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { CREDENTIALS_FILE, readCredentials } from '../users.js';
import { AdminClient } from './admin-client.js';
import { CliError } from './errors.js';
import type { Keys } from './sigv4.js';

/**
 * Which server the operator commands talk to and as whom. The keys are looked for in the order
 * a person overrides things: flags, then the environment `plinth serve` itself reads, then the
 * credentials file a local server generated on its first start.
 */

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:9000';

export interface OutputOptions {
  json?: boolean;
  endpoint: string;
}

export interface ConnectionOptions extends OutputOptions {
  region: string;
  data: string;
  accessKey?: string;
  secretKey?: string;
}

/** The admin's keys and where they came from (for error hints; never the secret itself). */
export interface Credentials {
  keys: Keys;
  source: string;
}

function endpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('a URL such as http://127.0.0.1:9000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('an http:// or https:// URL');
  return value.replace(/\/+$/, '');
}

/** --endpoint and --json: what every operator command takes (`plinth health` needs no keys). */
export function outputOptions(command: Command): Command {
  return command
    .option('--endpoint <url>', 'the Plinth server (env PLINTH_ENDPOINT)', endpoint, process.env.PLINTH_ENDPOINT ?? DEFAULT_ENDPOINT)
    .option('--json', 'print JSON for scripts instead of text');
}

/** outputOptions plus the admin's keys and the region to sign for. */
export function connectionOptions(command: Command): Command {
  return outputOptions(command)
    .option('--access-key <key>', "the admin's access key (env PLINTH_ACCESS_KEY)")
    .option('--secret-key <secret>', "the admin's secret key (env PLINTH_SECRET_KEY; a flag shows in `ps`, prefer the environment)")
    .option('--data <dir>', "a local server's data directory, for its credentials.json when no key is given", process.env.PLINTH_DATA ?? '.plinth')
    .option('--region <region>', 'the region the server was started with (its --region; env PLINTH_REGION)', process.env.PLINTH_REGION ?? 'us-east-1');
}

function pair(accessKey: string | undefined, secretKey: string | undefined, names: string): Keys | null {
  if (accessKey === undefined && secretKey === undefined) return null;
  if (!accessKey || !secretKey) throw new CliError(`give both ${names}, or neither`);
  return { accessKey, secretKey };
}

export async function adminCredentials(o: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Promise<Credentials> {
  const flags = pair(o.accessKey, o.secretKey, '--access-key and --secret-key');
  if (flags) return { keys: flags, source: '--access-key/--secret-key' };
  const fromEnv = pair(env.PLINTH_ACCESS_KEY, env.PLINTH_SECRET_KEY, 'PLINTH_ACCESS_KEY and PLINTH_SECRET_KEY');
  if (fromEnv) return { keys: fromEnv, source: 'PLINTH_ACCESS_KEY/PLINTH_SECRET_KEY' };
  const file = join(resolve(o.data), CREDENTIALS_FILE);
  let saved;
  try {
    saved = await readCredentials(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (!saved) {
    throw new CliError(`no admin credentials: pass --access-key and --secret-key, set PLINTH_ACCESS_KEY and PLINTH_SECRET_KEY, or point --data at the server's data directory (there is no ${file})`);
  }
  if (typeof saved.accessKey !== 'string' || typeof saved.secretKey !== 'string') throw new CliError(`${file} has no accessKey and secretKey`);
  return { keys: { accessKey: saved.accessKey, secretKey: saved.secretKey }, source: file };
}

/** A client for the server the options name, signed in as the admin. */
export async function connect(o: ConnectionOptions): Promise<AdminClient> {
  return new AdminClient(o.endpoint, await adminCredentials(o), o.region);
}
