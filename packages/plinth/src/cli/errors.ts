/**
 * A failure the CLI reports as readable lines on stderr, `plinth: <S3 code>: <message>` and an
 * optional hint, with exit status 1. Anything else that escapes a command is reported by its
 * message alone (a stack trace tells an operator nothing).
 */
export class CliError extends Error {
  constructor(
    message: string,
    /** The server's S3 error code, when the server refused the request. */
    readonly code?: string,
    /** What to try next. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof CliError) return `plinth: ${err.code ? `${err.code}: ` : ''}${err.message}${err.hint ? `\n  ${err.hint}` : ''}`;
  return `plinth: ${err instanceof Error ? err.message : String(err)}`;
}
