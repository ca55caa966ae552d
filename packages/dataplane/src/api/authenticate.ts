import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Who makes a request. Until authentication exists, nobody in particular. */
export interface Caller {
  user: string | null;
}

const callers = new WeakMap<FastifyRequest, Caller>();

/**
 * The hook point for authentication: every route (and the WebSocket upgrade, see ws.ts) runs it
 * before its handler. NOT IMPLEMENTED YET: it lets every request through as an anonymous caller.
 * API keys or sessions, and roles per route, come in a later change and plug in here.
 */
export async function authenticate(request: FastifyRequest): Promise<Caller> {
  const caller: Caller = { user: null };
  callers.set(request, caller);
  return caller;
}

export function registerAuthentication(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    await authenticate(request);
  });
}

export function callerOf(request: FastifyRequest): Caller {
  return callers.get(request) ?? { user: null };
}
