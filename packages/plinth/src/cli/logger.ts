import pino, { type Logger, type TransportSingleOptions } from 'pino';

/**
 * What `plinth serve` logs: readable lines for a person at a terminal, JSON lines otherwise
 * (piped, redirected, under CI or a process manager), where log collectors want one JSON object
 * per line. (Argon's CLI makes the same choice; the packages share no code.)
 */
export function logTransport(isTTY: boolean | undefined): TransportSingleOptions | undefined {
  if (isTTY !== true) return undefined;
  // pino-pretty runs in pino's worker thread, off the server's event loop.
  return { target: 'pino-pretty', options: { colorize: !process.env.NO_COLOR, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } };
}

export function serverLogger(): Logger {
  return pino({ name: 'plinth', transport: logTransport(process.stdout.isTTY) });
}
