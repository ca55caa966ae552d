import pino, { type Logger } from 'pino';
import type { MetadataStore } from '../meta/types.js';
import type { LocalDataNode } from './local.js';
import { scrubOnce, type ScrubReport } from './scrub.js';

export interface NodeMonitorOptions {
  node: LocalDataNode;
  meta: MetadataStore;
  logger?: Logger;
  /** How often the node's health (status, bytes used) is written to node_health. Default 1 min. */
  healthIntervalMs?: number;
  /** How often every blob is re-read and checked against its content hash. Default 24 h; 0 never. */
  scrubIntervalMs?: number;
}

const MINUTE = 60_000;

/** A scrub under way: what it has checked so far, for the admin API's progress records. */
export interface ScrubInProgress {
  startedAt: Date;
  /** Filled in as the pass goes (the scrubber's own report object). */
  report: Readonly<ScrubReport>;
  /**
   * The node's blobs and bytes at the last health check before the pass, i.e. about how much it
   * has to read (blobs written during the pass are read too); null before the first check.
   */
  expected: { blobs: number; bytes: number } | null;
}

/**
 * Keeps the design's node_health table current and scrubs the node on a schedule, so bit rot is
 * found (and quarantined) before a client asks for the bytes. The replication issue's repair
 * worker will act on what the scrub reports.
 */
export class NodeMonitor {
  private readonly log: Logger;
  private readonly timers: NodeJS.Timeout[] = [];
  private scrubbing: Promise<ScrubReport> | null = null;
  private current: ScrubInProgress | null = null;
  private recording: Promise<void> | null = null;
  /** Kept from the health checks: sizing a scrub's progress must not cost another walk of the node. */
  private lastUsage: { blobs: number; bytes: number } | null = null;

  constructor(private readonly options: NodeMonitorOptions) {
    this.log = (options.logger ?? pino({ name: 'plinth' })).child({ component: 'monitor', node: options.node.id });
  }

  start(): void {
    const tick = () => {
      this.recording ??= this.recordHealth().finally(() => (this.recording = null));
    };
    tick();
    this.timers.push(setInterval(tick, this.options.healthIntervalMs ?? MINUTE).unref());
    const scrubMs = this.options.scrubIntervalMs ?? 24 * 60 * MINUTE;
    if (scrubMs > 0) this.timers.push(setInterval(() => void this.scrub().catch(() => {}), scrubMs).unref());
  }

  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await this.recording;
    await this.scrubbing?.catch(() => {});
  }

  /** Writes the node's current state; a failure is logged, not thrown (the next tick retries). */
  async recordHealth(): Promise<void> {
    const { node, meta } = this.options;
    try {
      const usage = await node.usage();
      this.lastUsage = usage;
      await meta.setNodeHealth({ node: node.id, status: 'up', checked: new Date(), bytesUsed: usage.bytes });
    } catch (err) {
      this.log.warn({ err }, 'could not record node health');
    }
  }

  /**
   * One scrub of every blob; overlapping calls (the schedule, the admin API) share the run in
   * progress, so the node is never read twice at once.
   */
  scrub(): Promise<ScrubReport> {
    if (this.scrubbing) return this.scrubbing;
    const current: ScrubInProgress = { startedAt: new Date(), report: { scanned: 0, bytes: 0, tablesRewritten: 0, corrupt: [] }, expected: this.lastUsage };
    this.current = current;
    this.scrubbing = scrubOnce(this.options.node, this.options.meta, (report) => (current.report = report))
      .then(
        (report) => {
          const level = report.corrupt.length > 0 ? 'error' : 'info';
          this.log[level]({ scanned: report.scanned, bytes: report.bytes, corrupt: report.corrupt.length }, 'scrub finished');
          return report;
        },
        (err: unknown) => {
          this.log.error({ err }, 'scrub failed');
          throw err;
        },
      )
      .finally(() => {
        this.scrubbing = null;
        this.current = null;
      });
    return this.scrubbing;
  }

  /** The scrub running now, if any. */
  scrubInProgress(): ScrubInProgress | null {
    return this.current;
  }
}
