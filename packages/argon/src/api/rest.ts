import type { FastifyInstance, FastifyReply } from 'fastify';
import { deserialize, EJSON, type Document } from 'bson';
import { dispatch } from '../commands/dispatch.js';
import { lookupCommand } from '../commands/registry.js';
import { callerOf } from './authenticate.js';
import { isRawReply, type CommandContext, type ServerInfo } from '../commands/context.js';
import type { CursorManager } from '../commands/cursors.js';
import { ArgonError } from '../errors.js';
import type { Store } from '../storage/store.js';
import { OPENAPI } from './openapi.js';

/** HTTP statuses for the error codes the version-control operations raise. */
const STATUS: Record<string, number> = {
  BranchNotFound: 404,
  NamespaceNotFound: 404,
  BranchExists: 409,
  BranchProtected: 409,
  InvalidBranchName: 400,
  BadValue: 400,
  UserNotFound: 404,
  NoSuchKey: 404,
  RoleNotFound: 400,
  Location51003: 409,
  TypeMismatch: 400,
  SnapshotTooOld: 410,
  MergeGateFailed: 412,
  MergeInProgress: 409,
  WriteConflict: 409,
};

/**
 * The REST API: the same version-control operations as the wire's admin commands (and the CLI),
 * run through the same handlers, with JSON in and Extended JSON (relaxed) out.
 */
