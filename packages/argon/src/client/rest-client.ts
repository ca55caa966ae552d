import { EJSON } from 'bson';
import type {
  ApiErrorBody,
  ApiKeyInfo,
  AuditEntry,
  AuditQuery,
  Branch,
  CommitInfo,
  CommitRequest,
  CreateBranchRequest,
  CreateUserRequest,
  DocumentVersion,
  Gate,
  HistoryQuery,
  MergeRecordView,
  PendingMergeView,
  ResolveConflictRequest,
  ResolveConflictResult,
  Role,
  UserInfo,
  EndpointResponse,
  EndpointStatus,
  Health,
  LogResponse,
  MergeRequest,
  MergeResult,
  RefDiff,
  ResetBranchRequest,
  ResetBranchResponse,
  RestClientOptions,
  RevertRequest,
  Tag,
} from './types.js';

/** A REST call the server refused: the HTTP status with the server's code name, code and message. */
export class ArgonApiError extends Error {
  override readonly name = 'ArgonApiError';

  constructor(
    readonly status: number,
    readonly codeName: string,
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined>;

/** `id` travels as Extended JSON text, so an ObjectId or a number keeps its type. */
function historyQuery(q: HistoryQuery): Query {
  return { limit: q.limit, ns: q.ns, id: q.id === undefined ? undefined : EJSON.stringify(q.id, { relaxed: false }) };
}

/**
 * A typed client of the REST API (src/api/rest.ts): one method per route. New routes take one
 * method each on top of `request`, which does the transport, authentication and error mapping.
 */
export class ArgonRestClient {
  private readonly baseUrl: string;
  private readonly apiKey?: string;
  private readonly fetch: typeof fetch;

  constructor(options: RestClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  health(): Promise<Health> {
    return this.request('GET', '/health');
  }

  /** The server's OpenAPI document. */
  openApi(): Promise<Record<string, unknown>> {
    return this.request('GET', '/openapi.json');
  }

  async listBranches(): Promise<Branch[]> {
    return (await this.request<{ branches: Branch[] }>('GET', '/v1/branches')).branches;
  }

  async createBranch(branch: CreateBranchRequest): Promise<Branch> {
    return (await this.request<{ branch: Branch }>('POST', '/v1/branches', { body: branch })).branch;
  }

  async deleteBranch(name: string): Promise<void> {
    await this.request('DELETE', `/v1/branches/${encodeURIComponent(name)}`);
  }

  async renameBranch(name: string, to: string): Promise<Branch> {
    return (await this.request<{ branch: Branch }>('POST', `/v1/branches/${encodeURIComponent(name)}/rename`, { body: { to } })).branch;
  }

  /** Protects a branch (changes only by merge), or lifts the protection with `protect: false`. */
  async protectBranch(name: string, protect = true): Promise<Branch> {
    return (await this.request<{ branch: Branch }>('POST', `/v1/branches/${encodeURIComponent(name)}/protect`, { body: { protect } })).branch;
  }

  resetBranch(name: string, reset: ResetBranchRequest = {}): Promise<ResetBranchResponse> {
    return this.request('POST', `/v1/branches/${encodeURIComponent(name)}/reset`, { body: reset });
  }

  /** Closes the connections of a ref's endpoint; its next client resumes it. */
  async suspendBranch(ref: string): Promise<EndpointStatus> {
    return (await this.request<{ endpoint: EndpointStatus }>('POST', `/v1/branches/${encodeURIComponent(ref)}/suspend`)).endpoint;
  }

  async resumeBranch(ref: string): Promise<EndpointStatus> {
    return (await this.request<{ endpoint: EndpointStatus }>('POST', `/v1/branches/${encodeURIComponent(ref)}/resume`)).endpoint;
  }

  /** Starts (if needed) the endpoint of a ref (a branch, a tag or `branch@time|lsn`) and returns its port. */
  endpoint(ref: string): Promise<EndpointResponse> {
    return this.request('GET', `/v1/branches/${encodeURIComponent(ref)}/endpoint`);
  }

  /** Running endpoints and their state. */
  async endpoints(): Promise<EndpointStatus[]> {
    return (await this.request<{ endpoints: EndpointStatus[] }>('GET', '/v1/endpoints')).endpoints;
  }

  /** A branch's change log, newest first, with its named commits; filtered by collection and document. */
  log(branch: string, options: HistoryQuery = {}): Promise<LogResponse> {
    return this.request('GET', `/v1/branches/${encodeURIComponent(branch)}/log`, { query: historyQuery(options) });
  }

  /** Every version of one document, newest first. */
  async history(branch: string, ns: string, id: unknown, options: { limit?: number } = {}): Promise<DocumentVersion[]> {
    const path = `/v1/branches/${encodeURIComponent(branch)}/history`;
    return (await this.request<{ versions: DocumentVersion[] }>('GET', path, { query: historyQuery({ ...options, ns, id }) })).versions;
  }

  /** Merges into a branch, newest first, with their gate reports. */
  async merges(branch: string, options: { limit?: number } = {}): Promise<MergeRecordView[]> {
    return (await this.request<{ merges: MergeRecordView[] }>('GET', `/v1/branches/${encodeURIComponent(branch)}/merges`, { query: { limit: options.limit } })).merges;
  }

  async gates(branch: string): Promise<Gate[]> {
    return (await this.request<{ gates: Gate[] }>('GET', `/v1/branches/${encodeURIComponent(branch)}/gates`)).gates;
  }

  /** Adds or replaces a merge gate (admin); returns the branch's gates. */
  async setGate(branch: string, gate: Omit<Gate, 'timeoutMs'> & { timeoutMs?: number }): Promise<Gate[]> {
    const { name, ...spec } = gate;
    return (await this.request<{ gates: Gate[] }>('PUT', `/v1/branches/${encodeURIComponent(branch)}/gates/${encodeURIComponent(name)}`, { body: spec })).gates;
  }

  async deleteGate(branch: string, name: string): Promise<Gate[]> {
    return (await this.request<{ gates: Gate[] }>('DELETE', `/v1/branches/${encodeURIComponent(branch)}/gates/${encodeURIComponent(name)}`)).gates;
  }

  /** The pending manual merge into a branch, or null. */
  async pendingMerge(branch: string): Promise<PendingMergeView | null> {
    return (await this.request<{ merge: PendingMergeView | null }>('GET', `/v1/branches/${encodeURIComponent(branch)}/pending-merge`)).merge;
  }

  /** Resolves one conflict; resolving the last one completes the merge. */
  resolveConflict(branch: string, conflict: number, resolution: ResolveConflictRequest): Promise<ResolveConflictResult> {
    return this.request('POST', `/v1/branches/${encodeURIComponent(branch)}/pending-merge/conflicts/${conflict}`, { body: resolution });
  }

  async abortMerge(branch: string): Promise<void> {
    await this.request('DELETE', `/v1/branches/${encodeURIComponent(branch)}/pending-merge`);
  }

  /** The audit log, newest first (admin). */
  async audit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    return (await this.request<{ entries: AuditEntry[] }>('GET', '/v1/audit', { query: { ...query } })).entries;
  }

  async apiKeys(): Promise<ApiKeyInfo[]> {
    return (await this.request<{ apiKeys: ApiKeyInfo[] }>('GET', '/v1/apikeys')).apiKeys;
  }

  /** A new key acting as the caller; `key` is shown this once. */
  createApiKey(name: string, role?: Role): Promise<{ key: string; apiKey: ApiKeyInfo }> {
    return this.request('POST', '/v1/apikeys', { body: { name, role } });
  }

  async revokeApiKey(id: string): Promise<void> {
    await this.request('DELETE', `/v1/apikeys/${encodeURIComponent(id)}`);
  }

  async users(): Promise<UserInfo[]> {
    return (await this.request<{ users: UserInfo[] }>('GET', '/v1/users')).users;
  }

  async createUser(user: CreateUserRequest): Promise<void> {
    await this.request('POST', '/v1/users', { body: user });
  }

  async dropUser(name: string): Promise<void> {
    await this.request('DELETE', `/v1/users/${encodeURIComponent(name)}`);
  }

  async commit(branch: string, commit: CommitRequest): Promise<CommitInfo> {
    return (await this.request<{ commit: CommitInfo }>('POST', `/v1/branches/${encodeURIComponent(branch)}/commits`, { body: commit })).commit;
  }

  diff(from: string, to: string): Promise<RefDiff> {
    return this.request('GET', '/v1/diff', { query: { from, to } });
  }

  /** A merge that stops on conflicts resolves (status `conflicts`, HTTP 409) instead of throwing. */
  merge(merge: MergeRequest): Promise<MergeResult> {
    return this.request('POST', '/v1/merge', { body: merge });
  }

  /** Like `merge`, conflicts resolve with status `conflicts`. */
  revert(revert: RevertRequest): Promise<MergeResult> {
    return this.request('POST', '/v1/revert', { body: revert });
  }

  async listTags(): Promise<Tag[]> {
    return (await this.request<{ tags: Tag[] }>('GET', '/v1/tags')).tags;
  }

  async createTag(name: string, from?: string): Promise<Tag> {
    return (await this.request<{ tag: Tag }>('POST', '/v1/tags', { body: { name, from } })).tag;
  }

  async deleteTag(name: string): Promise<void> {
    await this.request('DELETE', `/v1/tags/${encodeURIComponent(name)}`);
  }

  /**
   * One call: JSON body out, Extended JSON back (dates become Date). Any status but 2xx throws
   * ArgonApiError, except the 409 of a merge or revert that reports its conflicts.
   */
  protected async request<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;
    const response = await this.fetch(url, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : EJSON.parse(text, { relaxed: true });
    } catch {
      throw new ArgonApiError(response.status, 'InvalidResponse', undefined, `${method} ${path}: HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    const body = parsed as Partial<ApiErrorBody> & { status?: unknown };
    if (!response.ok && body.status !== 'conflicts') {
      // Argon's errors name the code in `error`; the HTTP framework's own name it in a string `code`.
      const codeName = typeof body.code === 'string' ? body.code : (body.error ?? response.statusText);
      throw new ArgonApiError(response.status, codeName, typeof body.code === 'number' ? body.code : undefined, body.message ?? `${method} ${path}: HTTP ${response.status}`);
    }
    return parsed as T;
  }
}
