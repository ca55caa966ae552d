import { deserialize, type Document } from 'bson';
import { ArgonError } from '../errors.js';
import { roleAllows } from '../auth/roles.js';
import { branchGates, gatesForDisplay, removeGate, setGate } from '../vcs/gates.js';
import { abortMerge, pendingDoc, pendingMerge, resolveConflict, type Take } from '../vcs/manual.js';
import type { CommandContext } from './context.js';
import { docArg, numberArg, plainNumbers, stringArg } from './values.js';

/**
 * Admin commands around merges: the merge gates of a branch, the merge log with gate reports,
 * and the conflicts of a pending manual merge (`argonMerge` with `strategy: 'manual'`).
 */

/**
 * `{argonGateSet: branch, gate: {name, kind: 'jsonSchema'|'pipeline'|'webhook', ...}}`: adds or
 * replaces a gate. jsonSchema: `db, coll, schema, scope?: 'all'|'changed'`; pipeline: `db, coll,
 * pipeline`; webhook: `url, timeoutMs?`.
 */
export async function argonGateSet(cmd: Document, ctx: CommandContext): Promise<Document> {
  const branch = stringArg(cmd, 'argonGateSet');
  const spec = docArg(cmd, 'gate');
  if (!spec) throw new ArgonError('BadValue', "'gate' (the gate's definition) is required");
  return { gates: gatesForDisplay(await setGate(ctx.store, branch, plainNumbers(spec)), true), ok: 1 };
}

/** `{argonGateList: branch}` */
export function argonGateList(cmd: Document, ctx: CommandContext): Document {
  const admin = roleAllows(ctx.server.auth.roleOf(ctx.caller.principal, 'admin', true), 'admin');
  return { gates: gatesForDisplay(branchGates(ctx.store, stringArg(cmd, 'argonGateList')), admin), ok: 1 };
}

/** `{argonGateDelete: branch, name}` */
export async function argonGateDelete(cmd: Document, ctx: CommandContext): Promise<Document> {
  return { gates: gatesForDisplay(await removeGate(ctx.store, stringArg(cmd, 'argonGateDelete'), stringArg(cmd, 'name')), true), ok: 1 };
}

/** `{argonMergeList: target, limit?}`: merges into a branch, newest first, with their reports (strategy, counts, gates). */
export function argonMergeList(cmd: Document, ctx: CommandContext): Document {
  const merges = ctx.store.merges(stringArg(cmd, 'argonMergeList'), numberArg(cmd, 'limit', 20)).map(({ report, ...merge }) => ({ ...merge, ...(report ? deserialize(report) : {}) }));
  return { merges, ok: 1 };
}

/** `{argonConflictsList: target}`: the pending manual merge into the branch with its conflicts, or `merge: null`. */
export function argonConflictsList(cmd: Document, ctx: CommandContext): Document {
  const pending = pendingMerge(ctx.store, stringArg(cmd, 'argonConflictsList'));
  return { merge: pending && pendingDoc(pending), ok: 1 };
}

const TAKES = new Set<string>(['ours', 'theirs', 'base', 'keep', 'delete', 'value']);

/**
 * `{argonConflictsResolve: target, conflict: id, take?: 'ours'|'theirs'|'base'|'keep'|'delete'|'value', value?}`
 * (`take` defaults to 'value' when a value is given). Resolving the last conflict completes the
 * merge: `completed` tells whether it did, `result` is the attempt, `merge` what is still pending.
 */
export async function argonConflictsResolve(cmd: Document, ctx: CommandContext): Promise<Document> {
  const target = stringArg(cmd, 'argonConflictsResolve');
  const conflict = numberArg(cmd, 'conflict');
  if (conflict === undefined) throw new ArgonError('BadValue', "'conflict' (the conflict's id) is required");
  const take = cmd.take ?? (cmd.value === undefined ? undefined : 'value');
  if (typeof take !== 'string' || !TAKES.has(take)) throw new ArgonError('BadValue', `'take' must be one of ${[...TAKES].join(', ')} (or give a 'value')`);
  const { merge, result } = await resolveConflict(ctx.store, target, conflict, take as Take, cmd.value);
  const reply: Document = { merge: merge && pendingDoc(merge), completed: merge === null, ok: 1 };
  if (result) reply.result = result;
  return reply;
}

/** `{argonMergeAbort: target}`: drops the pending manual merge (the target is unchanged). */
export async function argonMergeAbort(cmd: Document, ctx: CommandContext): Promise<Document> {
  return { aborted: pendingDoc(await abortMerge(ctx.store, stringArg(cmd, 'argonMergeAbort'))), ok: 1 };
}
