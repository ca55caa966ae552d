import { Readable } from 'node:stream';
import type { GarbageCollector } from './block/gc.js';
import type { NodeMonitor } from './block/monitor.js';
import type { ScrubReport } from './block/scrub.js';

/**
 * The maintenance passes the admin API runs on request (`POST gc`, `POST scrub`), answered as a
 * stream of newline-delimited JSON records; the protocol is described in admin.ts's header.
 *
 * A stream rather than a job id to poll: nothing to keep on the server between requests, nothing
 * to expire, and any HTTP client (curl included) sees progress and report on one request. The
 * periodic progress record doubles as a heartbeat, so neither a proxy nor the client's own idle
 * timeout cuts a pass that takes hours.
 */

/** One kind of pass, as the server's collector or monitor runs it. */
export interface MaintenancePass {
  /** Starts a pass, or joins the one running (scheduled or asked for by another request). */
  run(): Promise<object>;
  /** The pass running now: when it started and its counts so far. */
  inProgress(): { startedAt: Date; progress: object } | undefined;
}

export interface MaintenancePasses {
  gc: MaintenancePass;
  scrub: MaintenancePass;
}

/** How often a running pass reports its counts (and proves the connection alive). */
export const PROGRESS_INTERVAL_MS = 1000;

const seconds = (from: Date) => Math.round(Date.now() - from.getTime()) / 1000;

/**
 * Starts or joins the pass and streams its records. A client that goes away stops only its
 * stream: the pass itself goes on (it may be shared, and half a scrub still found what it found).
 */
export function passStream(name: string, pass: MaintenancePass, intervalMs = PROGRESS_INTERVAL_MS): Readable {
  const joined = pass.inProgress() !== undefined;
  const result = pass.run();
  // Set synchronously by the pass when it starts, so this is this pass's start even if it is over
  // by the time the stream is first read.
  const startedAt = pass.inProgress()?.startedAt ?? new Date();
  const out = new Readable({ read() {} });
  const write = (record: object) => {
    if (!out.destroyed) out.push(`${JSON.stringify(record)}\n`);
  };
  write({ type: 'start', pass: name, startedAt, joined });
  const timer = setInterval(() => {
    const current = pass.inProgress();
    if (current) write({ type: 'progress', elapsedSeconds: seconds(startedAt), ...current.progress });
  }, intervalMs);
  out.once('close', () => clearInterval(timer));
  result
    .then(
      (report) => write({ type: 'report', pass: name, seconds: seconds(startedAt), report }),
      (err: unknown) => {
        const code = (err as { code?: unknown } | null)?.code;
        write({ type: 'error', code: typeof code === 'string' ? code : 'InternalError', message: err instanceof Error ? err.message : String(err) });
      },
    )
    .finally(() => {
      clearInterval(timer);
      if (!out.destroyed) out.push(null);
    });
  return out;
}

export function gcPass(gc: GarbageCollector): MaintenancePass {
  return {
    run: () => gc.runOnce(),
    inProgress: () => {
      const current = gc.inProgress();
      return current && { startedAt: current.startedAt, progress: { ...current.report } };
    },
  };
}

/** The scrub's report with the count an operator asks first: how many corrupt blobs were moved aside. */
export type ScrubSummary = ScrubReport & { quarantined: number };

/** A running scrub's progress record: its counts so far, and about how much it has to read. */
export interface ScrubProgress extends Omit<ScrubSummary, 'corrupt'> {
  corrupt: number;
  expected: { blobs: number; bytes: number } | null;
}

export function scrubSummary(report: ScrubReport): ScrubSummary {
  return { ...report, quarantined: report.corrupt.filter((c) => c.quarantinedAt !== null).length };
}

export function scrubPass(monitor: NodeMonitor): MaintenancePass {
  return {
    run: () => monitor.scrub().then(scrubSummary),
    inProgress: () => {
      const current = monitor.scrubInProgress();
      if (!current) return undefined;
      const { corrupt, ...counts } = scrubSummary(current.report);
      const progress: ScrubProgress = { ...counts, corrupt: corrupt.length, expected: current.expected };
      return { startedAt: current.startedAt, progress };
    },
  };
}
