import { MAX_RETRIES } from './retry.js';

/**
 * The JSON Schema (draft-07) of a pipeline file, as written (before defaults and durations are
 * resolved). It is what ajv checks first and what /openapi.json publishes; checks a schema cannot
 * say well (edges, cycles, files, duration grammar, defaults against their types) are in parse.ts.
 */

/**
 * Task ids appear in paths, logs and $DATAPLANE_INPUTS keys: keep them identifier-like. Task ids and
 * param names become keys of plain objects elsewhere, where '__proto__' would set the prototype.
 */
export const TASK_ID_PATTERN = '^(?!__proto__$)[A-Za-z_][A-Za-z0-9_-]*$';
/** Params and secrets reach tasks as environment variables, so their names must be valid ones. */
export const ENV_NAME_PATTERN = '^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]*$';
/** Pipeline and worker group names appear in URLs and CLI arguments. */
export const NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]*$';
export const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h|d))+\\s*$';

const duration = {
  type: 'string',
  pattern: DURATION_PATTERN,
  description: 'A number and a unit, largest first: 500ms, 30s, 1m30s, 1.5h, 2d.',
} as const;

const retryObject = {
  type: 'object',
  additionalProperties: false,
  required: ['count'],
  properties: {
    count: { type: 'integer', minimum: 0, maximum: MAX_RETRIES, description: 'Attempts after the first.' },
    backoff: { type: 'string', enum: ['fixed', 'exponential'], description: "Default 'exponential' (with full jitter)." },
    delay: { ...duration, description: 'Wait before the first retry (the bound of it, for exponential). Default 1s.' },
    max_delay: { ...duration, description: 'Cap on any one wait. Default 30s (or delay, if longer).' },
  },
} as const;

const task = {
  type: 'object',
  additionalProperties: false,
  required: ['run'],
  properties: {
    run: { type: 'string', enum: ['python', 'bash', 'node'], description: 'The interpreter.' },
    code: { type: 'string', description: 'The code itself. Exactly one of code and file.' },
    file: { type: 'string', minLength: 1, description: 'A path relative to the pipeline file, inside its directory.' },
    needs: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string' },
      description: 'Task ids that must end first; their outputs arrive in $DATAPLANE_INPUTS.',
    },
    when: { type: 'string', enum: ['success', 'failure', 'always'], description: 'Which upstream outcomes let it run. Default success.' },
    retries: {
      anyOf: [{ type: 'integer', minimum: 0, maximum: MAX_RETRIES, description: 'Short for {count: N}.' }, retryObject],
    },
    timeout: { ...duration, description: 'Per attempt. Default none.' },
    secrets: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', pattern: ENV_NAME_PATTERN },
      description: 'Secret names, passed as environment variables.',
    },
    group: { type: 'string', pattern: NAME_PATTERN, description: "The worker group that runs it. Default 'default'." },
  },
} as const;

const param = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['string', 'integer', 'number', 'boolean', 'object', 'array'] },
    default: { description: 'Makes the param optional; must be of its type.' },
    description: { type: 'string' },
  },
} as const;

export const pipelineSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Dataplane pipeline',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'tasks'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN, maxLength: 100 },
    description: { type: 'string' },
    params: {
      type: 'object',
      propertyNames: { pattern: ENV_NAME_PATTERN },
      additionalProperties: param,
      description: 'Typed params; a run may override the defaults. Tasks see them as $DATAPLANE_PARAM_<NAME>.',
    },
    tasks: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: TASK_ID_PATTERN },
      additionalProperties: task,
    },
    concurrency: { type: ['integer', 'null'], minimum: 1, description: 'Runs of this pipeline at once. Default unlimited.' },
  },
} as const;
