import type { Document } from 'bson';
import { UUID } from 'bson';
import { parseGrants, roleAllows, type RoleGrant } from '../auth/roles.js';
import type { UserRecord } from '../auth/users.js';
import { ArgonError } from '../errors.js';
import type { CommandContext } from './context.js';
import { docArg, stringArg } from './values.js';

/** User management as mongod has it: createUser, updateUser, dropUser, grant/revoke, usersInfo. */

function password(cmd: Document): string | undefined {
  if (cmd.pwd === undefined) return undefined;
  if (typeof cmd.pwd !== 'string') throw new ArgonError('BadValue', "'pwd' must be a string");
  if (cmd.digestPassword === true) throw new ArgonError('BadValue', 'Use of SCRAM-SHA-256 requires undigested passwords');
  if (cmd.mechanisms !== undefined && !(Array.isArray(cmd.mechanisms) && cmd.mechanisms.every((m) => m === 'SCRAM-SHA-256'))) {
    throw new ArgonError('BadValue', 'Argon supports only the SCRAM-SHA-256 mechanism');
  }
  return cmd.pwd;
}

function userDb(ctx: CommandContext): string {
  if (ctx.db === '$external' || ctx.db === 'local' || ctx.db === 'config') {
    throw new ArgonError('BadValue', `Cannot create users in the ${ctx.db} database`);
  }
  return ctx.db;
}

export async function createUser(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'createUser');
  const pwd = password(cmd);
  if (pwd === undefined) throw new ArgonError('BadValue', 'Must provide a \'pwd\' field for all user documents, except those with \'$external\' as the user\'s source db');
  if (cmd.roles === undefined) throw new ArgonError('BadValue', '"createUser" command requires a "roles" array');
  await ctx.server.auth.users.create(userDb(ctx), name, pwd, parseGrants(cmd.roles, ctx.db), docArg(cmd, 'customData'));
  return { ok: 1 };
}

export async function updateUser(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'updateUser');
  const change = {
    password: password(cmd),
    roles: cmd.roles === undefined ? undefined : parseGrants(cmd.roles, ctx.db),
    customData: docArg(cmd, 'customData'),
  };
  if (change.password === undefined && change.roles === undefined && change.customData === undefined) {
    throw new ArgonError('BadValue', 'Must specify at least one field to update in updateUser');
  }
  await ctx.server.auth.users.update(ctx.db, name, change);
  return { ok: 1 };
}

async function changeRoles(cmd: Document, ctx: CommandContext, field: string, apply: (held: RoleGrant[], given: RoleGrant[]) => RoleGrant[]): Promise<Document> {
  const name = stringArg(cmd, field);
  const user = ctx.server.auth.users.get(ctx.db, name);
  if (!user) throw new ArgonError('UserNotFound', `Could not find user "${name}" for db "${ctx.db}"`);
  await ctx.server.auth.users.update(ctx.db, name, { roles: apply(user.roles, parseGrants(cmd.roles, ctx.db)) });
  return { ok: 1 };
}

const sameGrant = (a: RoleGrant, b: RoleGrant) => a.role === b.role && a.db === b.db;

export function grantRolesToUser(cmd: Document, ctx: CommandContext): Promise<Document> {
  return changeRoles(cmd, ctx, 'grantRolesToUser', (held, given) => [...held, ...given.filter((g) => !held.some((h) => sameGrant(h, g)))]);
}

export function revokeRolesFromUser(cmd: Document, ctx: CommandContext): Promise<Document> {
  return changeRoles(cmd, ctx, 'revokeRolesFromUser', (held, given) => held.filter((h) => !given.some((g) => sameGrant(h, g))));
}

export async function dropUser(cmd: Document, ctx: CommandContext): Promise<Document> {
  await ctx.server.auth.users.drop(ctx.db, stringArg(cmd, 'dropUser'));
  return { ok: 1 };
}

function userDoc(u: UserRecord): Document {
  return {
    _id: `${u.db}.${u.user}`,
    userId: new UUID(u.userId),
    user: u.user,
    db: u.db,
    roles: u.roles,
    ...(u.customData ? { customData: u.customData } : {}),
    mechanisms: ['SCRAM-SHA-256'],
  };
}

/**
 * `usersInfo`: 1 (this database's users), a name, `{user, db}`, a list of those, or
 * `{forAllDBs: true}`. Anyone may read their own entry; others' need the admin role.
 */
export function usersInfo(cmd: Document, ctx: CommandContext): Document {
  const auth = ctx.server.auth;
  const arg = cmd.usersInfo;
  const wanted: { db: string; user: string }[] | 'all' | 'db' =
    arg === 1 || arg === true ? 'db' : arg && typeof arg === 'object' && !Array.isArray(arg) && arg.forAllDBs === true ? 'all' : (Array.isArray(arg) ? arg : [arg]).map((u) => nameOf(u, ctx.db));
  const found =
    wanted === 'all' ? auth.users.list() : wanted === 'db' ? auth.users.list(ctx.db) : wanted.flatMap((w) => auth.users.get(w.db, w.user) ?? []);
  const me = ctx.caller.principal;
  const isAdmin = roleAllows(auth.roleOf(me, 'admin', true), 'admin');
  if (!isAdmin && found.some((u) => !me || u.user !== me.user || u.db !== me.db)) {
    throw new ArgonError('Unauthorized', `not authorized on ${ctx.db} to execute command { usersInfo: ... } (other users need the admin role)`);
  }
  return { users: found.map(userDoc), ok: 1 };
}

function nameOf(value: unknown, db: string): { db: string; user: string } {
  if (typeof value === 'string') return { db, user: value };
  if (value && typeof value === 'object' && typeof (value as Document).user === 'string' && typeof (value as Document).db === 'string') {
    return { db: (value as Document).db, user: (value as Document).user };
  }
  throw new ArgonError('BadValue', 'usersInfo takes 1, a user name, {user, db}, a list of those, or {forAllDBs: true}');
}
