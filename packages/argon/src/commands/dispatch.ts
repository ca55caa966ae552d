import type { Document } from 'bson';
import { describePrincipal } from '../auth/service.js';
import { roleAllows, type Role } from '../auth/roles.js';
import { ArgonError } from '../errors.js';
import { writeAuthor } from '../storage/author.js';
import type { CommandContext, CommandResult } from './context.js';
import type { CommandSpec } from './registry.js';

/**
 * Runs a command for any interface (the wire, the REST API): checks the caller's role, then
 * runs it, recording audited commands with their outcome, refusals included.
 */
export async function dispatch(name: string, spec: CommandSpec, cmd: Document, ctx: CommandContext): Promise<CommandResult> {
  const who = describePrincipal(ctx.caller.principal);
  // Writes made by the command are attributed to the caller in the change log.
  const run = () => (who === null ? spec.handler(cmd, ctx) : writeAuthor.run(who, () => spec.handler(cmd, ctx)));
  if (!spec.audit) {
    authorize(name, spec, cmd, ctx);
    return run();
  }
  try {
    authorize(name, spec, cmd, ctx);
    const result = await run();
    await record(name, cmd, ctx, null);
    return result;
  } catch (err) {
    await record(name, cmd, ctx, err);
    throw err;
  }
}

function authorize(name: string, spec: CommandSpec, cmd: Document, ctx: CommandContext): void {
  if (spec.role === 'none' || !ctx.server.auth.enabled) return;
  const principal = ctx.caller.principal;
  if (!principal) throw new ArgonError('Unauthorized', `Command ${name} requires authentication`);
  const needed = neededRole(name, spec, cmd, ctx);
  const held = ctx.server.auth.roleOf(principal, ctx.db, !!spec.adminOnly);
  if (!roleAllows(held, needed)) {
    const target = typeof cmd[name] === 'string' ? JSON.stringify(cmd[name]) : String(cmd[name]);
    throw new ArgonError('Unauthorized', `not authorized on ${ctx.db} to execute command { ${name}: ${target} }: needs the ${needed} role`);
  }
}

/** Changing a protected branch other than by merging into it is an admin's decision. */
function neededRole(name: string, spec: CommandSpec, cmd: Document, ctx: CommandContext): Role {
  if (spec.role === 'none') return 'viewer';
  const branch = cmd[name];
  if (spec.adminOnProtected && typeof branch === 'string' && ctx.store.listBranches().some((b) => b.name === branch && b.protected)) return 'admin';
  return spec.role;
}

async function record(name: string, cmd: Document, ctx: CommandContext, err: unknown): Promise<void> {
  const target = cmd[name];
  await ctx.server.auth.audit.append({
    time: Date.now(),
    who: describePrincipal(ctx.caller.principal),
    via: ctx.caller.via,
    command: name,
    ...(typeof target === 'string' ? { target } : {}),
    args: cmd,
    ok: err === null,
    ...(err === null ? {} : { error: err instanceof ArgonError ? err.codeName : 'InternalError' }),
  });
}
