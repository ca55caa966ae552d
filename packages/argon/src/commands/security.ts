import type { Document } from 'bson';
import { isRole, roleAllows, serverRole } from '../auth/roles.js';
import { ArgonError } from '../errors.js';
import type { CommandContext } from './context.js';
import { numberArg, stringArg } from './values.js';

/** Argon's security admin commands: API keys for the HTTP interface, and the audit log. */

function caller(ctx: CommandContext) {
  const principal = ctx.caller.principal;
  if (!ctx.server.auth.enabled || !principal) {
    throw new ArgonError('IllegalOperation', 'API keys belong to users: start the server with authentication on and sign in');
  }
  return principal;
}

const isAdmin = (ctx: CommandContext) => roleAllows(ctx.server.auth.roleOf(ctx.caller.principal, 'admin', true), 'admin');

/** `{argonApiKeyCreate: name, role?}`: a key acting as the caller, with at most the caller's role. */
export async function argonApiKeyCreate(cmd: Document, ctx: CommandContext): Promise<Document> {
  const principal = caller(ctx);
  const own = principal.apiKey?.role ?? serverRole(principal.roles);
  const role = cmd.role ?? own;
  if (!isRole(role)) throw new ArgonError('BadValue', "'role' must be viewer, developer or admin");
  if (!own || !roleAllows(own, role)) throw new ArgonError('Unauthorized', `a key cannot carry more than its owner's role (${own ?? 'none'})`);
  const { key, info } = await ctx.server.auth.apiKeys.create(stringArg(cmd, 'argonApiKeyCreate'), `${principal.user}@${principal.db}`, role);
  return { key, apiKey: info, ok: 1 };
}

/** The caller's keys; an admin's call lists everyone's. Secrets are never shown again. */
export function argonApiKeyList(_cmd: Document, ctx: CommandContext): Document {
  const principal = caller(ctx);
  return { apiKeys: ctx.server.auth.apiKeys.list(isAdmin(ctx) ? undefined : `${principal.user}@${principal.db}`), ok: 1 };
}

export async function argonApiKeyRevoke(cmd: Document, ctx: CommandContext): Promise<Document> {
  const principal = caller(ctx);
  const id = stringArg(cmd, 'argonApiKeyRevoke');
  const key = ctx.server.auth.apiKeys.get(id);
  if (key && key.owner !== `${principal.user}@${principal.db}` && !isAdmin(ctx)) {
    throw new ArgonError('Unauthorized', "only an admin may revoke another user's key");
  }
  await ctx.server.auth.apiKeys.revoke(id);
  return { ok: 1 };
}

/** `{argonAudit: 1, limit?, command?, who?, after?}`: audited operations, newest first. */
export function argonAudit(cmd: Document, ctx: CommandContext): Document {
  const command = cmd.command === undefined ? undefined : stringArg(cmd, 'command');
  const who = cmd.who === undefined ? undefined : stringArg(cmd, 'who');
  const entries = ctx.server.auth.audit.query({ limit: numberArg(cmd, 'limit', 100), command, who, after: numberArg(cmd, 'after') });
  return { entries: entries.map((e) => ({ ...e, time: new Date(e.time) })), ok: 1 };
}
