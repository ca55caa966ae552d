import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Binary, deserialize, serialize, type Document } from 'bson';
import { saslPrep } from '../auth/scram.js';
import { MessageFramer, type RawMessage } from '../wire/framing.js';
import { frameOpMsg } from '../wire/msgframe.js';
import { OpCode } from '../wire/protocol.js';

/**
 * A minimal MongoDB wire client for the CLI: one connection, OP_MSG commands, SCRAM-SHA-256.
 *
 * A CLI process runs one or two admin commands, and loading the official driver costs more than
 * everything else it does (about 170 ms of module loading on a 2-core machine, against ~80 ms for
 * Node itself), so single-host URIs go through this client, over TLS too. Whatever it does not
 * speak (SRV records, several hosts, other auth mechanisms, TLS options beyond the CA file, client
 * certificate and tlsAllowInvalidCertificates) goes to the driver: see `plainTarget`.
 */

/** The TLS URI options (besides tls/ssl=true) this client honours, as the driver does. */
const TLS_OPTIONS = new Set(['tlsCAFile', 'tlsCertificateKeyFile', 'tlsAllowInvalidCertificates']);

export interface WireTarget {
  host: string;
  port: number;
  user?: string;
  password?: string;
  authSource: string;
  /** Set for tls=true (or ssl=true): files as in the URI, and whether to skip verifying the server. */
  tls?: { caFile?: string; certificateKeyFile?: string; allowInvalidCertificates: boolean };
}

/** A command the server answered with `ok: 0`, carrying its code as the driver's errors do. */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

/** The host, port and credentials of a URI this client can serve, or null when it needs the driver. */
export function plainTarget(uri: string): WireTarget | null {
  if (!uri.startsWith('mongodb://')) return null;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null; // several hosts: not a WHATWG URL
  }
  const params = url.searchParams;
  const tls = params.get('tls') === 'true' || params.get('ssl') === 'true';
  // Any other TLS option, or one without tls=true: the driver's business to honour or refuse.
  for (const key of params.keys()) if (/^(tls|ssl)./i.test(key) && !(tls && TLS_OPTIONS.has(key))) return null;
  const mechanism = params.get('authMechanism');
  if (mechanism !== null && mechanism !== 'SCRAM-SHA-256') return null;
  const target: WireTarget = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 27017 : Number(url.port),
    authSource: params.get('authSource') ?? (decodeURIComponent(url.pathname.slice(1)) || 'admin'),
  };
  if (tls) {
    target.tls = {
      caFile: params.get('tlsCAFile') ?? undefined,
      certificateKeyFile: params.get('tlsCertificateKeyFile') ?? undefined,
      allowInvalidCertificates: params.get('tlsAllowInvalidCertificates') === 'true',
    };
  }
  if (url.username) {
    target.user = decodeURIComponent(url.username);
    target.password = decodeURIComponent(url.password);
  }
  return target;
}

export class WireClient {
  private readonly framer = new MessageFramer();
  private readonly waiting = new Map<number, { resolve: (m: RawMessage) => void; reject: (e: Error) => void }>();
  private nextRequestId = 1;
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const message of this.framer.push(chunk)) {
          const waiter = this.waiting.get(message.header.responseTo);
          this.waiting.delete(message.header.responseTo);
          waiter?.resolve(message);
        }
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  static async open(target: WireTarget, timeoutMs = 3000): Promise<WireClient> {
    const socket = target.tls ? await connectTls(target, target.tls) : connect({ host: target.host, port: target.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer from ${target.host}:${target.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once(target.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const client = new WireClient(socket);
    try {
      if (target.user !== undefined) await client.authenticate(target.user, target.password ?? '', target.authSource);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Runs one command on `db`; throws CommandError when the server answers `ok: 0`. */
  async command(cmd: Document, db = 'admin'): Promise<Document> {
    if (this.failure) throw this.failure;
    const requestId = this.nextRequestId++;
    const replied = new Promise<RawMessage>((resolve, reject) => this.waiting.set(requestId, { resolve, reject }));
    // frameOpMsg rather than opmsg.ts's encoder: that module pulls in the server's cursor replies.
    const bytes = serialize({ ...cmd, $db: db });
    this.socket.write(frameOpMsg(bytes.length, { requestId, responseTo: 0 }, (buf, offset) => buf.set(bytes, offset)));
    const { header, body } = await replied;
    // Argon answers an OP_MSG with one kind-0 section: flag bits, the kind byte, then the document.
    if (header.opCode !== OpCode.OP_MSG || body[4] !== 0) throw new Error(`unexpected reply (opcode ${header.opCode})`);
    const reply = deserialize(body.subarray(5, 5 + body.readInt32LE(5)));
    if (reply.ok !== 1) throw new CommandError(reply.code ?? 0, reply.codeName ?? 'UnknownError', reply.errmsg ?? 'command failed');
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
  }

  /** SCRAM-SHA-256 (RFC 7677) through saslStart/saslContinue, checking the server's signature too. */
  private async authenticate(user: string, password: string, db: string): Promise<void> {
    const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
    const text = (payload: Binary) => Buffer.from(payload.buffer).toString('utf8');
    const nonce = randomBytes(24).toString('base64');
    const clientFirst = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${nonce}`;
    const start = await this.command({ saslStart: 1, mechanism: 'SCRAM-SHA-256', payload: new Binary(Buffer.from(`n,,${clientFirst}`)), options: { skipEmptyExchange: true } }, db);
    const serverFirst = text(start.payload);
    const fields = new Map(serverFirst.split(',').map((part) => [part.slice(0, 1), part.slice(2)]));
    const serverNonce = fields.get('r') ?? '';
    if (!serverNonce.startsWith(nonce)) throw new Error('SCRAM: the server did not extend our nonce');
    const salted = pbkdf2Sync(saslPrep(password), Buffer.from(fields.get('s') ?? '', 'base64'), Number(fields.get('i')), 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const withoutProof = `c=biws,r=${serverNonce}`;
    const authMessage = `${clientFirst},${serverFirst},${withoutProof}`;
    const signature = hmac(createHash('sha256').update(clientKey).digest(), authMessage);
    const proof = Buffer.from(clientKey.map((byte, k) => byte ^ signature[k]!));
    let reply = await this.command({ saslContinue: 1, conversationId: start.conversationId, payload: new Binary(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)) }, db);
    const verifier = Buffer.from(text(reply.payload).replace(/^v=/, ''), 'base64');
    const expected = hmac(hmac(salted, 'Server Key'), authMessage);
    if (verifier.length !== expected.length || !timingSafeEqual(verifier, expected)) throw new Error('SCRAM: the server could not prove it knows the password');
    while (!reply.done) reply = await this.command({ saslContinue: 1, conversationId: start.conversationId, payload: new Binary(Buffer.alloc(0)) }, db);
  }
}

/** A TLS socket to the target, verifying the server against the URI's CA file (else the system's CAs). */
async function connectTls(target: WireTarget, o: NonNullable<WireTarget['tls']>): Promise<Socket> {
  // Imported here: node:tls costs a plain connection ~3 ms of loading for nothing.
  const tls = await import('node:tls');
  // A tlsCertificateKeyFile holds both the certificate and its key; OpenSSL picks each out of it.
  const pem = o.certificateKeyFile === undefined ? undefined : readFileSync(o.certificateKeyFile);
  return tls.connect({
    host: target.host,
    port: target.port,
    ca: o.caFile === undefined ? undefined : readFileSync(o.caFile),
    cert: pem,
    key: pem,
    rejectUnauthorized: !o.allowInvalidCertificates,
  });
}
