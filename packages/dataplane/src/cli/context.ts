import { InvalidArgumentError, type Command } from 'commander';
import { DataplaneClient, DEFAULT_SERVER } from '../api/client.js';

export interface GlobalOptions {
  server: string;
  json?: boolean;
}

/** The options every command shares, and a client of the server they name. */
export function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function client(command: Command): DataplaneClient {
  return new DataplaneClient({ server: globals(command).server ?? DEFAULT_SERVER });
}

/** `--param k=v` (repeatable): values stay strings; the server coerces them to the param's type. */
export function collectParam(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`--param takes NAME=VALUE, not '${value}'`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, not '${value}'`);
  return n;
}
