import type { Command } from 'commander';
import { connect, connectionOptions, type ConnectionOptions } from './connection.js';
import { paint, printJson, printTable } from './format.js';

/** `plinth user list | add | remove`: the admin API's users. Secrets appear once, when created. */

interface PublicUser {
  id: string;
  displayName: string;
  accessKey: string;
  admin: boolean;
}

export function registerUserCommands(program: Command): void {
  const user = program
    .command('user')
    .description('list, add and remove users (S3 key pairs) on the running server')
    .addHelpText(
      'after',
      `
Examples:
  $ plinth user list
  $ plinth user add --name ana          # prints ana's new secret key, this once
  $ plinth user remove 4f1c…            # by id, as user list shows it`,
    );

  connectionOptions(user.command('list').description('the users (never their secrets)')).action(async (o: ConnectionOptions) => {
    const { users } = await (await connect(o)).request<{ users: PublicUser[] }>('GET', ['users']);
    if (o.json) return printJson({ users });
    printTable(
      ['ID', 'NAME', 'ACCESS KEY', 'ROLE'],
      users.map((u) => [u.id, u.displayName, u.accessKey, u.admin ? paint.yellow('admin') : 'user']),
    );
  });

  connectionOptions(user.command('add').description('create a user with a new key pair; its secret is shown this once'))
    .option('--name <name>', 'display name (default: the access key)')
    .action(async (o: ConnectionOptions & { name?: string }) => {
      const body = o.name === undefined ? {} : { displayName: o.name };
      const created = await (await connect(o)).request<{ user: PublicUser & { secretKey: string } }>('POST', ['users'], { body });
      if (o.json) return printJson(created);
      const { user: u } = created;
      console.log(`Created user ${paint.bold(u.displayName)} (id ${u.id})`);
      console.log(`  access key  ${u.accessKey}`);
      console.log(`  secret key  ${u.secretKey}`);
      console.log(paint.yellow('Keep the secret key now: Plinth does not show it again.'));
    });

  connectionOptions(user.command('remove <id>').description('remove a user (not the admin); its keys stop working at once')).action(async (id: string, o: ConnectionOptions) => {
    await (await connect(o)).request('DELETE', ['users', id]);
    if (o.json) return printJson({ removed: id });
    console.log(`Removed user ${id}`);
  });
}
