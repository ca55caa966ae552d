import type { Command } from 'commander';
import { client, globals } from './context.js';
import { output, paint, printTable, when } from './format.js';

/**
 * The value of `secret set`, from stdin only (an argument would stay in shell history and `ps`).
 * One trailing newline is dropped (`echo value |`, a file ending in a line break). On a terminal,
 * one line is read with echo off.
 */
export async function readSecretValue(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (stdin.isTTY) return readHiddenLine(stdin);
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function readHiddenLine(stdin: NodeJS.ReadStream): Promise<string> {
  process.stderr.write('value (input hidden): ');
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export function registerSecretCommands(program: Command): void {
  const secret = program.command('secret').description('set, list and delete secrets (values are write-only: never shown again)');

  secret
    .command('set <name>')
    .description('create or replace a secret; the value is read from stdin, never from an argument')
    .option('-e, --environment <env>', 'environment', 'development')
    .addHelpText('after', "\nExamples:\n  $ dataplane secret set DB_PASSWORD < password.txt\n  $ printf %s \"$TOKEN\" | dataplane secret set API_TOKEN --environment production")
    .action(async (name: string, o: { environment: string }, cmd: Command) => {
      const value = await readSecretValue();
      if (value === '') throw new Error('no value on stdin: pipe it in, e.g. `dataplane secret set NAME < file`');
      const result = await client(cmd).putSecret(name, value, o.environment);
      output(globals(cmd).json, result, () => console.log(`${paint.green(result.created ? 'created' : 'updated')} secret ${paint.bold(name)} in ${result.environment}`));
    });

  secret
    .command('list')
    .description('secret names (never values)')
    .option('-e, --environment <env>', 'one environment (default: all)')
    .action(async (o: { environment?: string }, cmd: Command) => {
      const list = await client(cmd).listSecrets(o.environment);
      output(globals(cmd).json, list, () => printTable(list.map((s) => ({ environment: s.environment, name: s.name, created: when(s.created), updated: when(s.updated) }))));
    });

  secret
    .command('delete <name>')
    .description('delete a secret')
    .option('-e, --environment <env>', 'environment', 'development')
    .action(async (name: string, o: { environment: string }, cmd: Command) => {
      await client(cmd).deleteSecret(name, o.environment);
      output(globals(cmd).json, { deleted: name, environment: o.environment }, () => console.log(`deleted secret ${paint.bold(name)} from ${o.environment}`));
    });
}
