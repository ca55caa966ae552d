/** Pipeline files: parsing and validation (YAML or JSON → PipelineSpec), params, durations, retry delays. */
export { parsePipeline, type ParseOptions } from './parse.js';
export { PipelineError, type PipelineIssue } from './errors.js';
export { pipelineSchema } from './schema.js';
export { parseDuration, formatDuration } from './duration.js';
export { resolveParams, paramEnvName, isParamType } from './params.js';
export { retryDelay, DEFAULT_RETRIES, MAX_RETRIES } from './retry.js';
export { topologicalOrder } from './dag.js';
