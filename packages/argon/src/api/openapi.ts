/** The REST API's OpenAPI document, served at /openapi.json. */

const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const errors = { '401': json('No or invalid API key'), '403': json("The key's role does not allow it"), '400': json('Invalid input'), '404': json('No such branch or tag'), '409': json('Conflict (exists, protected, or merge conflicts)') };
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const body = (properties: Record<string, object>, required: string[] = []) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const gateParam = { name: 'gate', in: 'path', required: true, schema: { type: 'string' } };
const historyParams = [
  { name: 'limit', in: 'query', schema: { type: 'integer' } },
  { name: 'ns', in: 'query', schema: { type: 'string' }, description: 'db or db.collection' },
  { name: 'id', in: 'query', schema: { type: 'string' }, description: "a document's _id as Extended JSON (needs ns as db.collection)" },
];
const ref = { type: 'string', description: 'a branch, a tag, or BRANCH@TIME / BRANCH@LSN' };
const strategy = { type: 'string', enum: ['fail', 'ours', 'theirs'] };

export const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Argon version control', version: '0.1.0', description: 'Branches, diff, merge, revert, tags and commits of an Argon server.' },
  components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an Argon API key (argonApiKeyCreate / POST /v1/apikeys); X-API-Key also works' } } },
  security: [{ apiKey: [] }],
  paths: {
    '/health': { get: { summary: 'Liveness and head LSN', security: [], responses: { '200': json('OK') } } },
    '/v1/audit': {
      get: {
        summary: 'Audit log of version-control and security operations, newest first (admin)',
        parameters: ['limit', 'after'].map((name) => ({ name, in: 'query', schema: { type: 'integer' } })).concat(['command', 'who'].map((name) => ({ name, in: 'query', schema: { type: 'string' } }))),
        responses: { '200': json('Entries'), ...errors },
      },
    },
    '/v1/apikeys': {
      get: { summary: "The caller's API keys (an admin's: everyone's)", responses: { '200': json('Keys'), ...errors } },
      post: {
        summary: 'Create an API key acting as the caller, with at most its role; the key is shown once',
        requestBody: body({ name: { type: 'string' }, role: { type: 'string', enum: ['viewer', 'developer', 'admin'] } }, ['name']),
        responses: { '201': json('The key'), ...errors },
      },
    },
    '/v1/apikeys/{id}': { delete: { summary: 'Revoke an API key', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': json('Revoked'), ...errors } } },
    '/v1/users': {
      get: { summary: 'Users and their roles (admin)', responses: { '200': json('Users'), ...errors } },
      post: {
        summary: 'Create a user (SCRAM-SHA-256) in the admin database (admin)',
        requestBody: body({ user: { type: 'string' }, password: { type: 'string' }, roles: { type: 'array' }, customData: { type: 'object' } }, ['user', 'password', 'roles']),
        responses: { '201': json('Created'), ...errors },
      },
    },
    '/v1/users/{name}': { delete: { summary: 'Remove a user of the admin database (admin)', parameters: [nameParam], responses: { '200': json('Removed'), ...errors } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain exposition format' } } } },
    '/v1/branches': {
      get: { summary: 'List branches', responses: { '200': json('Branches') } },
      post: {
        summary: 'Create a branch (copy-on-write)',
        requestBody: body({ name: { type: 'string' }, from: ref, at: { type: 'string', description: 'ISO 8601 time or LSN' } }, ['name']),
        responses: { '201': json('Created'), ...errors },
      },
    },
    '/v1/branches/{name}': { delete: { summary: 'Delete a branch', parameters: [nameParam], responses: { '200': json('Deleted'), ...errors } } },
    '/v1/branches/{name}/rename': { post: { summary: 'Rename a branch', parameters: [nameParam], requestBody: body({ to: { type: 'string' } }, ['to']), responses: { '200': json('Renamed'), ...errors } } },
    '/v1/branches/{name}/protect': { post: { summary: 'Protect a branch or lift it', parameters: [nameParam], requestBody: body({ protect: { type: 'boolean' } }), responses: { '200': json('Done'), ...errors } } },
    '/v1/branches/{name}/reset': {
      post: { summary: "Reset to the parent's head or a past point, keeping a backup branch", parameters: [nameParam], requestBody: body({ to: { type: 'string' }, backup: { type: 'string' } }), responses: { '200': json('Reset'), ...errors } },
    },
    '/v1/branches/{name}/endpoint': { get: { summary: "Start the ref's endpoint and return its port", parameters: [nameParam], responses: { '200': json('Port'), ...errors } } },
    '/v1/branches/{name}/suspend': { post: { summary: "Suspend the ref's endpoint: its connections close, its next client resumes it", parameters: [nameParam], responses: { '200': json('Endpoint'), ...errors } } },
    '/v1/branches/{name}/resume': { post: { summary: "Resume the ref's suspended endpoint", parameters: [nameParam], responses: { '200': json('Endpoint'), ...errors } } },
    '/v1/endpoints': { get: { summary: 'Running endpoints with their state and connections', responses: { '200': json('Endpoints') } } },
    '/v1/branches/{name}/log': { get: { summary: 'Change log, newest first, with named commits; filter by collection (ns) and document (id)', parameters: [nameParam, ...historyParams], responses: { '200': json('Entries'), ...errors } } },
    '/v1/branches/{name}/history': { get: { summary: 'Every version of one document: LSN, time, author, operation, content', parameters: [nameParam, ...historyParams], responses: { '200': json('Versions'), ...errors } } },
    '/v1/branches/{name}/commits': {
      post: { summary: "Name the branch's current state", parameters: [nameParam], requestBody: body({ message: { type: 'string' }, author: { type: 'string' } }, ['message']), responses: { '201': json('Commit'), ...errors } },
    },
    '/v1/diff': {
      get: {
        summary: 'Documents and fields that differ between two refs',
        parameters: [
          { name: 'from', in: 'query', required: true, schema: ref },
          { name: 'to', in: 'query', required: true, schema: ref },
        ],
        responses: { '200': json('Diff'), ...errors },
      },
    },
    '/v1/merge': {
      post: {
        summary: "Three-way merge of a branch into another; 'manual' stores conflicts as the target's pending merge",
        requestBody: body({ source: { type: 'string' }, into: { type: 'string' }, strategy: { ...strategy, enum: [...strategy.enum, 'manual'] }, dryRun: { type: 'boolean' } }, ['source', 'into']),
        responses: { '200': json('Merged or up to date (with gate reports)'), ...errors, '412': json('Refused by a merge gate (gates: the reports)') },
      },
    },
    '/v1/branches/{name}/merges': {
      get: { summary: 'Merges into the branch, newest first, with strategy, counts and gate reports', parameters: [nameParam, { name: 'limit', in: 'query', schema: { type: 'integer' } }], responses: { '200': json('Merges'), ...errors } },
    },
    '/v1/branches/{name}/gates': { get: { summary: 'Merge gates of the branch', parameters: [nameParam], responses: { '200': json('Gates'), ...errors } } },
    '/v1/branches/{name}/gates/{gate}': {
      put: {
        summary: 'Add or replace a merge gate: jsonSchema (db, coll, schema, scope all|changed), pipeline (db, coll, pipeline returning no documents), webhook (url, timeoutMs)',
        parameters: [nameParam, gateParam],
        requestBody: body(
          {
            kind: { type: 'string', enum: ['jsonSchema', 'pipeline', 'webhook'] },
            db: { type: 'string' },
            coll: { type: 'string' },
            schema: { type: 'object' },
            scope: { type: 'string', enum: ['all', 'changed'] },
            pipeline: { type: 'array', items: { type: 'object' } },
            url: { type: 'string' },
            timeoutMs: { type: 'integer' },
          },
          ['kind'],
        ),
        responses: { '200': json('Gates'), ...errors },
      },
      delete: { summary: 'Remove a merge gate', parameters: [nameParam, gateParam], responses: { '200': json('Gates'), ...errors } },
    },
    '/v1/branches/{name}/pending-merge': {
      get: { summary: 'The pending manual merge into the branch and its conflicts (merge: null if none)', parameters: [nameParam], responses: { '200': json('Pending merge'), ...errors } },
      delete: { summary: 'Abort the pending manual merge (the branch is unchanged)', parameters: [nameParam], responses: { '200': json('Aborted'), ...errors } },
    },
    '/v1/branches/{name}/pending-merge/conflicts/{id}': {
      post: {
        summary: 'Resolve a conflict; resolving the last one completes the merge (completed, result)',
        parameters: [nameParam, { name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: body({ take: { type: 'string', enum: ['ours', 'theirs', 'base', 'keep', 'delete', 'value'] }, value: { description: "with take 'value' (the default when given)" } }),
        responses: { '200': json('Resolved'), ...errors, '412': json('Completing was refused by a merge gate') },
      },
    },
    '/v1/revert': {
      post: {
        summary: 'Undo an LSN range of a branch as a new change',
        requestBody: body({ branch: { type: 'string' }, fromLsn: { type: 'integer' }, toLsn: { type: 'integer' }, strategy, dryRun: { type: 'boolean' } }, ['branch', 'fromLsn']),
        responses: { '200': json('Reverted'), ...errors },
      },
    },
    '/v1/tags': {
      get: { summary: 'List tags', responses: { '200': json('Tags') } },
      post: { summary: 'Tag a ref', requestBody: body({ name: { type: 'string' }, from: ref }, ['name']), responses: { '201': json('Tagged'), ...errors } },
    },
    '/v1/tags/{name}': { delete: { summary: 'Delete a tag', parameters: [nameParam], responses: { '200': json('Deleted'), ...errors } } },
  },
};
