import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Document } from 'bson';
import { EJSON } from 'bson';
import * as argon from '../commands/argon.js';
import type { CommandContext, ServerInfo } from '../commands/context.js';
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
  TypeMismatch: 400,
  SnapshotTooOld: 410,
};

/**
 * The REST API: the same version-control operations as the wire's admin commands (and the CLI),
 * run through the same handlers, with JSON in and Extended JSON (relaxed) out.
 */
export function registerRestApi(app: FastifyInstance, deps: { store: Store; server: ServerInfo; cursors: CursorManager }): void {
  const ctx: CommandContext = {
    store: deps.store,
    branch: 'main',
    point: 'main',
    db: 'admin',
    cursors: deps.cursors,
    connection: { id: 0, remoteAddress: 'http', localPort: 0 },
    server: deps.server,
  };
  const run = async (reply: FastifyReply, handler: (cmd: Document, c: CommandContext) => Document | Promise<Document>, cmd: Document, okStatus = 200) => {
    try {
      const { ok: _ok, ...result } = await handler(cmd, ctx);
      const conflicted = result.status === 'conflicts';
      reply.code(conflicted ? 409 : okStatus).type('application/json');
      return EJSON.stringify(result, { relaxed: true });
    } catch (err) {
      if (!(err instanceof ArgonError)) throw err;
      reply.code(STATUS[err.codeName] ?? 400).type('application/json');
      return JSON.stringify({ error: err.codeName, code: err.code, message: err.message });
    }
  };
  const body = (request: { body: unknown }): Document => (request.body && typeof request.body === 'object' ? (request.body as Document) : {});
  const at = (value: unknown) => (typeof value === 'string' && !/^\d+$/.test(value) ? new Date(value) : value === undefined ? undefined : Number(value));

  app.get('/openapi.json', async () => OPENAPI);
  app.get('/v1/branches', (_q, reply) => run(reply, argon.argonBranchList, { argonBranchList: 1 }));
  app.post('/v1/branches', (q, reply) => {
    const b = body(q);
    return run(reply, argon.argonBranchCreate, { argonBranchCreate: b.name, from: b.from, at: at(b.at) }, 201);
  });
  app.delete<{ Params: { name: string } }>('/v1/branches/:name', (q, reply) => run(reply, argon.argonBranchDelete, { argonBranchDelete: q.params.name }));
  app.post<{ Params: { name: string } }>('/v1/branches/:name/rename', (q, reply) => run(reply, argon.argonBranchRename, { argonBranchRename: q.params.name, to: body(q).to }));
  app.post<{ Params: { name: string } }>('/v1/branches/:name/protect', (q, reply) =>
    run(reply, argon.argonBranchProtect, { argonBranchProtect: q.params.name, protect: body(q).protect ?? true }),
  );
  app.post<{ Params: { name: string } }>('/v1/branches/:name/reset', (q, reply) => {
    const b = body(q);
    return run(reply, argon.argonBranchReset, { argonBranchReset: q.params.name, to: b.to === undefined || b.to === 'parent' ? 'parent' : at(b.to), backup: b.backup });
  });
  app.get<{ Params: { name: string } }>('/v1/branches/:name/endpoint', (q, reply) => run(reply, argon.argonEndpoint, { argonEndpoint: q.params.name }));
  app.get<{ Params: { name: string }; Querystring: { limit?: string } }>('/v1/branches/:name/log', (q, reply) =>
    run(reply, argon.argonLog, { argonLog: q.params.name, limit: q.query.limit === undefined ? undefined : Number(q.query.limit) }),
  );
  app.post<{ Params: { name: string } }>('/v1/branches/:name/commits', (q, reply) => {
    const b = body(q);
    return run(reply, argon.argonCommit, { argonCommit: q.params.name, message: b.message, author: b.author }, 201);
  });
  app.get<{ Querystring: { from?: string; to?: string } }>('/v1/diff', (q, reply) => run(reply, argon.argonDiff, { argonDiff: q.query.from, to: q.query.to }));
  app.post('/v1/merge', (q, reply) => {
    const b = body(q);
    return run(reply, argon.argonMerge, { argonMerge: b.source, into: b.into, strategy: b.strategy, dryRun: b.dryRun });
  });
  app.post('/v1/revert', (q, reply) => {
    const b = body(q);
    return run(reply, argon.argonRevert, { argonRevert: b.branch, fromLsn: b.fromLsn, toLsn: b.toLsn, strategy: b.strategy, dryRun: b.dryRun });
  });
  app.get('/v1/tags', (_q, reply) => run(reply, argon.argonTagList, { argonTagList: 1 }));
  app.post('/v1/tags', (q, reply) => {
    const b = body(q);
    return run(reply, argon.argonTagCreate, { argonTagCreate: b.name, from: b.from }, 201);
  });
  app.delete<{ Params: { name: string } }>('/v1/tags/:name', (q, reply) => run(reply, argon.argonTagDelete, { argonTagDelete: q.params.name }));
}
