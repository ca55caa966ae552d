import pino, { type Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MetadataStore } from '../meta/types.js';
import { isBlobId } from './errors.js';
import type { DataNode } from './types.js';

export interface GarbageCollectorOptions {
  meta: MetadataStore;
  /** The node whose blobs and temp files this collector sweeps. */
  node: DataNode;
  /** Metrics are registered here (not on prom-client's global registry). */
  registry: Registry;
  logger?: Logger;
  /**
   * Anything younger is left alone: a pending version may belong to an upload still streaming,
   * an unreferenced blob may be about to be committed, a temp file may still be written. It
   * must exceed the longest upload. Default 24 h.
   */
  gracePeriodMs?: number;
  /** Multipart uploads initiated longer ago are aborted. Default 7 days. */
  uploadMaxAgeMs?: number;
  /**
   * How long a completed upload id is remembered, so that a retried CompleteMultipartUpload is
   * answered as the first one was (later it is NoSuchUpload). Default 24 h: an SDK retries within
   * minutes.
   */
  completedUploadRetentionMs?: number;
  /** Period of the automatic runs after start(). Default 1 h. */
  intervalMs?: number;
}

export interface GcReport {
  pendingAborted: number;
  uploadsAborted: number;
  /** Completed upload ids forgotten (past completedUploadRetentionMs). */
  completionsForgotten: number;
  blobsDeleted: number;
  tempRemoved: number;
  /** Steps that failed (logged; the rest of the run went on). */
  errors: number;
}

const HOUR = 3_600_000;

/**
 * Reclaims what crashes and abandoned requests leave behind, in the order that frees the most:
 * stale pending versions and uploads first (which turns their blobs into garbage), then
 * unreferenced blobs, then temp files; completed upload ids past their retention are forgotten
 * too. A blob is deleted only when no version or part references it AND its file is older than
 * the grace period, checked again under the node's lock at the moment of deletion, because a put
 * of the same bytes refreshes that time before it commits.
 */
export class GarbageCollector {
  private readonly meta: MetadataStore;
  private readonly node: DataNode;
  private readonly log: Logger;
  private readonly graceMs: number;
  private readonly uploadMaxAgeMs: number;
  private readonly completedRetentionMs: number;
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<GcReport>;
  private current?: { startedAt: Date; report: Readonly<GcReport> };
  private readonly metrics;

  constructor(options: GarbageCollectorOptions) {
    this.meta = options.meta;
    this.node = options.node;
    this.log = (options.logger ?? pino({ name: 'plinth' })).child({ component: 'gc', node: options.node.id });
    this.graceMs = options.gracePeriodMs ?? 24 * HOUR;
    this.uploadMaxAgeMs = options.uploadMaxAgeMs ?? 7 * 24 * HOUR;
    this.completedRetentionMs = options.completedUploadRetentionMs ?? 24 * HOUR;
    this.intervalMs = options.intervalMs ?? HOUR;
    const registers = [options.registry];
    this.metrics = {
      runs: new Counter({ name: 'plinth_gc_runs_total', help: 'Garbage collection runs completed', registers }),
      duration: new Histogram({ name: 'plinth_gc_run_duration_seconds', help: 'Duration of garbage collection runs', registers, buckets: [0.01, 0.1, 1, 10, 60, 600] }),
      lastRun: new Gauge({ name: 'plinth_gc_last_run_timestamp_seconds', help: 'When the last garbage collection run ended (Unix time)', registers }),
      pending: new Counter({ name: 'plinth_gc_pending_aborted_total', help: 'Stale pending object versions dropped', registers }),
      uploads: new Counter({ name: 'plinth_gc_uploads_aborted_total', help: 'Stale multipart uploads aborted', registers }),
      completions: new Counter({ name: 'plinth_gc_completions_forgotten_total', help: 'Completed multipart upload ids forgotten after their retention', registers }),
      blobs: new Counter({ name: 'plinth_gc_blobs_deleted_total', help: 'Unreferenced blobs deleted, by how they were found: orphan (reported by a commit or delete), upload (parts of an aborted upload), sweep (listing the node)', labelNames: ['reason'] as const, registers }),
      temp: new Counter({ name: 'plinth_gc_temp_files_removed_total', help: 'Stale temporary files removed', registers }),
      errors: new Counter({ name: 'plinth_gc_errors_total', help: 'Garbage collection steps that failed', labelNames: ['phase'] as const, registers }),
    };
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    // A pending sweep is no reason to keep the process alive.
    this.timer.unref();
  }

