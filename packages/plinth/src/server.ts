import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { adminApi, DEFAULT_PRICES, type Prices } from './admin.js';
import { gcPass, scrubPass } from './admin-passes.js';
import { GarbageCollector } from './block/gc.js';
import { NodeMonitor } from './block/monitor.js';
import { LocalDataNode } from './block/local.js';
import type { DataNode } from './block/types.js';
import { openMetadata } from './meta/open.js';
import type { MetadataStore, User } from './meta/types.js';
import { PlinthMetrics } from './metrics.js';
import { createGateway } from './s3/router.js';
import type { GatewayConfig, GatewayContext } from './s3/types.js';
import { bootstrapUsers, type UserSpec } from './users.js';

export const PLINTH_VERSION = '0.1.0';

export interface PlinthOptions {
  /** Holds `data/` (the local data node), the SQLite metadata by default and credentials.json. */
  dataDir: string;
  host?: string;
  /** Default 9000; 0 picks a free port (see `port` once started). */
  port?: number;
  /** Metadata URL (sqlite:PATH, postgres://…); SQLite in the data directory when absent. */
  metadata?: string;
  /** JSON array of {accessKey, secretKey, id, displayName}: users besides the admin. */
  usersFile?: string;
  logger?: Logger;
  region?: string;
  /** Period of the garbage collector's sweeps. Default 1 h. */
  gcIntervalMs?: number;
  /** Period of the data node's scrub (every blob re-read and checked). Default 24 h; 0 never. */
  scrubIntervalMs?: number;
  /** The first (admin) user; from the environment or credentials.json when absent (see users.ts). */
  admin?: UserSpec;
  /** Also accept virtual-hosted-style requests for `<bucket>.<domain>`. */
  domain?: string;
  /** Prices for the admin API's cost estimates; S3 Standard's by default (see DEFAULT_PRICES). */
  prices?: Partial<Prices>;
  /** Largest single PUT. Default 5 GiB, as S3. */
  maxObjectSize?: number;
}

/** How long /health reuses the data node's usage: counting it walks every blob. */
const USAGE_TTL_MS = 30_000;

/**
 * The Plinth server: metadata store, local data node, garbage collector and the S3 gateway (with
 * /health, /metrics and the admin API) on one port. The admin API's gc and scrub run through the
 * same collector and monitor as the schedule, so a requested pass and a scheduled one never
 * overlap (see admin.ts).
 */
export class PlinthServer {
  readonly region: string;
  readonly app: FastifyInstance;
  private usage: { at: number; value: Promise<{ blobs: number; bytes: number }> } | null = null;

  private constructor(
    readonly meta: MetadataStore,
    readonly node: DataNode,
    readonly gc: GarbageCollector,
    readonly monitor: NodeMonitor,
    readonly metrics: PlinthMetrics,
    readonly log: Logger,
    readonly admin: User,
    /** Where the admin's generated key pair is kept, when it was generated. */
    readonly credentialsFile: string | null,
    options: PlinthOptions,
  ) {
    this.region = options.region ?? 'us-east-1';
    const config: GatewayConfig = { region: this.region, maxObjectSize: options.maxObjectSize ?? 5 * 2 ** 30, maxSkewMs: 15 * 60_000 };
    const ctx: GatewayContext = { meta, node, log, config, gc };
    const adminRoutes = adminApi(meta, () => this.admin, { ...DEFAULT_PRICES, ...options.prices }, { gc: gcPass(gc), scrub: scrubPass(monitor) });
    this.app = createGateway({
      ctx,
      metrics: this.metrics,
      log,
      domain: options.domain,
      adminId: () => this.admin.id,
      admin: (req, path) => adminRoutes.handle(req, path),
      health: () => this.health(),
    });
  }

  static async start(options: PlinthOptions): Promise<PlinthServer> {
    const log = options.logger ?? pino({ name: 'plinth' });
    await mkdir(options.dataDir, { recursive: true });
    const meta = await openMetadata(options.metadata, options.dataDir);
    try {
      const node = await LocalDataNode.open({ dir: join(options.dataDir, 'data') });
      const { admin, credentialsFile } = await bootstrapUsers(meta, options.dataDir, log, { admin: options.admin, usersFile: options.usersFile });
      const metrics = new PlinthMetrics(() => meta.stats());
      const gc = new GarbageCollector({ meta, node, registry: metrics.registry, logger: log, intervalMs: options.gcIntervalMs });
      const monitor = new NodeMonitor({ node, meta, logger: log, scrubIntervalMs: options.scrubIntervalMs });
      const server = new PlinthServer(meta, node, gc, monitor, metrics, log, admin, credentialsFile, options);
      await server.app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 9000 });
      gc.start();
      monitor.start();
      return server;
    } catch (err) {
      await meta.close().catch(() => {});
      throw err;
    }
  }

  get port(): number {
    return (this.app.server.address() as AddressInfo).port;
  }

  /** The S3 endpoint URL clients configure (path-style). */
  get endpoint(): string {
    const { address, family } = this.app.server.address() as AddressInfo;
    const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '[::1]' : family === 'IPv6' ? `[${address}]` : address;
    return `http://${host}:${this.port}`;
  }

  /** Stops taking requests, lets those in flight finish, then stops the collector and closes the stores. */
  async stop(): Promise<void> {
    await this.app.close();
    await this.gc.stop();
    await this.monitor.stop();
    await this.meta.close();
  }

  private nodeUsage(): Promise<{ blobs: number; bytes: number }> {
    if (!this.usage || Date.now() - this.usage.at > USAGE_TTL_MS) {
      const value = this.node.usage();
      this.usage = { at: Date.now(), value };
      value.catch(() => (this.usage = null));
    }
    return this.usage.value;
  }

  private async health(): Promise<Record<string, unknown>> {
    const [metadata, node] = await Promise.allSettled([this.meta.nodeHealth(), this.nodeUsage()]);
    const ok = metadata.status === 'fulfilled' && node.status === 'fulfilled';
    return {
      status: ok ? 'ok' : 'degraded',
      version: PLINTH_VERSION,
      uptimeSeconds: Math.round(process.uptime()),
      metadata: { backend: this.meta.kind, status: metadata.status === 'fulfilled' ? 'up' : 'down' },
      node: node.status === 'fulfilled' ? { id: this.node.id, status: 'up', ...node.value } : { id: this.node.id, status: 'down' },
    };
  }
}
