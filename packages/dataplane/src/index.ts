/** Dataplane as a library: the engine, the server, the REST client, and the shared types. */
export * from './types.js';
export type { DataStore, SecretInfo } from './store/types.js';
export { SecretVault, loadMasterKey, parseMasterKey, MasterKeyError } from './store/secrets.js';
export { openStore, type StoreOptions } from './store/open.js';
export { parsePipeline, PipelineError, resolveParams, retryDelay, formatDuration, parseDuration, pipelineSchema, type ParseOptions, type PipelineIssue } from './pipelines/index.js';
export { Engine, type EngineOptions, type RunDetails, type StartRunOptions } from './runs/engine.js';
export { EngineError, type EngineErrorCode } from './runs/errors.js';
export type { EngineEvents } from './runs/events.js';
export type { EngineLog } from './runs/log.js';
export type { SecretSource } from './runs/scheduler.js';
export { decide, runOutcome, type Decision } from './runs/rules.js';
export { startServer, type DataplaneServer, type ServerOptions } from './server.js';
export { buildApi, type ApiOptions } from './api/server.js';
export { DataplaneClient, DataplaneApiError, DataplaneConnectionError, DEFAULT_SERVER, type ClientOptions, type RunFilter } from './api/client.js';
export type * from './api/types.js';