  /** Stops the schedule and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs every phase now; a call during a run shares that run. Never rejects: failures are counted in the report. */
  runOnce(): Promise<GcReport> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
      this.current = undefined;
    });
    return this.running;
  }

  /**
   * Deletes blobs a commit or delete reported as orphaned, if still unreferenced and past the
   * grace period (younger ones are left to the sweep). Never rejects, so callers may fire and
   * forget; resolves how many were deleted.
   */
  async collect(blobs: Iterable<string>): Promise<number> {
    const report = emptyReport();
    await this.collectInto(new Set(blobs), 'orphan', report);
    return report.blobsDeleted;
  }

  /** The run in progress, if any, with its counts so far (the admin API reports them as it goes). */
  inProgress(): { startedAt: Date; report: Readonly<GcReport> } | undefined {
    return this.current;
  }

  private async run(): Promise<GcReport> {
    const started = process.hrtime.bigint();
    const report = emptyReport();
    const now = Date.now();
    this.current = { startedAt: new Date(now), report };
    const cutoff = new Date(now - this.graceMs);

    await this.step('pending', report, async () => {
      for (const v of await this.meta.stalePending(cutoff)) {
        await this.step('pending', report, async () => {
          await this.meta.abortPending(v.bucket, v.key, v.versionId, v.pendingId);
          report.pendingAborted++;
          this.metrics.pending.inc();
          this.log.info({ bucket: v.bucket, key: v.key, versionId: v.versionId }, 'dropped stale pending version');
        });
      }
    });

    const freed = new Set<string>();
    await this.step('uploads', report, async () => {
      for (const u of await this.meta.staleUploads(new Date(now - this.uploadMaxAgeMs))) {
        await this.step('uploads', report, async () => {
          const { found, blobs } = await this.meta.deleteUpload(u.uploadId);
          // Completed or aborted since it was listed.
          if (!found) return;
          for (const b of blobs) freed.add(b);
          report.uploadsAborted++;
          this.metrics.uploads.inc();
          this.log.info({ bucket: u.bucket, key: u.key, uploadId: u.uploadId, parts: blobs.length }, 'aborted stale multipart upload');
        });
      }
    });
    await this.collectInto(freed, 'upload', report);

    // Only metadata: the version a completion made stays, a retry of that Complete is NoSuchUpload from now on.
    await this.step('completions', report, async () => {
      const forgotten = await this.meta.pruneCompletedUploads(new Date(now - this.completedRetentionMs));
      report.completionsForgotten += forgotten;
      this.metrics.completions.inc(forgotten);
    });

    await this.step('sweep', report, async () => {
      await this.collectInto(olderThan(this.node.list(), cutoff), 'sweep', report);
    });

    await this.step('temp', report, async () => {
      const removed = await this.node.cleanTemp(cutoff);
      report.tempRemoved += removed;
      this.metrics.temp.inc(removed);
    });

    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.runs.inc();
    this.metrics.duration.observe(seconds);
    this.metrics.lastRun.set(Date.now() / 1000);
    const busy = report.pendingAborted + report.uploadsAborted + report.completionsForgotten + report.blobsDeleted + report.tempRemoved + report.errors > 0;
    this.log[busy ? 'info' : 'debug']({ ...report, seconds }, 'garbage collection run');
    return report;
  }

  private async collectInto(blobs: Iterable<string> | AsyncIterable<string>, reason: string, report: GcReport): Promise<void> {
    const cutoff = new Date(Date.now() - this.graceMs);
    for await (const blob of blobs) {
      // Callers pass what the metadata held; anything but a content address is not ours to delete.
      if (!isBlobId(blob)) continue;
      await this.step('collect', report, async () => {
        if (await this.meta.blobReferenced(blob)) return;
        if (!(await this.node.delete(blob, { ifOlderThan: cutoff }))) return;
        report.blobsDeleted++;
        this.metrics.blobs.inc({ reason });
        this.log.debug({ blob, reason }, 'deleted unreferenced blob');
      });
    }
  }

  /**
   * One item's failure is logged and counted and the loop goes on; a phase whose listing fails
   * is skipped the same way and the other phases still run.
   */
  private async step(phase: string, report: GcReport, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      report.errors++;
      this.metrics.errors.inc({ phase });
      this.log.warn({ err, phase }, 'garbage collection step failed');
    }
  }
}

/** Streams the listing rather than collecting it: a node may hold millions of blobs. */
async function* olderThan(listing: AsyncIterable<{ blob: string; modified: Date }>, cutoff: Date): AsyncIterable<string> {
  for await (const { blob, modified } of listing) if (modified < cutoff) yield blob;
}

function emptyReport(): GcReport {
  return { pendingAborted: 0, uploadsAborted: 0, completionsForgotten: 0, blobsDeleted: 0, tempRemoved: 0, errors: 0 };
}