export function registerRestApi(app: FastifyInstance, deps: { store: Store; server: ServerInfo; cursors: CursorManager }): void {
  const base: Omit<CommandContext, 'caller'> = {
    store: deps.store,
    branch: 'main',
    point: 'main',
    db: 'admin',
    cursors: deps.cursors,
    connection: { id: 0, remoteAddress: 'http', localPort: 0 },
    server: deps.server,
  };
  /** Runs the admin command the document names, as the request's caller (roles, audit). */
  const run = async (reply: FastifyReply, cmd: Document, okStatus = 200) => {
    const name = Object.keys(cmd)[0]!;
    const caller = callerOf(reply.request);
    try {
      const raw = await dispatch(name, lookupCommand(name)!, cmd, { ...base, caller });
      const { ok: _ok, ...result } = isRawReply(raw) ? deserialize(raw.raw) : raw;
      const conflicted = result.status === 'conflicts';
      reply.code(conflicted ? 409 : okStatus).type('application/json');
      return EJSON.stringify(result, { relaxed: true });
    } catch (err) {
      if (!(err instanceof ArgonError)) throw err;
      const status = err.codeName === 'Unauthorized' ? (caller.principal || !deps.server.auth.enabled ? 403 : 401) : (STATUS[err.codeName] ?? 400);
      reply.code(status).type('application/json');
      return EJSON.stringify({ error: err.codeName, code: err.code, message: err.message, ...err.info }, { relaxed: true });
    }
  };
  const body = (request: { body: unknown }): Document => (request.body && typeof request.body === 'object' ? (request.body as Document) : {});
  const num = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const at = (value: unknown) => (typeof value === 'string' && !/^\d+$/.test(value) ? new Date(value) : value === undefined ? undefined : Number(value));

  app.get('/openapi.json', async () => OPENAPI);
  app.get<{ Querystring: { limit?: string; command?: string; who?: string; after?: string } }>('/v1/audit', (q, reply) =>
    run(reply, { argonAudit: 1, limit: num(q.query.limit), command: q.query.command, who: q.query.who, after: num(q.query.after) }),
  );
  app.get('/v1/apikeys', (_q, reply) => run(reply, { argonApiKeyList: 1 }));
  app.post('/v1/apikeys', (q, reply) => run(reply, { argonApiKeyCreate: body(q).name, role: body(q).role }, 201));
  app.delete<{ Params: { id: string } }>('/v1/apikeys/:id', (q, reply) => run(reply, { argonApiKeyRevoke: q.params.id }));
  app.get('/v1/users', (_q, reply) => run(reply, { usersInfo: { forAllDBs: true } }));
  app.post('/v1/users', (q, reply) => {
    const b = body(q);
    return run(reply, { createUser: b.user, pwd: b.password, roles: b.roles, customData: b.customData }, 201);
  });
  app.delete<{ Params: { name: string } }>('/v1/users/:name', (q, reply) => run(reply, { dropUser: q.params.name }));
  app.get('/v1/branches', (_q, reply) => run(reply, { argonBranchList: 1 }));
  app.post('/v1/branches', (q, reply) => {
    const b = body(q);
    return run(reply, { argonBranchCreate: b.name, from: b.from, at: at(b.at) }, 201);
  });
  app.delete<{ Params: { name: string } }>('/v1/branches/:name', (q, reply) => run(reply, { argonBranchDelete: q.params.name }));
  app.post<{ Params: { name: string } }>('/v1/branches/:name/rename', (q, reply) => run(reply, { argonBranchRename: q.params.name, to: body(q).to }));
  app.post<{ Params: { name: string } }>('/v1/branches/:name/protect', (q, reply) =>
    run(reply, { argonBranchProtect: q.params.name, protect: body(q).protect ?? true }),
  );
  app.post<{ Params: { name: string } }>('/v1/branches/:name/reset', (q, reply) => {
    const b = body(q);
    return run(reply, { argonBranchReset: q.params.name, to: b.to === undefined || b.to === 'parent' ? 'parent' : at(b.to), backup: b.backup });
  });
  app.get<{ Params: { name: string } }>('/v1/branches/:name/endpoint', (q, reply) => run(reply, { argonEndpoint: q.params.name }));
  app.post<{ Params: { name: string } }>('/v1/branches/:name/suspend', (q, reply) => run(reply, { argonBranchSuspend: q.params.name }));
  app.post<{ Params: { name: string } }>('/v1/branches/:name/resume', (q, reply) => run(reply, { argonBranchResume: q.params.name }));
  app.get('/v1/endpoints', (_q, reply) => run(reply, { argonEndpoints: 1 }));
  type HistoryQuery = { Params: { name: string }; Querystring: { limit?: string; ns?: string; id?: string } };
  const historyArgs = (q: { query: HistoryQuery['Querystring'] }) => ({ limit: num(q.query.limit), ns: q.query.ns, id: q.query.id, idJson: true });
  app.get<HistoryQuery>('/v1/branches/:name/log', (q, reply) => run(reply, { argonLog: q.params.name, ...historyArgs(q) }));
  app.get<HistoryQuery>('/v1/branches/:name/history', (q, reply) => run(reply, { argonHistory: q.params.name, ...historyArgs(q) }));
  app.post<{ Params: { name: string } }>('/v1/branches/:name/commits', (q, reply) => {
    const b = body(q);
    return run(reply, { argonCommit: q.params.name, message: b.message, author: b.author }, 201);
  });
  app.get<{ Querystring: { from?: string; to?: string } }>('/v1/diff', (q, reply) => run(reply, { argonDiff: q.query.from, to: q.query.to }));
  app.post('/v1/merge', (q, reply) => {
    const b = body(q);
    return run(reply, { argonMerge: b.source, into: b.into, strategy: b.strategy, dryRun: b.dryRun });
  });
  app.get<{ Params: { name: string }; Querystring: { limit?: string } }>('/v1/branches/:name/merges', (q, reply) => run(reply, { argonMergeList: q.params.name, limit: num(q.query.limit) }));
  app.get<{ Params: { name: string } }>('/v1/branches/:name/gates', (q, reply) => run(reply, { argonGateList: q.params.name }));
  app.put<{ Params: { name: string; gate: string } }>('/v1/branches/:name/gates/:gate', (q, reply) => run(reply, { argonGateSet: q.params.name, gate: { ...body(q), name: q.params.gate } }));
  app.delete<{ Params: { name: string; gate: string } }>('/v1/branches/:name/gates/:gate', (q, reply) => run(reply, { argonGateDelete: q.params.name, name: q.params.gate }));
  app.get<{ Params: { name: string } }>('/v1/branches/:name/pending-merge', (q, reply) => run(reply, { argonConflictsList: q.params.name }));
  app.delete<{ Params: { name: string } }>('/v1/branches/:name/pending-merge', (q, reply) => run(reply, { argonMergeAbort: q.params.name }));
  app.post<{ Params: { name: string; id: string } }>('/v1/branches/:name/pending-merge/conflicts/:id', (q, reply) => {
    const b = body(q);
    return run(reply, { argonConflictsResolve: q.params.name, conflict: Number(q.params.id), take: b.take, value: b.value });
  });
  app.post('/v1/revert', (q, reply) => {
    const b = body(q);
    return run(reply, { argonRevert: b.branch, fromLsn: b.fromLsn, toLsn: b.toLsn, strategy: b.strategy, dryRun: b.dryRun });
  });
  app.get('/v1/tags', (_q, reply) => run(reply, { argonTagList: 1 }));
  app.post('/v1/tags', (q, reply) => {
    const b = body(q);
    return run(reply, { argonTagCreate: b.name, from: b.from }, 201);
  });
  app.delete<{ Params: { name: string } }>('/v1/tags/:name', (q, reply) => run(reply, { argonTagDelete: q.params.name }));
}
