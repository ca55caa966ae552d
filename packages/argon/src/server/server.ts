import net from 'node:net';
import os from 'node:os';
import pino, { type Logger } from 'pino';
import { CursorManager } from '../commands/cursors.js';
import type { ServerInfo } from '../commands/context.js';
import { ArgonError } from '../errors.js';
import { plainNumbers } from '../commands/values.js';
import { compileFilter } from '../query/filter.js';
import { compileValidator } from '../query/validator.js';
import { Store } from '../storage/store.js';
import { Connection, type EndpointInfo } from './connection.js';
import { TtlMonitor } from './ttl.js';
import { ServerMetrics } from './metrics.js';
import { startHttp } from './http.js';
import { loadTls, tlsAcceptor, type ServerTls, type TlsOptions } from './tls.js';
import { AuthService } from '../auth/service.js';
import type { FastifyInstance } from 'fastify';

export interface ServerOptions {
  dataDir: string;
  host?: string;
  /** Port of the `main` branch's endpoint. Default 27017. */
  port?: number;
  /** Ports handed to other branches' endpoints, first to last. Default port+1 … port+200. */
  branchPorts?: [number, number];
  /** How often TTL indexes are enforced. Default 60 s, as mongod. */
  ttlIntervalMs?: number;
  /** Endpoints other than main's with no client for this long are suspended. Default 5 minutes; 0 never. */
  autoSuspendMs?: number;
  /** Port of the HTTP endpoint (/health, /metrics); none when undefined. */
  httpPort?: number;
  logger?: Logger;
  store?: Store;
  /**
   * SCRAM on the wire and API keys on HTTP. On unless explicitly false. With no user yet, the
   * first admin is created from `admin` (or with a generated password written to the data
   * directory, see AuthService.bootstrap).
   */
  auth?: boolean;
  admin?: { user?: string; password?: string };
  /** TLS on every wire endpoint and HTTPS on the HTTP port; see TlsOptions for plain clients. */
  tls?: TlsOptions;
}

interface Endpoint {
  /** `branch`, or `branch@lsn` for a read-only time-travel endpoint. */
  ref: string;
  port: number;
  server: net.Server;
  sockets: Set<net.Socket>;
  /** Suspended: its connections are closed; the port stays open and the next connection resumes it. */
  suspended: boolean;
  /** When the endpoint last had a client (connection opened or closed). */
  lastActive: number;
}

export interface EndpointStatus {
  ref: string;
  port: number;
  state: 'active' | 'suspended';
  connections: number;
  lastActive: Date;
}

export const ARGON_VERSION = '0.1.0';

/**
 * The database server. Each branch is served on its own endpoint (a port, as Neon gives each
 * branch its own endpoint): `main` on the configured port, other branches on ports from a range,
 * started when first asked for.
 */
export class ArgonServer {
  readonly log: Logger;
  readonly host: string;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly connections = new Set<net.Socket>();
  private readonly cursors = new CursorManager();
  private readonly info: ServerInfo;
  private starting = new Map<string, Promise<number>>();
  readonly ttl: TtlMonitor;
  private idleTimer: NodeJS.Timeout | null = null;
  readonly metrics: ServerMetrics;
  private http: FastifyInstance | null = null;
  readonly auth: AuthService;
  /** Where the generated first admin's credentials were written, if they were. */
  credentialsFile: string | null = null;

  private constructor(
    readonly store: Store,
    private readonly options: ServerOptions,
    private readonly tls: ServerTls | null,
  ) {
    this.host = options.host ?? '127.0.0.1';
    this.log = options.logger ?? pino({ name: 'argon' });
    this.auth = new AuthService(store, options.auth !== false);
    this.info = {
      auth: this.auth,
      startedAt: new Date(),
      host: os.hostname(),
      version: ARGON_VERSION,
      endpointFor: (branch) => this.endpointFor(branch),
      setSuspended: (ref, suspended) => ({ ...(suspended ? this.suspend(ref) : this.resume(ref)) }),
      endpoints: () => this.listEndpoints().map((e) => ({ ...e })),
      closeEndpoints: (branch) => this.closeEndpoints(branch),
      connections: () => this.connections.size,
    };
    this.ttl = new TtlMonitor(store, this.log, options.ttlIntervalMs);
    this.metrics = new ServerMetrics({ connections: () => this.connections.size, headLsn: () => store.headLsn });
  }

