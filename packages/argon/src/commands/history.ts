import { EJSON, type Document } from 'bson';
import { ArgonError } from '../errors.js';
import { compareBson } from '../storage/keys.js';
import type { Change, LogEntry } from '../storage/types.js';
import type { CommandContext } from './context.js';
import { numberArg, stringArg } from './values.js';

/**
 * History: a branch's change log (through its ancestors), filterable by collection and document,
 * and the versions of one document, like Dolt's history tables.
 */

interface LogFilter {
  db?: string;
  coll?: string;
  id?: unknown;
}

/** `ns` is `db` or `db.collection`; `id` may come as Extended JSON text (REST query strings). */
function filterOf(cmd: Document): LogFilter {
  const filter: LogFilter = {};
  if (cmd.ns !== undefined) {
    const ns = stringArg(cmd, 'ns');
    const dot = ns.indexOf('.');
    filter.db = dot < 0 ? ns : ns.slice(0, dot);
    if (dot >= 0) filter.coll = ns.slice(dot + 1);
  }
  if (cmd.id !== undefined) {
    if (filter.coll === undefined) throw new ArgonError('BadValue', "filtering by 'id' needs 'ns' as db.collection");
    filter.id = cmd.idJson === true && typeof cmd.id === 'string' ? parseId(cmd.id) : cmd.id;
  }
  return filter;
}

function parseId(text: string): unknown {
  try {
    return EJSON.parse(text, { relaxed: true });
  } catch {
    return text;
  }
}

const isDocumentChange = (c: Change) => c.op === 'insert' || c.op === 'update' || c.op === 'delete';

function matches(c: Change, f: LogFilter): boolean {
  if (f.db !== undefined && c.db !== f.db) return false;
  if (f.coll !== undefined && c.coll !== f.coll) return false;
  return f.id === undefined || (isDocumentChange(c) && compareBson(c.id, f.id) === 0);
}

/**
 * Newest first, each entry keeping only the changes the filter selects. `beforeLsn` pages back:
 * only entries older than it (a page's last LSN gives the next page).
 */
function filteredLog(ctx: CommandContext, branch: string, f: LogFilter, fromLsn: number | undefined, limit: number, beforeLsn = Infinity): LogEntry[] {
  const all = [...ctx.store.log(branch, { fromLsn })];
  const out: LogEntry[] = [];
  for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
    const entry = all[i]!;
    if (entry.lsn >= beforeLsn) continue;
    const changes = entry.changes.filter((c) => matches(c, f));
    if (changes.length > 0) out.push({ ...entry, changes });
  }
  return out;
}

/** `{argonLog: branch, fromLsn?, beforeLsn?, limit?, ns?, id?}`: the branch's change log, newest first, with its named commits. */
export function argonLog(cmd: Document, ctx: CommandContext): Document {
  const branch = stringArg(cmd, 'argonLog');
  const entries = filteredLog(ctx, branch, filterOf(cmd), numberArg(cmd, 'fromLsn'), numberArg(cmd, 'limit', 100)!, numberArg(cmd, 'beforeLsn'));
  return { entries, commits: ctx.store.commits(branch), ok: 1 };
}

/**
 * `{argonHistory: branch, ns: 'db.coll', id, limit?}`: every version of one document, newest
 * first: the LSN, time, author and operation that made it, and the document as it then was
 * (null once deleted). Versions older than the retention window are reported without a body.
 */
export function argonHistory(cmd: Document, ctx: CommandContext): Document {
  const branch = stringArg(cmd, 'argonHistory');
  const f = filterOf(cmd);
  if (f.id === undefined || f.coll === undefined) throw new ArgonError('BadValue', "argonHistory needs 'ns' (db.collection) and 'id'");
  const versions = filteredLog(ctx, branch, f, undefined, numberArg(cmd, 'limit', 100)!).map((entry) => {
    const op = entry.changes.at(-1)!.op;
    let document: Document | null | undefined;
    try {
      // Read on the branch that wrote it: versions from before a fork live on the ancestor.
      document = ctx.store.get({ branch: entry.branch, lsn: entry.lsn }, f.db!, f.coll!, f.id);
    } catch (err) {
      if (!(err instanceof ArgonError && err.codeName === 'SnapshotTooOld')) throw err;
    }
    return { lsn: entry.lsn, time: entry.time, who: entry.who ?? null, op, ...(document === undefined ? { compacted: true } : { document }) };
  });
  return { versions, ok: 1 };
}
