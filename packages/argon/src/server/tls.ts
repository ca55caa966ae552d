import { readFileSync } from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';

/** `argon serve --tls-cert/--tls-key [--tls-ca] [--tls-required]`: mongod's net.tls settings. */
export interface TlsOptions {
  /** PEM file of the certificate (chain) the server presents. */
  certFile: string;
  /** PEM file of its private key. */
  keyFile: string;
  /** PEM file of the CA that client certificates must chain to (mongod's tlsCAFile). */
  caFile?: string;
  /** requireTLS: plain connections are closed. Otherwise (preferTLS) a port takes both. */
  required?: boolean;
}

/** TlsOptions with the files read, once, at start: a missing file fails `serve` rather than a client. */
export interface ServerTls {
  options: tls.TlsOptions;
  required: boolean;
}

export function loadTls(o: TlsOptions): ServerTls {
  const ca = o.caFile === undefined ? undefined : readFileSync(o.caFile);
  return {
    required: o.required === true,
    // rejectUnauthorized would make OpenSSL also refuse clients that present no certificate; with a CA
    // mongod asks for one but checks only those presented, so the check is ours: untrustedClient.
    options: { cert: readFileSync(o.certFile), key: readFileSync(o.keyFile), ca, requestCert: ca !== undefined, rejectUnauthorized: false },
  };
}

/** A client that presented a certificate the CA does not vouch for (none presented is fine). */
export function untrustedClient(socket: tls.TLSSocket): boolean {
  return !socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0;
}

/**
 * Wraps a wire endpoint's `serve` so each connection reaches it as a TLS socket when the client
 * opens with a TLS handshake, or as the plain socket when TLS is not required (closed when it is):
 * TLS and plain clients share a port, as with mongod's preferTLS.
 */
export function tlsAcceptor(config: ServerTls, log: Logger, serve: (socket: net.Socket) => void): (socket: net.Socket) => void {
  // Never listens: it is handed raw sockets whose first bytes are a handshake, and does the TLS
  // server's work on them (handshake timeout, client certificate verification).
  const server = tls.createServer(config.options, (socket) => {
    if (untrustedClient(socket)) {
      log.info({ reason: socket.authorizationError }, 'TLS client certificate refused');
      socket.destroy();
      return;
    }
    serve(socket);
  });
  server.on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));
  return (socket) => {
    // Until a Connection listens, a reset would otherwise be an unhandled 'error' event.
    const early = (err: Error) => log.debug({ err }, 'socket error before the first message');
    socket.on('error', early);
    const peek = (): void => {
      const head: Buffer | null = socket.read(3);
      if (head === null) return void socket.once('readable', peek);
      socket.unshift(head);
      // A TLS record of a ClientHello opens 0x16 (handshake), then version 3.1-3.3. A MongoDB
      // message opens with its int32 length, little-endian: these bytes would mean a first message
      // of exactly 66326, 131862 or 197398 bytes, where every driver first sends a small hello.
      if (head[0] === 0x16 && head[1] === 0x03 && head[2]! >= 1 && head[2]! <= 3) {
        server.emit('connection', socket);
      } else if (config.required) {
        log.info({ remote: socket.remoteAddress }, 'plain connection closed: TLS is required');
        socket.destroy();
      } else {
        socket.off('error', early);
        serve(socket);
        socket.resume(); // 'readable' paused the socket; serve's 'data' listener alone would not resume it
      }
    };
    socket.once('readable', peek);
  };
}
