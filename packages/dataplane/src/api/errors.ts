import type { FastifyError, FastifyInstance } from 'fastify';
import { PipelineError } from '../pipelines/index.js';
import { EngineError, type EngineErrorCode } from '../runs/errors.js';
import type { ApiErrorBody } from './types.js';

const ENGINE_STATUS: Record<EngineErrorCode, number> = {
  PipelineNotFound: 404,
  RunNotFound: 404,
  InvalidParams: 400,
  RunNotActive: 409,
  RunNotRerunnable: 409,
  EngineStopped: 503,
};

/** Fastify's own errors, under codes a client can rely on. */
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PayloadTooLarge'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UnsupportedMediaType'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'InvalidRequest'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'InvalidJson'],
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ApiErrorBody {
  return { error: { code, message, ...details } };
}

/** One error shape for every failure: `{ error: { code, message, ... } }`. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const [status, body] = describe(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('NotFound', `no route ${request.method} ${request.url.split('?')[0]}`, { hint: 'GET /openapi.json lists the routes' }));
  });
}

function describe(err: FastifyError): [number, ApiErrorBody] {
  if (err instanceof PipelineError) return [400, errorBody('InvalidPipeline', err.message, { issues: err.issues })];
  if (err instanceof EngineError) return [ENGINE_STATUS[err.code], errorBody(err.code, err.message, err.details)];
  if (err instanceof ApiError) return [err.status, errorBody(err.code, err.message)];
  const known = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (known) return [known[0], errorBody(known[1], err.message)];
  if (err.validation) return [400, errorBody('InvalidRequest', err.message)];
  if (err.statusCode && err.statusCode < 500) return [err.statusCode, errorBody('InvalidRequest', err.message)];
  return [500, errorBody('InternalError', 'internal error: see the server log')];
}
