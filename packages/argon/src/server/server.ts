import net from 'node:net';
import os from 'node:os';
import pino, { type Logger } from 'pino';
import { CursorManager } from '../commands/cursors.js';
import type { ServerInfo } from '../commands/context.js';
import { ArgonError } from '../errors.js';
import { plainNumbers } from '../commands/values.js';
import { compileFilter } from '../query/filter.js';
import { Store } from '../storage/store.js';
import { Connection, type EndpointInfo } from './connection.js';
import { TtlMonitor } from './ttl.js';
import { ServerMetrics } from './metrics.js';
import { startHttp } from './http.js';
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
  /** Port of the HTTP endpoint (/health, /metrics); none when undefined. */
  httpPort?: number;
  logger?: Logger;
  store?: Store;
}

interface Endpoint {
  /** `branch`, or `branch@lsn` for a read-only time-travel endpoint. */
  ref: string;
  port: number;
  server: net.Server;
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
  readonly metrics: ServerMetrics;
  private http: FastifyInstance | null = null;

  private constructor(
    readonly store: Store,
    private readonly options: ServerOptions,
  ) {
    this.host = options.host ?? '127.0.0.1';
    this.log = options.logger ?? pino({ name: 'argon' });
    this.info = {
      startedAt: new Date(),
      host: os.hostname(),
      version: ARGON_VERSION,
      endpointFor: (branch) => this.endpointFor(branch),
      connections: () => this.connections.size,
    };
    this.ttl = new TtlMonitor(store, this.log, options.ttlIntervalMs);
    this.metrics = new ServerMetrics({ connections: () => this.connections.size, headLsn: () => store.headLsn });
  }

  static async start(options: ServerOptions): Promise<ArgonServer> {
    const store = options.store ?? (await Store.open(options.dataDir, { compileFilter: (filter) => compileFilter(plainNumbers(filter)) }));
    const server = new ArgonServer(store, options);
    await server.listen('main', { branch: 'main', readOnly: false }, options.port ?? 27017);
    if (options.httpPort !== undefined) {
      server.http = await startHttp({ host: server.host, port: options.httpPort, store, metrics: server.metrics, log: server.log, server: server.info, cursors: server.cursors });
    }
    server.ttl.start();
    return server;
  }

  /** Port of the main endpoint. */
  get port(): number {
    return this.endpoints.get('main')!.port;
  }

  /** The connection string of a branch's endpoint, starting it if needed. */
  async uri(branch: string): Promise<string> {
    const port = await this.endpointFor(branch);
    return `mongodb://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}/?directConnection=true`;
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

  listEndpoints(): { ref: string; port: number }[] {
    return [...this.endpoints.values()].map(({ ref, port }) => ({ ref, port }));
  }

  /** Port of the HTTP endpoint, if it runs. */
  get httpPort(): number | undefined {
    const address = this.http?.server.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  async stop(): Promise<void> {
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
    const server = net.createServer((socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
      new Connection(socket, endpoint, this.store, this.cursors, this.info, this.log, this.metrics);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        const actual = (server.address() as net.AddressInfo).port;
        this.endpoints.set(key, { ref: key, port: actual, server });
        this.log.info({ ref: key, readOnly: endpoint.readOnly, host: this.host, port: actual }, 'endpoint listening');
        resolve(actual);
      });
    });
  }
}