  static async start(options: ServerOptions): Promise<ArgonServer> {
    // Read the certificate files before the store opens: a bad path must not leave it open.
    const tls = options.tls ? loadTls(options.tls) : null;
    const store =
      options.store ??
      (await Store.open(options.dataDir, {
        compileFilter: (filter) => compileFilter(plainNumbers(filter)),
        compileValidator: (validator) => compileValidator(plainNumbers(validator)),
      }));
    const server = new ArgonServer(store, options, tls);
    server.credentialsFile = await server.auth.bootstrap(options.dataDir, server.log, options.admin);
    await server.listen('main', { branch: 'main', readOnly: false }, options.port ?? 27017);
    if (options.httpPort !== undefined) {
      server.http = await startHttp({ host: server.host, port: options.httpPort, tls: tls ?? undefined, store, metrics: server.metrics, log: server.log, server: server.info, cursors: server.cursors });
    }
    server.ttl.start();
    const idleMs = options.autoSuspendMs ?? 5 * 60_000;
    if (idleMs > 0) {
      server.idleTimer = setInterval(() => server.suspendIdle(idleMs), Math.min(30_000, idleMs)).unref();
    }
    return server;
  }

  /** Port of the main endpoint. */
  get port(): number {
    return this.endpoints.get('main')!.port;
  }

  /** The connection string of a branch's endpoint, starting it if needed. */
  async uri(branch: string): Promise<string> {
    const port = await this.endpointFor(branch);
    // Only when required: with TLS optional a plain URI still works, and needs no CA file.
    const tls = this.tls?.required ? '&tls=true' : '';
    return `mongodb://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}/?directConnection=true${tls}`;
  }

  /**
   * The port of a ref's endpoint, started if needed. A ref is a branch name, or `branch@TIME`
   * (ISO 8601) / `branch@LSN` for a read-only endpoint pinned to that past point.
   */
  async endpointFor(ref: string): Promise<number> {
    const endpoint = this.resolveRef(ref);
    const key = endpoint.point ? `${endpoint.branch}@${endpoint.point.lsn}` : endpoint.branch;
    const existing = this.endpoints.get(key);
    if (existing) return existing.port;
    let pending = this.starting.get(key);
    if (!pending) {
      pending = this.listenOnFreeBranchPort(key, endpoint).finally(() => this.starting.delete(key));
      this.starting.set(key, pending);
    }
    return pending;
  }

  private resolveRef(ref: string): EndpointInfo {
    const point = this.store.resolveRef(ref);
    if (point.lsn === undefined && point.time === undefined) return { branch: point.branch, readOnly: false };
    // Pin the point now: a time resolves to the LSN in force then (and is checked against retention).
    const lsn = this.store.view(point).readLsn;
    return { branch: point.branch, readOnly: true, point: { ...point, time: undefined, lsn } };
  }

  listEndpoints(): EndpointStatus[] {
    return [...this.endpoints.values()].map((e) => ({
      ref: e.ref,
      port: e.port,
      state: e.suspended ? 'suspended' : 'active',
      connections: e.sockets.size,
      lastActive: new Date(e.lastActive),
    }));
  }

  /**
   * Suspends a ref's endpoint: closes its client connections and releases its cursors' hold. The
   * port stays bound, so the next client to connect resumes it at once.
   */
  suspend(ref: string): EndpointStatus {
    const endpoint = this.endpointByRef(ref);
    endpoint.suspended = true;
    for (const socket of endpoint.sockets) socket.destroy();
    this.log.info({ ref }, 'endpoint suspended');
    return this.listEndpoints().find((e) => e.ref === endpoint.ref)!;
  }

