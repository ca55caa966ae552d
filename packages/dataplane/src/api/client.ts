import WebSocket from 'ws';
import type { PipelineSpec, RunState, WorkerInfo } from '../types.js';
import type { ApiErrorBody, ApplyRequest, ApplyResult, Health, LogPage, PipelineDetail, PipelineSummary, Run, RunDetail, RunEvent, SecretInfo, SecretPutResult, Wire } from './types.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:9001';

/** A request the server refused: its HTTP status and `{error: {code, message, ...}}`. */
export class DataplaneApiError extends Error {
  override readonly name = 'DataplaneApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The server could not be reached at all (not running, wrong --server). */
export class DataplaneConnectionError extends Error {
  override readonly name = 'DataplaneConnectionError';

  constructor(
    readonly server: string,
    override readonly cause: unknown,
  ) {
    super(`cannot reach the Dataplane server at ${server}: ${describeCause(cause)}`);
  }

  readonly hint = 'start it with `dataplane serve`, or point --server (or DATAPLANE_SERVER) at a running one';
}

function describeCause(cause: unknown): string {
  const inner = (cause as { cause?: { code?: string; message?: string } })?.cause;
  return inner?.code ?? inner?.message ?? (cause as Error)?.message ?? String(cause);
}

export interface ClientOptions {
  server?: string;
  /** For tests or proxies; default the global fetch. */
  fetch?: typeof fetch;
}

export interface RunFilter {
  pipeline?: string;
  states?: RunState[];
  limit?: number;
  before?: string;
}

type Query = Record<string, string | number | undefined>;

/**
 * A typed client of the REST API (src/api/*), one method per route; the CLI uses it. Results are
 * the JSON as sent: dates are ISO strings (`Wire<T>`).
 */
export class DataplaneClient {
  readonly server: string;
  private readonly fetch: typeof fetch;

  constructor(options: ClientOptions = {}) {
    this.server = (options.server ?? DEFAULT_SERVER).replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  health(): Promise<Wire<Health>> {
    return this.request('GET', '/health');
  }

  openApi(): Promise<Record<string, unknown>> {
    return this.request('GET', '/openapi.json');
  }

  async metrics(): Promise<string> {
    return (await this.send('GET', '/metrics')).text();
  }

  applyPipeline(request: ApplyRequest): Promise<Wire<ApplyResult>> {
    return this.request('POST', '/v1/pipelines', request);
  }

  validatePipeline(request: ApplyRequest): Promise<{ valid: true; spec: PipelineSpec }> {
    return this.request('POST', '/v1/pipelines/validate', request);
  }

  async listPipelines(): Promise<Wire<PipelineSummary>[]> {
    return (await this.request<{ pipelines: Wire<PipelineSummary>[] }>('GET', '/v1/pipelines')).pipelines;
  }

  getPipeline(name: string, version?: number): Promise<Wire<PipelineDetail>> {
    return this.request('GET', `/v1/pipelines/${enc(name)}`, undefined, { version });
  }

  deletePipeline(name: string): Promise<{ deleted: string }> {
    return this.request('DELETE', `/v1/pipelines/${enc(name)}`);
  }

  startRun(name: string, params: Record<string, unknown> = {}, environment?: string): Promise<Wire<Run>> {
    return this.request('POST', `/v1/pipelines/${enc(name)}/runs`, { params, ...(environment ? { environment } : {}) });
  }

  async listRuns(filter: RunFilter = {}): Promise<Wire<Run>[]> {
    const query = { pipeline: filter.pipeline, state: filter.states?.join(','), limit: filter.limit, before: filter.before };
    return (await this.request<{ runs: Wire<Run>[] }>('GET', '/v1/runs', undefined, query)).runs;
  }

  getRun(id: string): Promise<Wire<RunDetail>> {
    return this.request('GET', `/v1/runs/${enc(id)}`);
  }

  cancelRun(id: string): Promise<Wire<Run>> {
    return this.request('POST', `/v1/runs/${enc(id)}/cancel`);
  }

  rerun(id: string): Promise<Wire<Run>> {
    return this.request('POST', `/v1/runs/${enc(id)}/rerun`);
  }

  logs(id: string, options: { task?: string; attempt?: number; after?: number; limit?: number } = {}): Promise<Wire<LogPage>> {
    return this.request('GET', `/v1/runs/${enc(id)}/logs`, undefined, options);
  }

  /** Creates or replaces a secret; the server never sends the value back. Environment default 'development'. */
  putSecret(name: string, value: string, environment?: string): Promise<SecretPutResult> {
    return this.request('PUT', `/v1/secrets/${enc(name)}`, { value }, { environment });
  }

  /** Names and times, never values; every environment when none is given. */
  async listSecrets(environment?: string): Promise<Wire<SecretInfo>[]> {
    return (await this.request<{ secrets: Wire<SecretInfo>[] }>('GET', '/v1/secrets', undefined, { environment })).secrets;
  }

  /** Throws DataplaneApiError SecretNotFound (404) when there is none. */
  async deleteSecret(name: string, environment?: string): Promise<void> {
    await this.send('DELETE', `/v1/secrets/${enc(name)}`, undefined, { environment });
  }

  async listWorkers(): Promise<Wire<WorkerInfo>[]> {
    return (await this.request<{ workers: Wire<WorkerInfo>[] }>('GET', '/v1/workers')).workers;
  }

  /**
   * Follows a run over the WebSocket: `onEvent` gets the run, its log backlog, then live events.
   * Resolves with a function that closes the subscription.
   */
  follow(runId: string, onEvent: (event: Wire<RunEvent>) => void, onClose?: (err?: Error) => void): Promise<() => void> {
    const ws = new WebSocket(`${this.server.replace(/^http/, 'ws')}/ws`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.send(JSON.stringify({ subscribe: 'run', id: runId }));
        resolve(() => ws.close());
      });
      ws.once('error', (err) => reject(new DataplaneConnectionError(this.server, err)));
      ws.on('message', (data) => onEvent(JSON.parse(data.toString()) as Wire<RunEvent>));
      ws.once('close', () => onClose?.());
    });
  }

  private async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const response = await this.send(method, path, body, query);
    return (await response.json()) as T;
  }

  private async send(method: string, path: string, body?: unknown, query?: Query): Promise<Response> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new DataplaneConnectionError(this.server, err);
    }
    if (response.ok) return response;
    const text = await response.text();
    let parsed: ApiErrorBody | undefined;
    try {
      parsed = JSON.parse(text) as ApiErrorBody;
    } catch {
      // Not ours (a proxy's page): the status and text say what there is.
    }
    const { code, message, ...details } = parsed?.error ?? { code: `HTTP${response.status}`, message: text.slice(0, 200) || response.statusText };
    throw new DataplaneApiError(response.status, code, message, details);
  }
}

const enc = encodeURIComponent;
