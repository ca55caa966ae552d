import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Store } from '../storage/store.js';
import { registerRestApi } from '../api/rest.js';
import { authenticateRequests } from '../api/authenticate.js';
import type { ServerInfo } from '../commands/context.js';
import type { CursorManager } from '../commands/cursors.js';
import type { ServerMetrics } from './metrics.js';
import { untrustedClient, type ServerTls } from './tls.js';

/** The HTTP side of `argon serve`: health, Prometheus metrics and the REST API; HTTPS with `tls`. */
export async function startHttp(options: {
  host: string;
  port: number;
  tls?: ServerTls;
  store: Store;
  metrics: ServerMetrics;
  log: Logger;
  server: ServerInfo;
  cursors: CursorManager;
}): Promise<FastifyInstance> {
  // Typed as the plain-HTTP instance whatever the server: nothing here depends on which it is.
  const app = Fastify({ loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger, https: options.tls?.options ?? null }) as unknown as FastifyInstance;
  // As on the wire: with a CA, a client certificate is optional but must be one it vouches for.
  if (options.tls) app.server.on('secureConnection', (socket: TLSSocket) => untrustedClient(socket) && socket.destroy());
  authenticateRequests(app, options.server.auth);
  app.get('/health', async () => ({ status: 'ok', headLsn: options.store.headLsn, branches: options.store.listBranches().length }));
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  registerRestApi(app, { store: options.store, server: options.server, cursors: options.cursors });
  await app.listen({ host: options.host, port: options.port });
  return app;
}
