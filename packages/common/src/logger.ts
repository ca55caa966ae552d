import pino, { type Logger, type TransportSingleOptions } from 'pino';

/**
 * What a server logs (`argon serve`, `plinth serve`, `dataplane serve`): readable lines for a
 * person at a terminal, JSON lines otherwise (piped, redirected, under CI, systemd or a container),
 * where log collectors want one JSON object per line.
 */
export function logTransport(isTTY: boolean | undefined): TransportSingleOptions | undefined {
  if (isTTY !== true) return undefined;
  // pino-pretty runs in pino's worker thread, off the server's event loop.
  return { target: 'pino-pretty', options: { colorize: !process.env.NO_COLOR, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } };
}

/** The logger of the server named `name`, on stdout. */
export function serverLogger(name: string): Logger {
  return pino({ name, transport: logTransport(process.stdout.isTTY) });
}
