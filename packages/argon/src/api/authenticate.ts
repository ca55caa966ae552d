import type { FastifyInstance, FastifyRequest } from 'fastify';
import { newCaller, type AuthService, type Caller } from '../auth/service.js';

/** Routes anyone may call: liveness checks and the API's own description. */
const PUBLIC_PATHS = new Set(['/health', '/openapi.json']);

const callers = new WeakMap<FastifyRequest, Caller>();

/** The key's bearer, from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^Bearer\s+/i.test(header)) return header.replace(/^Bearer\s+/i, '').trim();
  const key = request.headers['x-api-key'];
  return typeof key === 'string' ? key.trim() : undefined;
}

/**
 * API-key authentication for every HTTP route but the public ones. A missing or unknown key is
 * refused here with 401; what the key's role allows is checked per command (403).
 */
export function authenticateRequests(app: FastifyInstance, auth: AuthService): void {
  app.addHook('onRequest', async (request, reply) => {
    const caller = newCaller('rest');
    callers.set(request, caller);
    if (!auth.enabled || PUBLIC_PATHS.has(request.url.split('?')[0]!)) return;
    const key = presentedKey(request);
    caller.principal = key === undefined ? null : auth.principalForKey(key);
    if (caller.principal) return;
    reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="argon"')
      .type('application/json')
      .send(JSON.stringify({ error: 'Unauthorized', code: 13, message: key === undefined ? 'an API key is required (Authorization: Bearer <key>)' : 'invalid or revoked API key' }));
    return reply;
  });
}

export function callerOf(request: FastifyRequest): Caller {
  return callers.get(request) ?? newCaller('rest');
}
