/**
 * What the CLI prints when a command fails: `argon: [CodeName: ]message`, and for the failures a
 * new user meets first (no server running, no or wrong credentials) a hint at what to do.
 */

/** Socket errors that mean the server is not there (not running, wrong host or port, network). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

interface Failure {
  message?: string;
  code?: unknown;
  codeName?: string;
  cause?: unknown;
  name?: string;
}

/**
 * The socket error under `err`: the CLI's wire client throws it as is, the driver wraps it
 * (MongoServerSelectionError → MongoNetworkError → the socket error) in `cause`s.
 */
function unreachable(err: unknown): Failure | null {
  for (let e = err as Failure | undefined, depth = 0; e && depth < 5; e = e.cause as Failure | undefined, depth++) {
    if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return e;
  }
  return (err as Failure)?.name === 'MongoServerSelectionError' ? (err as Failure) : null;
}

/** host:port of a URI, never its credentials. */
function address(uri: string): string {
  try {
    return new URL(uri).host;
  } catch {
    return uri.replace(/\/\/[^@/]*@/, '//'); // several hosts: not a WHATWG URL
  }
}

export function describeFailure(err: unknown, server: string, dataDir: string): string {
  const e = (err ?? {}) as Failure;
  const net = unreachable(err);
  if (net) {
    // A connection refused by a "localhost" that resolves to two addresses is an AggregateError with an empty message.
    const detail = net.message || String(net.code ?? '');
    return [
      `argon: cannot reach the server at ${address(server)} (${detail})`,
      "hint: is the server running? start it with 'npm start' (or 'npx argon serve'); 'npx argon status' checks it",
    ].join('\n');
  }
  const line = `argon: ${e.codeName ? `${e.codeName}: ` : ''}${e.message ?? String(err)}`;
  const where = `ARGON_USER and ARGON_PASSWORD, else the admin-credentials.json a server writes on its first start into its data directory (--data, here ${dataDir})`;
  if (e.codeName === 'AuthenticationFailed') return `${line}\nhint: the user name or password is wrong; the CLI signs in with ${where}`;
  if (e.codeName === 'Unauthorized' && /requires authentication/.test(e.message ?? '')) return `${line}\nhint: the CLI found no credentials; it signs in with ${where}`;
  return line;
}
