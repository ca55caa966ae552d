import type { FastifyInstance } from 'fastify';
import type { Engine } from '../runs/engine.js';
import { ENV_NAME_PATTERN } from '../pipelines/schema.js';
import type { SecretVault } from '../store/secrets.js';
import { ApiError } from './errors.js';
import type { SecretPutResult } from './types.js';

export const DEFAULT_ENVIRONMENT = 'development';
const NAME = new RegExp(ENV_NAME_PATTERN);

/**
 * Secrets are write-only: PUT takes a value, and no route ever sends one back (names, environment
 * and times only). Tasks get the values of the secrets they list, in their run's environment.
 */
export function registerSecretRoutes(app: FastifyInstance, engine: Engine): void {
  const vault = (): SecretVault => {
    const v = engine.secrets();
    if (!v) throw new ApiError(503, 'SecretsUnavailable', 'this server was started without a secrets store');
    return v;
  };
  const environmentOf = (value: unknown): string => {
    if (value === undefined) return DEFAULT_ENVIRONMENT;
    if (typeof value !== 'string' || value === '') throw new ApiError(400, 'InvalidRequest', 'environment must be a non-empty string');
    return value;
  };
  const nameOf = (name: string): string => {
    if (!NAME.test(name)) throw new ApiError(400, 'InvalidRequest', `secret names become environment variables: '${name}' is not a valid one (letters, digits and _, not starting with a digit)`);
    return name;
  };

  app.put<{ Params: { name: string }; Querystring: { environment?: string }; Body: unknown }>('/v1/secrets/:name', async (request, reply) => {
    const name = nameOf(request.params.name);
    const environment = environmentOf(request.query.environment);
    const body = request.body as { value?: unknown } | null | undefined;
    if (!body || typeof body !== 'object' || typeof body.value !== 'string') throw new ApiError(400, 'InvalidRequest', 'send JSON {"value": "..."} (a string)');
    if (body.value === '') throw new ApiError(400, 'InvalidRequest', 'a secret value cannot be empty');
    const { created } = await vault().put(environment, name, body.value);
    const result: SecretPutResult = { name, environment, created };
    return reply.code(created ? 201 : 200).send(result);
  });

  app.get<{ Querystring: { environment?: string } }>('/v1/secrets', async (request) => {
    const environment = request.query.environment === undefined ? undefined : environmentOf(request.query.environment);
    return { secrets: await vault().list(environment) };
  });

  app.delete<{ Params: { name: string }; Querystring: { environment?: string } }>('/v1/secrets/:name', async (request, reply) => {
    const environment = environmentOf(request.query.environment);
    const deleted = await vault().delete(environment, request.params.name);
    if (!deleted) throw new ApiError(404, 'SecretNotFound', `no secret '${request.params.name}' in environment '${environment}'`);
    return reply.code(204).send();
  });
}
