import type { RunState, TaskState, TaskWhen } from '../types.js';

/**
 * Trigger rules: whether a pending task runs, waits, or can never run, given its upstreams' states.
 * They mirror Airflow's (when: success = all_success, failure = one_failed, always = all_done):
 *
 * - success: runs once every upstream succeeded. As soon as one upstream ends failed, timed_out,
 *   cancelled or upstream_failed, the task is upstream_failed (it does not wait for the others);
 *   when every upstream ended and none failed but some were skipped, it is skipped.
 * - failure: runs as soon as one upstream ends failed (timed_out, cancelled and upstream_failed
 *   count as failed), without waiting for the others; when every upstream ended and none failed,
 *   it is skipped.
 * - always: runs once every upstream ended, whatever the outcome (skipped included).
 *
 * A task without upstreams runs, whatever its rule (as in Airflow: trigger rules look at upstreams).
 * A retrying upstream has not ended: its next attempt may still succeed.
 */
export type Decision = 'wait' | 'run' | 'skipped' | 'upstream_failed';

const FAILED: ReadonlySet<TaskState> = new Set(['failed', 'timed_out', 'cancelled', 'upstream_failed']);
const ENDED: ReadonlySet<TaskState> = new Set([...FAILED, 'succeeded', 'skipped']);

export const isTaskEnded = (state: TaskState): boolean => ENDED.has(state);
export const isTaskFailed = (state: TaskState): boolean => FAILED.has(state);
export const isRunEnded = (state: RunState): boolean => state === 'succeeded' || state === 'failed' || state === 'cancelled';

export function decide(when: TaskWhen, upstreams: TaskState[]): Decision {
  if (upstreams.length === 0) return 'run';
  const failed = upstreams.some(isTaskFailed);
  const waiting = upstreams.some((s) => !ENDED.has(s));
  switch (when) {
    case 'success':
      if (failed) return 'upstream_failed';
      if (waiting) return 'wait';
      return upstreams.every((s) => s === 'succeeded') ? 'run' : 'skipped';
    case 'failure':
      if (failed) return 'run';
      return waiting ? 'wait' : 'skipped';
    case 'always':
      return waiting ? 'wait' : 'run';
  }
}

/**
 * A run's outcome once every task ended. Unlike Airflow (which looks at leaf tasks only, so a
 * `when: failure` clean-up task that succeeds turns the run green), any failed task fails the run:
 * a failure handler reports a failure, it does not undo it. Skipped tasks do not fail a run.
 */
export function runOutcome(states: TaskState[]): 'succeeded' | 'failed' | 'cancelled' {
  if (states.some((s) => s === 'cancelled')) return 'cancelled';
  return states.some(isTaskFailed) ? 'failed' : 'succeeded';
}
