/** The REST API's OpenAPI document, served at /openapi.json. Every route of src/api is listed. */

const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const path = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const query = (name: string, type: string, description: string) => ({ name, in: 'query', schema: { type }, description });
const pipelineBody = {
  required: true,
  content: {
    'text/yaml': { schema: { type: 'string' }, example: 'name: example\ntasks:\n  hello:\n    run: python\n    code: print("hi")\n' },
    'application/json': {
      schema: {
        type: 'object',
        properties: { source: { type: 'string' }, filename: { type: 'string' }, files: { type: 'object', additionalProperties: { type: 'string' }, description: 'files the pipeline names with file:, path → content' } },
        required: ['source'],
      },
    },
  },
};
const name = path('name', 'pipeline name');
const id = path('id', 'run id');
const invalid = error('InvalidPipeline (with issues), InvalidParams or InvalidRequest');
const tooLarge = error('PayloadTooLarge: the body is over the limit (1 MiB)');

export const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Dataplane', version: '0.1.0', description: 'Pipelines (DAGs of Python, Bash and Node tasks), their runs, logs and workers. Authentication is not implemented yet.' },
  components: {
    schemas: {
      Error: {
        type: 'object',
        properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, issues: { type: 'array' } }, required: ['code', 'message'] } },
      },
    },
  },
  paths: {
    '/health': { get: { summary: 'Liveness, workers and queue depth', responses: { '200': json('OK') } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain exposition format' } } } },
    '/openapi.json': { get: { summary: 'This document', responses: { '200': json('OpenAPI 3.1') } } },
    '/v1/pipelines': {
      get: { summary: 'The latest version of every pipeline', responses: { '200': json('{pipelines}') } },
      post: { summary: 'Apply a pipeline file: a new version when it changed', requestBody: pipelineBody, responses: { '201': json('Created a version'), '200': json('Unchanged'), '400': invalid, '413': tooLarge } },
    },
    '/v1/pipelines/validate': { post: { summary: 'Validate a pipeline file without saving it', requestBody: pipelineBody, responses: { '200': json('{valid, spec}'), '400': invalid, '413': tooLarge } } },
    '/v1/pipelines/{name}': {
      get: { summary: 'A pipeline version with its spec and source', parameters: [name, query('version', 'integer', 'a version (default: the latest)')], responses: { '200': json('The version'), '404': error('PipelineNotFound') } },
      delete: { summary: 'Delete a pipeline (its runs stay)', parameters: [name], responses: { '200': json('Deleted'), '404': error('PipelineNotFound') } },
    },
    '/v1/pipelines/{name}/runs': {
      post: {
        summary: 'Start a run of the latest version',
        parameters: [name],
        requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { params: { type: 'object' }, environment: { type: 'string' } } } } } },
        responses: { '201': json('The run'), '400': invalid, '404': error('PipelineNotFound') },
      },
    },
    '/v1/runs': {
      get: {
        summary: 'Runs, newest first',
        parameters: [query('pipeline', 'string', 'one pipeline'), query('state', 'string', 'states, comma-separated'), query('limit', 'integer', 'at most (default 50)'), query('before', 'string', 'created before this ISO 8601 time')],
        responses: { '200': json('{runs}'), '400': invalid },
      },
    },
    '/v1/runs/{id}': { get: { summary: 'A run, the latest attempt of each task, every attempt and transition', parameters: [id], responses: { '200': json('{run, tasks, attempts, transitions}'), '404': error('RunNotFound') } } },
    '/v1/runs/{id}/cancel': { post: { summary: 'Cancel a queued or running run (running tasks are killed)', parameters: [id], responses: { '200': json('The run'), '404': error('RunNotFound'), '409': error('RunNotActive') } } },
    '/v1/runs/{id}/rerun': { post: { summary: "Run a failed or cancelled run's unsucceeded tasks again (next run attempt)", parameters: [id], responses: { '200': json('The run'), '404': error('RunNotFound'), '409': error('RunNotRerunnable') } } },
    '/v1/runs/{id}/logs': {
      get: {
        summary: "A run's log lines in order",
        parameters: [id, query('task', 'string', 'one task'), query('attempt', 'integer', 'one attempt'), query('after', 'integer', 'lines after this seq (paging one task attempt)'), query('limit', 'integer', 'at most (default 1000)')],
        responses: { '200': json('{lines, next}'), '404': error('RunNotFound') },
      },
    },
    '/v1/secrets': {
      get: { summary: 'Secrets: environment, name, created, updated (never values)', parameters: [query('environment', 'string', 'one environment (default: all)')], responses: { '200': json('{secrets}') } },
    },
    '/v1/secrets/{name}': {
      put: {
        summary: 'Create or replace a secret (write-only: the value is never returned)',
        parameters: [path('name', 'secret name (an environment variable name)'), query('environment', 'string', "default 'development'")],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { value: { type: 'string' } }, required: ['value'] } } } },
        responses: { '201': json('Created: {name, environment, created}'), '200': json('Replaced: {name, environment, created}'), '400': error('InvalidRequest') },
      },
      delete: { summary: 'Delete a secret', parameters: [path('name', 'secret name'), query('environment', 'string', "default 'development'")], responses: { '204': { description: 'Deleted' }, '404': error('SecretNotFound') } },
    },
    '/v1/workers': { get: { summary: 'Workers: connected, lost and stopped', responses: { '200': json('{workers}') } } },
    '/ws': { get: { summary: 'WebSocket: send {"subscribe":"run","id":ID}; receive the log backlog, then subscribed (with the run), then run, task and log events live', responses: { '101': { description: 'Switching protocols' } } } },
    '/ws/worker': { get: { summary: 'WebSocket for remote workers (dataplane worker --server URL): the messages of src/workers/protocol.ts as JSON', responses: { '101': { description: 'Switching protocols' } } } },
  },
};
