import type { DataStore } from '../store/types.js';
import type { TaskAttempt } from '../types.js';
import { newAttempt, RunContext } from './context.js';
import { INTERRUPTED, type Scheduler } from './scheduler.js';

/**
 * Crash recovery: loads every run the store says is not ended and continues it. Queued attempts
 * queue again, retrying ones wait out what is left of their delay, and attempts that were running
 * are retried as new attempts: local workers died with the server, and an attempt number is never
 * reused, so a late report from the old attempt cannot be mistaken for the new one.
 */
export async function recoverRuns(store: DataStore, scheduler: Scheduler, onError: (err: unknown, runId: string) => void): Promise<number> {
  const runs = (await store.activeRuns()).sort((a, b) => a.created.getTime() - b.created.getTime());
  for (const run of runs) {
    const version = await store.getPipeline(run.pipeline, run.version);
    if (!version) {
      await store.updateRun(run.id, { state: 'failed', ended: new Date() }, { state: 'failed', at: new Date(), reason: `pipeline ${run.pipeline} version ${run.version} no longer exists` });
      continue;
    }
    const ctx = new RunContext(run, version.spec, store, onError);
    const attempts = await store.taskAttempts(run.id);
    for (const task of version.spec.tasks) {
      const mine = attempts.filter((a) => a.taskId === task.id).sort((a, b) => a.attempt - b.attempt);
      ctx.latest.set(task.id, mine.at(-1) ?? newAttempt(run.id, task.id, 1));
      ctx.failures.set(task.id, retriesUsed(mine));
    }
    scheduler.active.set(run.id, ctx);
    resume(scheduler, ctx);
  }
  scheduler.admit();
  return runs.length;
}

/**
 * Retries already used in this run attempt: the failed (not interrupted) attempts retried since
 * the task last ended for good, which is where a rerun started counting afresh.
 */
function retriesUsed(attempts: TaskAttempt[]): number {
  let used = 0;
  for (let i = attempts.length - 2; i >= 0 && attempts[i]!.state === 'retrying'; i--) {
    if (!attempts[i]!.error?.startsWith(INTERRUPTED)) used++;
  }
  return used;
}

function resume(scheduler: Scheduler, ctx: RunContext): void {
  if (ctx.run.state !== 'running') return;
  for (const a of ctx.latest.values()) {
    if (a.state === 'running') scheduler.interrupt(ctx, a, 'the server restarted');
    else if (a.state === 'queued') scheduler.requeue(ctx, a);
    else if (a.state === 'retrying') scheduler.retryAt(ctx, a.taskId, (a.retryAt?.getTime() ?? 0) - Date.now());
  }
  scheduler.advance(ctx);
}

