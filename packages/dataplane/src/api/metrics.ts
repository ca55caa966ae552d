import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from '../runs/engine.js';
import { isRunEnded, isTaskEnded } from '../runs/rules.js';

/**
 * Prometheus metrics, fed by the engine's events (nothing on the dispatch path waits for them).
 * A registry per server, not prom-client's global one: tests run several servers in one process.
 */
export function engineMetrics(engine: Engine): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dataplane_process_' });
  new Gauge({ name: 'dataplane_queue_depth', help: 'Task attempts queued, waiting for a worker slot', registers: [registry], collect() {
    this.set(engine.queueDepth());
  } });
  new Gauge({ name: 'dataplane_runs_active', help: 'Runs queued or running', registers: [registry], collect() {
    this.set(engine.activeRuns());
  } });
  new Gauge({ name: 'dataplane_workers_up', help: 'Workers connected, by group', labelNames: ['group', 'environment'], registers: [registry], collect() {
    this.reset();
    for (const w of engine.listWorkers()) if (w.state === 'up') this.inc({ group: w.group, environment: w.environment });
  } });
  const dispatch = new Histogram({
    name: 'dataplane_dispatch_latency_seconds',
    help: 'From a task attempt queued to assigned to a worker',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'dataplane_task_duration_seconds',
    help: 'From a task attempt assigned to ended, by final state',
    labelNames: ['state'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
    registers: [registry],
  });
  const outcomes = new Counter({ name: 'dataplane_run_outcomes_total', help: 'Runs ended, by pipeline and state', labelNames: ['pipeline', 'state'], registers: [registry] });
  // An attempt is announced running twice (assigned, then its process started): count it once.
  const seen = new Set<string>();
  engine.events.on('task', (a) => {
    const key = `${a.runId}/${a.taskId}/${a.attempt}`;
    if (a.state === 'running' && a.queued && a.started && !seen.has(key)) {
      seen.add(key);
      dispatch.observe(Math.max(0, a.started.getTime() - a.queued.getTime()) / 1000);
    }
    if (a.state !== 'running') seen.delete(key);
    if ((isTaskEnded(a.state) || a.state === 'retrying') && a.started && a.ended) duration.observe({ state: a.state }, Math.max(0, a.ended.getTime() - a.started.getTime()) / 1000);
  });
  engine.events.on('run', (run) => {
    if (isRunEnded(run.state)) outcomes.inc({ pipeline: run.pipeline, state: run.state });
  });
  return registry;
}
