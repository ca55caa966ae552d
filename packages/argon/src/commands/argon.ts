import type { Document } from 'bson';
import { describePrincipal } from '../auth/service.js';
import { ArgonError } from '../errors.js';
import type { BranchInfo } from '../storage/types.js';
import { diffRefs } from '../vcs/diff.js';
import { mergeBranches, revertRange, type MergeStrategy } from '../vcs/merge.js';
import { pendingDoc, startManualMerge } from '../vcs/manual.js';
import type { CommandContext } from './context.js';
import { boolArg, numberArg, stringArg, toNumber } from './values.js';

/**
 * Argon's own admin commands: version control over the wire, so a notebook with only a MongoDB
 * driver can branch, diff and merge (`db.adminCommand({argonBranchCreate: 'exp'})`).
 */

/** `{argonEndpoint: 'dev'}`: starts (if needed) the endpoint of a branch and returns its address. */
export async function argonEndpoint(cmd: Document, ctx: CommandContext): Promise<Document> {
  const branch = stringArg(cmd, 'argonEndpoint');
  const port = await ctx.server.endpointFor(branch);
  return { branch, port, ok: 1 };
}

function branchDoc(b: BranchInfo): Document {
  return { name: b.name, parent: b.parent, forkLsn: b.forkLsn, created: b.created, ownBytes: b.ownBytes, protected: b.protected };
}

/** `{argonBranchProtect: name, protect?: bool}`: a protected branch changes only by merge. */
export async function argonBranchProtect(cmd: Document, ctx: CommandContext): Promise<Document> {
  return { branch: branchDoc(await ctx.store.protectBranch(stringArg(cmd, 'argonBranchProtect'), boolArg(cmd, 'protect', true))), ok: 1 };
}

/** `{argonBranchReset: name, to?: 'parent' | Date | lsn, backup?: name}`: the old state stays as a backup branch. */
export async function argonBranchReset(cmd: Document, ctx: CommandContext): Promise<Document> {
  const to = cmd.to ?? 'parent';
  const target = to === 'parent' ? { parent: true as const } : to instanceof Date ? { time: to } : { lsn: toNumber(to) };
  if ('lsn' in target && target.lsn === undefined) throw new ArgonError('TypeMismatch', "'to' must be 'parent', a date or an LSN");
  const backup = cmd.backup === undefined ? undefined : stringArg(cmd, 'backup');
  const result = await ctx.store.resetBranch(stringArg(cmd, 'argonBranchReset'), target, backup);
  return { branch: branchDoc(result.branch), backup: branchDoc(result.backup), ok: 1 };
}

/** `{argonBranchCreate: name, from?: branch, at?: Date | lsn}` */
export async function argonBranchCreate(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'argonBranchCreate');
  const from = cmd.from === undefined ? undefined : stringArg(cmd, 'from');
  const at = cmd.at;
  const point = at === undefined ? {} : at instanceof Date ? { time: at } : { lsn: toNumber(at) };
  if (at !== undefined && !(at instanceof Date) && point.lsn === undefined) throw new ArgonError('TypeMismatch', "'at' must be a date or an LSN");
  return { branch: branchDoc(await ctx.store.createBranch(name, { from, ...point })), ok: 1 };
}

export function argonBranchList(_cmd: Document, ctx: CommandContext): Document {
  return { branches: ctx.store.listBranches().map(branchDoc), ok: 1 };
}

export async function argonBranchDelete(cmd: Document, ctx: CommandContext): Promise<Document> {
  const name = stringArg(cmd, 'argonBranchDelete');
  await ctx.store.deleteBranch(name);
  await ctx.server.closeEndpoints(name);
  return { ok: 1 };
}

export async function argonBranchRename(cmd: Document, ctx: CommandContext): Promise<Document> {
  const from = stringArg(cmd, 'argonBranchRename');
  const branch = await ctx.store.renameBranch(from, stringArg(cmd, 'to'));
  // The old name's endpoint would serve a name that no longer exists: its clients reconnect by the new one.
  await ctx.server.closeEndpoints(from);
  return { branch: branchDoc(branch), ok: 1 };
}

/** `{argonDiff: fromRef, to: toRef}` (branches, tags or `branch@time|lsn`): documents and field-level changes between two branches. */
export function argonDiff(cmd: Document, ctx: CommandContext): Document {
  const diff = diffRefs(ctx.store, ctx.store.resolveRef(stringArg(cmd, 'argonDiff')), ctx.store.resolveRef(stringArg(cmd, 'to')));
  return { ...diff, ok: 1 };
}

