import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Store } from '../storage/store.js';
import type { ServerMetrics } from './metrics.js';

/** The HTTP side of `argon serve`: health and Prometheus metrics (the REST API builds on it). */
export async function startHttp(options: { host: string; port: number; store: Store; metrics: ServerMetrics; log: Logger }): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger });
  app.get('/health', async () => ({ status: 'ok', headLsn: options.store.headLsn, branches: options.store.listBranches().length }));
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  await app.listen({ host: options.host, port: options.port });
  return app;
}
