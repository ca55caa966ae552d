import type { FastifyInstance } from 'fastify';
import type { Engine } from '../runs/engine.js';
import type { RunState } from '../types.js';
import { callerOf } from './authenticate.js';
import { ApiError } from './errors.js';
import { positiveInt } from './pipelines.js';
import type { LogPage } from './types.js';

const RUN_STATES: RunState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

function states(text: string | undefined): RunState[] | undefined {
  if (text === undefined || text === '') return undefined;
  const list = text.split(',').map((s) => s.trim()) as RunState[];
  const bad = list.find((s) => !RUN_STATES.includes(s));
  if (bad) throw new ApiError(400, 'InvalidRequest', `unknown run state '${bad}' (one of ${RUN_STATES.join(', ')})`);
  return list;
}

export function registerRunRoutes(app: FastifyInstance, engine: Engine): void {
  app.get<{ Querystring: { pipeline?: string; state?: string; limit?: string; before?: string } }>('/v1/runs', async (request) => {
    const q = request.query;
    const before = q.before === undefined ? undefined : new Date(q.before);
    if (before && Number.isNaN(before.getTime())) throw new ApiError(400, 'InvalidRequest', `before must be an ISO 8601 time, not '${q.before}'`);
    const limit = Math.min(q.limit === undefined ? 50 : positiveInt(q.limit, 'limit'), 1000);
    return { runs: await engine.listRuns({ pipeline: q.pipeline, states: states(q.state), limit, before }) };
  });

  app.get<{ Params: { id: string } }>('/v1/runs/:id', (request) => engine.getRun(request.params.id));

  app.post<{ Params: { id: string } }>('/v1/runs/:id/cancel', (request) => engine.cancelRun(request.params.id, { user: callerOf(request).user }));

  app.post<{ Params: { id: string } }>('/v1/runs/:id/rerun', (request) => engine.rerun(request.params.id, { user: callerOf(request).user }));

  app.get<{ Params: { id: string }; Querystring: { task?: string; attempt?: string; after?: string; limit?: string } }>('/v1/runs/:id/logs', async (request): Promise<LogPage> => {
    const q = request.query;
    const limit = Math.min(q.limit === undefined ? 1000 : positiveInt(q.limit, 'limit'), 10_000);
    const afterSeq = q.after === undefined ? undefined : Number(q.after);
    if (afterSeq !== undefined && !Number.isInteger(afterSeq)) throw new ApiError(400, 'InvalidRequest', `after must be an integer, not '${q.after}'`);
    const attempt = q.attempt === undefined ? undefined : positiveInt(q.attempt, 'attempt');
    const lines = await engine.logs(request.params.id, { taskId: q.task, attempt, afterSeq, limit });
    return { lines, next: lines.length === limit ? lines.at(-1)!.seq : null };
  });
}
