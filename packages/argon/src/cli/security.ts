import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ArgonError } from '../errors.js';
import { output, printTable } from './format.js';
import { withServer } from './server-client.js';

/** `argon user …`, `argon apikey …` and `argon audit`: the security side, through the server. */
export function registerSecurityCommands(program: Command, serverUri: () => string): void {
  const json = () => program.opts<{ json?: boolean }>().json;
  const admin = <T>(fn: (run: (cmd: Record<string, unknown>) => Promise<Record<string, any>>) => Promise<T>) => withServer(serverUri(), fn);

  const user = program.command('user').description('users of the server, in its admin database (SCRAM-SHA-256; admin role needed)');
  user
    .command('create <name>')
    .description('create a user; the password comes from --password or, with --password-stdin, the first line of stdin')
    .requiredOption('--role <role...>', 'viewer, developer or admin (or a MongoDB role such as readWrite)')
    .option('--password <password>', 'the password (visible to other local users in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action((name: string, o: { role: string[]; password?: string; passwordStdin?: boolean }) => {
      const pwd = o.passwordStdin ? readFileSync(0, 'utf8').split('\n')[0] : o.password;
      if (!pwd) throw new ArgonError('BadValue', 'give the password with --password or --password-stdin');
      return admin(async (run) => {
        await run({ createUser: name, pwd, roles: o.role });
        output(json(), { user: name, db: 'admin', roles: o.role }, () => console.log(`created user ${name}@admin (${o.role.join(', ')})`));
      });
    });
  user
    .command('list')
    .description('users and their roles')
    .action(() =>
      admin(async (run) => {
        const { users } = await run({ usersInfo: { forAllDBs: true } });
        output(json(), users, () => printTable(users.map((u: any) => ({ user: u.user, db: u.db, roles: u.roles.map((r: any) => `${r.role}@${r.db}`).join(', ') }))));
      }),
    );
  user
    .command('drop <name>')
    .description('remove a user')
    .action((name: string) =>
      admin(async (run) => {
        await run({ dropUser: name });
        output(json(), { dropped: `${name}@admin` }, () => console.log(`dropped user ${name}@admin`));
      }),
    );

  const apikey = program.command('apikey').description('API keys for the REST API (acting as you, with at most your role)');
  apikey
    .command('create <name>')
    .description('create a key; it is printed once and cannot be shown again')
    .option('--role <role>', 'viewer, developer or admin (default: your own)')
    .action((name: string, o: { role?: string }) =>
      admin(async (run) => {
        const reply = await run({ argonApiKeyCreate: name, ...(o.role ? { role: o.role } : {}) });
        output(json(), { key: reply.key, ...reply.apiKey }, () => console.log(reply.key));
      }),
    );
  apikey
    .command('list')
    .description('your keys (an admin sees everyone\'s)')
    .action(() =>
      admin(async (run) => {
        const { apiKeys } = await run({ argonApiKeyList: 1 });
        output(json(), apiKeys, () => printTable(apiKeys.map((k: any) => ({ id: k.id, name: k.name, owner: k.owner, role: k.role, created: new Date(k.created) }))));
      }),
    );
  apikey
    .command('revoke <id>')
    .description('revoke a key')
    .action((id: string) =>
      admin(async (run) => {
        await run({ argonApiKeyRevoke: id });
        output(json(), { revoked: id }, () => console.log(`revoked ${id}`));
      }),
    );

  program
    .command('audit')
    .description('the audit log: who did which version-control or security operation, when, and how it ended (admin)')
    .option('--limit <n>', 'entries to show', '50')
    .option('--command <name>', 'only this command (e.g. argonMerge)')
    .option('--who <who>', 'only this caller (e.g. alice@admin)')
    .action((o: { limit: string; command?: string; who?: string }) =>
      admin(async (run) => {
        const { entries } = await run({ argonAudit: 1, limit: Number(o.limit), ...(o.command ? { command: o.command } : {}), ...(o.who ? { who: o.who } : {}) });
        output(json(), entries, () =>
          printTable(entries.map((e: any) => ({ time: e.time, who: e.who ?? '-', via: e.via, command: e.command, target: e.target ?? '', result: e.ok ? 'ok' : e.error }))),
        );
      }),
    );
}