function mergeOptions(cmd: Document, strategies: MergeStrategy[]): { strategy: MergeStrategy; dryRun: boolean } {
  const strategy = (cmd.strategy ?? 'fail') as MergeStrategy;
  if (!strategies.includes(strategy)) throw new ArgonError('BadValue', `unknown merge strategy '${String(strategy)}': use ${strategies.join(', ')}`);
  return { strategy, dryRun: boolArg(cmd, 'dryRun', false) };
}

/**
 * `{argonMerge: source, into: target, strategy?: 'fail'|'ours'|'theirs'|'manual', dryRun?: bool}`.
 * `manual` stores conflicts as a pending merge (`pending` in the reply; see merges.ts).
 */
export async function argonMerge(cmd: Document, ctx: CommandContext): Promise<Document> {
  const [source, target] = [stringArg(cmd, 'argonMerge'), stringArg(cmd, 'into')];
  const options = mergeOptions(cmd, ['fail', 'ours', 'theirs', 'manual']);
  if (options.strategy !== 'manual') return { ...(await mergeBranches(ctx.store, source, target, options)), ok: 1 };
  const { pending, ...result } = await startManualMerge(ctx.store, source, target, options.dryRun);
  return pending ? { ...result, pending: pendingDoc(pending), ok: 1 } : { ...result, ok: 1 };
}

/** `{argonRevert: branch, fromLsn, toLsn?, strategy?, dryRun?}`: undoes an LSN range as a new change. */
export async function argonRevert(cmd: Document, ctx: CommandContext): Promise<Document> {
  const fromLsn = numberArg(cmd, 'fromLsn');
  if (fromLsn === undefined) throw new ArgonError('BadValue', "'fromLsn' is required");
  const result = await revertRange(ctx.store, stringArg(cmd, 'argonRevert'), { fromLsn, toLsn: numberArg(cmd, 'toLsn') }, mergeOptions(cmd, ['fail', 'ours', 'theirs']));
  return { ...result, ok: 1 };
}

/** `{argonCommit: branch, message, author?}`: names the branch's current state; the author defaults to the caller. */
export async function argonCommit(cmd: Document, ctx: CommandContext): Promise<Document> {
  const author = cmd.author === undefined ? (describePrincipal(ctx.caller.principal) ?? 'anonymous') : stringArg(cmd, 'author');
  return { commit: await ctx.store.commit(stringArg(cmd, 'argonCommit'), stringArg(cmd, 'message'), author), ok: 1 };
}

function tagDoc(ctx: CommandContext, tag: { name: string; branchId: number; lsn: number; created: number }): Document {
  const branch = ctx.store.listBranches().find((b) => b.id === tag.branchId)?.name ?? null;
  return { name: tag.name, branch, lsn: tag.lsn, created: new Date(tag.created) };
}

/** `{argonTagCreate: name, from?: ref}`: names a point (default: main's head) for later reads, branches and diffs. */
export async function argonTagCreate(cmd: Document, ctx: CommandContext): Promise<Document> {
  const point = ctx.store.resolveRef(cmd.from === undefined ? 'main' : stringArg(cmd, 'from'));
  return { tag: tagDoc(ctx, await ctx.store.createTag(stringArg(cmd, 'argonTagCreate'), point)), ok: 1 };
}

export function argonTagList(_cmd: Document, ctx: CommandContext): Document {
  return { tags: ctx.store.listTags().map((t) => tagDoc(ctx, t)), ok: 1 };
}

export async function argonTagDelete(cmd: Document, ctx: CommandContext): Promise<Document> {
  await ctx.store.deleteTag(stringArg(cmd, 'argonTagDelete'));
  return { ok: 1 };
}

/** `{argonBranchSuspend: ref}`: closes the endpoint's connections; its next client resumes it. */
export function argonBranchSuspend(cmd: Document, ctx: CommandContext): Document {
  return { endpoint: ctx.server.setSuspended(stringArg(cmd, 'argonBranchSuspend'), true), ok: 1 };
}

export function argonBranchResume(cmd: Document, ctx: CommandContext): Document {
  return { endpoint: ctx.server.setSuspended(stringArg(cmd, 'argonBranchResume'), false), ok: 1 };
}

/** `{argonEndpoints: 1}`: running endpoints with their state (active or suspended). */
export function argonEndpoints(_cmd: Document, ctx: CommandContext): Document {
  return { endpoints: ctx.server.endpoints(), ok: 1 };
}