  resume(ref: string): EndpointStatus {
    const endpoint = this.endpointByRef(ref);
    if (endpoint.suspended) {
      endpoint.suspended = false;
      endpoint.lastActive = Date.now();
      this.log.info({ ref }, 'endpoint resumed');
    }
    return this.listEndpoints().find((e) => e.ref === endpoint.ref)!;
  }

  private endpointByRef(ref: string): Endpoint {
    const endpoint = this.endpoints.get(ref);
    if (!endpoint) throw new ArgonError('BranchNotFound', `No endpoint is running for '${ref}'`);
    return endpoint;
  }

  /** Closes the endpoints of `branch` and of its time-travel points: connections dropped, ports released. */
  async closeEndpoints(branch: string): Promise<void> {
    const closing = [...this.endpoints.values()].filter((e) => e.ref === branch || e.ref.startsWith(`${branch}@`));
    for (const endpoint of closing) {
      this.endpoints.delete(endpoint.ref);
      for (const socket of endpoint.sockets) socket.destroy();
      this.log.info({ ref: endpoint.ref, port: endpoint.port }, 'endpoint closed: its branch is gone');
    }
    await Promise.all(closing.map((e) => new Promise<void>((resolve) => e.server.close(() => resolve()))));
  }

  private suspendIdle(idleMs: number): void {
    const cutoff = Date.now() - idleMs;
    for (const e of this.endpoints.values()) {
      if (e.ref !== 'main' && !e.suspended && e.sockets.size === 0 && e.lastActive < cutoff) this.suspend(e.ref);
    }
  }

  /** Port of the HTTP endpoint, if it runs. */
  get httpPort(): number | undefined {
    const address = this.http?.server.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  async stop(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    await this.ttl.stop();
    await this.http?.close();
    for (const socket of this.connections) socket.destroy();
    await Promise.all([...this.endpoints.values()].map((e) => new Promise<void>((resolve) => e.server.close(() => resolve()))));
    this.endpoints.clear();
    this.cursors.close();
    if (!this.options.store) await this.store.close();
  }

  private async listenOnFreeBranchPort(key: string, endpoint: EndpointInfo): Promise<number> {
    const base = this.options.port ?? 27017;
    // Port 0 (tests): let the OS choose for every endpoint.
    if (base === 0 && !this.options.branchPorts) return this.listen(key, endpoint, 0);
    const [first, last] = this.options.branchPorts ?? [base + 1, base + 200];
    const used = new Set([...this.endpoints.values()].map((e) => e.port));
    for (let port = first; port <= last; port++) {
      if (used.has(port)) continue;
      try {
        return await this.listen(key, endpoint, port);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    throw new ArgonError('InternalError', `no free port left for branch endpoints in ${first}-${last}`);
  }

  private listen(key: string, endpoint: EndpointInfo, port: number): Promise<number> {
    const sockets = new Set<net.Socket>();
    const serve = (socket: net.Socket) => new Connection(socket, endpoint, this.store, this.cursors, this.info, this.log, this.metrics);
    // The raw socket is what the sets hold: destroying it also ends a TLS socket over it.
    const accept = this.tls ? tlsAcceptor(this.tls, this.log.child({ ref: key }), serve) : serve;
    const server = net.createServer((socket) => {
      const own = this.endpoints.get(key);
      if (own?.suspended) this.resume(key);
      if (own) own.lastActive = Date.now();
      this.connections.add(socket);
      sockets.add(socket);
      socket.on('close', () => {
        this.connections.delete(socket);
        sockets.delete(socket);
        if (own) own.lastActive = Date.now();
      });
      accept(socket);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        const actual = (server.address() as net.AddressInfo).port;
        this.endpoints.set(key, { ref: key, port: actual, server, sockets, suspended: false, lastActive: Date.now() });
        this.log.info({ ref: key, readOnly: endpoint.readOnly, host: this.host, port: actual, tls: this.tls ? (this.tls.required ? 'required' : 'allowed') : 'off' }, 'endpoint listening');
        resolve(actual);
      });
    });
  }
}
