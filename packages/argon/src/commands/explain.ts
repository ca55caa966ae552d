import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { QueryPlan } from '../query/plan.js';
import type { CommandContext } from './context.js';
import { findMatches, plan } from './exec.js';

/** The shape mongod gives its winning plan, so tools that read explain output understand ours. */
function describe(p: QueryPlan, ctx: CommandContext, coll: string, filter: Document): Document {
  switch (p.kind) {
    case 'IDPOINTS':
      return { stage: 'IDHACK' };
    case 'IDSCAN':
      return { stage: 'FETCH', filter, inputStage: { stage: 'IXSCAN', keyPattern: { _id: 1 }, indexName: '_id_', direction: 'forward' } };
    case 'IXSCAN': {
      const index = ctx.store.collection(ctx.point, ctx.db, coll)?.indexes.find((ix) => ix.name === p.index);
      return { stage: 'FETCH', filter, inputStage: { stage: 'IXSCAN', keyPattern: index?.key ?? {}, indexName: p.index, isMultiKey: false, direction: 'forward', indexBounds: p.ranges } };
    }
    default:
      return { stage: 'COLLSCAN', filter, direction: 'forward' };
  }
}

/** The explained command's collection, filter and sort, for the commands whose plan is a find. */
function target(inner: Document): { coll: string; filter: Document; sort?: Document } {
  const name = Object.keys(inner)[0];
  switch (name) {
    case 'find':
      return { coll: inner.find, filter: inner.filter ?? {}, sort: inner.sort };
    case 'count':
      return { coll: inner.count, filter: inner.query ?? {} };
    case 'distinct':
      return { coll: inner.distinct, filter: inner.query ?? {} };
    case 'findAndModify':
      return { coll: inner.findAndModify, filter: inner.query ?? {}, sort: inner.sort };
    case 'update':
      return { coll: inner.update, filter: inner.updates?.[0]?.q ?? {} };
    case 'delete':
      return { coll: inner.delete, filter: inner.deletes?.[0]?.q ?? {} };
    case 'aggregate': {
      const first = Array.isArray(inner.pipeline) ? inner.pipeline[0] : undefined;
      return { coll: inner.aggregate, filter: first?.$match ?? {} };
    }
    default:
      throw new ArgonError('IllegalOperation', `Explain is not supported for command '${name}'`);
  }
}

export function explain(cmd: Document, ctx: CommandContext): Document {
  const inner = cmd.explain;
  if (typeof inner !== 'object' || inner === null) throw new ArgonError('TypeMismatch', "explain's argument must be a command object");
  const { coll, filter, sort } = target(inner as Document);
  if (typeof coll !== 'string') throw new ArgonError('InvalidNamespace', 'explain: the command has no collection name');
  const hint = (inner as Document).hint as string | Document | undefined;
  const chosen = plan(ctx, coll, filter, sort, hint);
  const reply: Document = {
    explainVersion: '1',
    queryPlanner: { namespace: `${ctx.db}.${coll}`, parsedQuery: filter, winningPlan: describe(chosen, ctx, coll, filter), rejectedPlans: [] },
    command: { ...(inner as Document), $db: ctx.db },
    serverInfo: { host: ctx.server.host, version: '7.0.0' },
    ok: 1,
  };
  const verbosity = cmd.verbosity ?? 'allPlansExecution';
  if (verbosity !== 'queryPlanner') {
    const started = Date.now();
    const matches = findMatches(ctx, coll, filter, { sort, hint });
    reply.executionStats = { executionSuccess: true, nReturned: matches.length, executionTimeMillis: Date.now() - started };
  }
  return reply;
}
