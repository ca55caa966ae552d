import { CliError } from './errors.js';
import type { Credentials } from './connection.js';
import { signedPath, signRequest } from './sigv4.js';

/**
 * The admin API (admin.ts) and /health over HTTP, signed as the admin, with the server's refusals
 * turned into CliErrors that carry its S3 error code.
 */

/** Plain requests answer at once; a server silent this long is not going to. */
const REQUEST_TIMEOUT_MS = 30_000;

/** What each of the server's S3 error codes most likely means here, and what to check. */
const HINTS: Record<string, (source: string) => string> = {
  SignatureDoesNotMatch: (source) => `the secret key (from ${source}) is not the one the server has for this access key`,
  InvalidAccessKeyId: (source) => `the server has no user with the access key from ${source}`,
  AccessDenied: () => 'the admin API answers only the admin (the first user): use its keys',
  AuthorizationHeaderMalformed: () => 'is --region the region the server was started with?',
  RequestTimeTooSkewed: () => "this machine's clock and the server's differ by more than 15 minutes",
};

export type PassRecord =
  | { type: 'start'; pass: string; startedAt: string; joined: boolean }
  | ({ type: 'progress'; elapsedSeconds: number } & Record<string, unknown>)
  | { type: 'report'; pass: string; seconds: number; report: Record<string, unknown> }
  | { type: 'error'; code: string; message: string };

/** A finished pass as the CLI prints it with --json. */
export interface PassResult<R> {
  pass: string;
  startedAt: string;
  /** Whether this request followed a pass that was already running instead of starting one. */
  joined: boolean;
  seconds: number;
  report: R;
}

function unreachable(endpoint: string, err: unknown): CliError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new CliError(`no answer from Plinth at ${endpoint} within ${REQUEST_TIMEOUT_MS / 1000} s`);
  const code = e.cause?.code;
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host not found' : (e.cause?.message ?? e.message);
  return new CliError(`cannot reach Plinth at ${endpoint}: ${why}`, undefined, code === 'ECONNREFUSED' ? 'is `plinth serve` running there? (--endpoint, PLINTH_ENDPOINT)' : undefined);
}

/** The server's error: JSON from the admin API, S3's XML from anything else on the port. */
async function refusal(res: Response, source: string): Promise<CliError> {
  const text = await res.text();
  let parsed: { code?: string; message?: string } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = { code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1], message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1] };
  }
  const code = typeof parsed.code === 'string' ? parsed.code : undefined;
  const message = typeof parsed.message === 'string' ? parsed.message : `HTTP ${res.status} ${res.statusText}`;
  return new CliError(message, code, code ? HINTS[code]?.(source) : undefined);
}

/** The records of an NDJSON body, one per line, as they arrive. */
async function* records(body: ReadableStream<Uint8Array>): AsyncIterable<PassRecord> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    const lines = (pending + decoder.decode(chunk, { stream: true })).split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line.trim() !== '') yield JSON.parse(line) as PassRecord;
  }
}

export class AdminClient {
  constructor(
    readonly endpoint: string,
    private readonly credentials: Credentials,
    private readonly region: string,
  ) {}

  /** One admin request; resolves the JSON answer (undefined for 204). */
  async request<T>(method: string, path: string[], options: { query?: Record<string, string>; body?: unknown } = {}): Promise<T> {
    const res = await this.send(method, path, options, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  /**
   * Runs gc or scrub, handing each progress record to `onRecord` as it comes, and resolves the
   * pass's report; a failed pass rejects with its error record.
   */
  async pass<R>(name: 'gc' | 'scrub', onRecord: (record: PassRecord) => void): Promise<PassResult<R>> {
    const res = await this.send('POST', [name], {});
    let start: Extract<PassRecord, { type: 'start' }> | undefined;
    try {
      for await (const record of records(res.body!)) {
        if (record.type === 'start') start = record;
        if (record.type === 'error') throw new CliError(record.message, record.code, 'the server log says more');
        if (record.type === 'report') return { pass: name, startedAt: start?.startedAt ?? '', joined: start?.joined ?? false, seconds: record.seconds, report: record.report as R };
        onRecord(record);
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
    }
    // Cut or killed: the pass itself is the server's and goes on unless the server went down too.
    throw new CliError(`the connection to ${this.endpoint} closed before the ${name} pass finished`, undefined, "the server logs the pass's result when it ends");
  }

  private async send(method: string, path: string[], options: { query?: Record<string, string>; body?: unknown }, signal?: AbortSignal): Promise<Response> {
    const url = new URL(`${this.endpoint}${signedPath(['_plinth', 'admin', ...path])}`);
    for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
    const body = options.body === undefined ? '' : JSON.stringify(options.body);
    const headers = signRequest(method, url, body ? { 'content-type': 'application/json' } : {}, body, this.credentials.keys, this.region);
    const res = await fetch(url, { method, headers, body: body || undefined, signal }).catch((err: unknown) => {
      throw unreachable(this.endpoint, err);
    });
    if (!res.ok) throw await refusal(res, this.credentials.source);
    return res;
  }
}

/** GET /health: no credentials. Resolves the JSON whatever the status (503 says what is down). */
export async function fetchHealth(endpoint: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch((err: unknown) => {
    throw unreachable(endpoint, err);
  });
  const text = await res.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`${endpoint}/health answered HTTP ${res.status} without JSON: is that a Plinth server?`);
  }
}
