import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Engine } from '../runs/engine.js';
import type { ApplyOptions } from '../runs/apply.js';
import { callerOf } from './authenticate.js';
import { ApiError } from './errors.js';
import { summarize, type ApplyRequest, type ApplyResult } from './types.js';

/**
 * A pipeline upload: the file as text (text/yaml, application/yaml, text/plain), or JSON
 * `{ source, filename?, files? }`, or the pipeline itself as a JSON object.
 */
function upload(request: FastifyRequest): { source: string; options: ApplyOptions } {
  const body = request.body;
  // Uploads never read the server's disk: `file:` resolves against `files` only (none for text bodies).
  if (typeof body === 'string') return { source: body, options: { files: {} } };
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Partial<ApplyRequest> & Record<string, unknown>;
    if (typeof b.source === 'string') return { source: b.source, options: { filename: typeof b.filename === 'string' ? b.filename : undefined, files: isFiles(b.files) ? b.files : {} } };
    if ('tasks' in b || 'name' in b) return { source: JSON.stringify(body, null, 2), options: { files: {} } };
  }
  throw new ApiError(400, 'InvalidRequest', 'send the pipeline file as text/yaml, or JSON {"source": "...", "filename": "...", "files": {...}}');
}

function isFiles(value: unknown): value is Record<string, string> {
  return !!value && typeof value === 'object' && Object.values(value).every((v) => typeof v === 'string');
}

export function registerPipelineRoutes(app: FastifyInstance, engine: Engine): void {
  app.post('/v1/pipelines', async (request, reply) => {
    const { source, options } = upload(request);
    const { version, created } = await engine.applyPipeline(source, { ...options, user: callerOf(request).user });
    const result: ApplyResult = { created, pipeline: summarize(version) };
    return reply.code(created ? 201 : 200).send(result);
  });

  app.post('/v1/pipelines/validate', async (request) => {
    const { source, options } = upload(request);
    return { valid: true, spec: engine.validate(source, options) };
  });

  app.get('/v1/pipelines', async () => ({ pipelines: (await engine.listPipelines()).map(summarize) }));

  app.get<{ Params: { name: string }; Querystring: { version?: string } }>('/v1/pipelines/:name', async (request) => {
    const version = request.query.version === undefined ? undefined : positiveInt(request.query.version, 'version');
    return engine.getPipeline(request.params.name, version);
  });

  app.delete<{ Params: { name: string } }>('/v1/pipelines/:name', async (request) => {
    await engine.deletePipeline(request.params.name);
    return { deleted: request.params.name };
  });

  app.post<{ Params: { name: string }; Body: { params?: Record<string, unknown>; environment?: string } | undefined }>('/v1/pipelines/:name/runs', async (request, reply) => {
    const body = request.body ?? {};
    if (body.params !== undefined && (typeof body.params !== 'object' || body.params === null || Array.isArray(body.params))) {
      throw new ApiError(400, 'InvalidRequest', 'params must be an object of name → value');
    }
    const run = await engine.startRun(request.params.name, { params: body.params ?? {}, environment: body.environment, user: callerOf(request).user });
    return reply.code(201).send(run);
  });
}

export function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new ApiError(400, 'InvalidRequest', `${name} must be a positive integer, not '${text}'`);
  return n;
}
