import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Engine } from '../runs/engine.js';
import { registerAuthentication } from './authenticate.js';
import { registerErrorHandling } from './errors.js';
import { engineMetrics } from './metrics.js';
import { OPENAPI } from './openapi.js';
import { registerPipelineRoutes } from './pipelines.js';
import { registerRunRoutes } from './runs.js';
import { registerSecretRoutes } from './secrets.js';
import type { Health } from './types.js';
import { registerWebSockets } from './ws.js';

export interface ApiOptions {
  /** pino logger for requests; none in tests. */
  logger?: FastifyBaseLogger;
  /** Largest request body, bytes (default 1 MiB): a pipeline file with its task files fits easily. */
  bodyLimit?: number;
  version?: string;
}

export const DEFAULT_BODY_LIMIT = 1 << 20;

/** The HTTP API (REST, metrics, WebSockets) over an engine; `listen` is the caller's. */
export async function buildApi(engine: Engine, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // A line per request would drown the engine's own lines (runs, workers); errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  });
  for (const type of ['text/yaml', 'application/yaml', 'application/x-yaml']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  }
  registerErrorHandling(app);
  registerAuthentication(app);
  const metrics = engineMetrics(engine);
  const started = Date.now();

  app.get('/health', async (): Promise<Health> => {
    const workers = engine.listWorkers();
    return {
      status: 'ok',
      version: options.version ?? '0.0.0',
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      store: engine.backend(),
      workers: { up: workers.filter((w) => w.state === 'up').length, total: workers.length },
      queueDepth: engine.queueDepth(),
      activeRuns: engine.activeRuns(),
    };
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  app.get('/openapi.json', async () => OPENAPI);
  app.get('/v1/workers', async () => ({ workers: engine.listWorkers() }));
  registerPipelineRoutes(app, engine);
  registerRunRoutes(app, engine);
  registerSecretRoutes(app, engine);
  registerWebSockets(app, engine);
  return app;
}
