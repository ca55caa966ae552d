import type { DataplaneClient } from '../api/client.js';
import type { LogLine, Run, RunEvent, TaskAttempt, Wire } from '../api/types.js';
import { elapsed, paint, state, table } from './format.js';

export interface WatchOptions {
  /** Print log lines as they come. */
  follow: boolean;
  /** Redraw a task table in place (a terminal, no --follow). */
  live: boolean;
  /** Only this task's lines. */
  task?: string;
}

const ENDED = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Follows a run over the WebSocket until it ends: its log lines (backlog first) and, on a
 * terminal, a task table redrawn as tasks change. Resolves with the run as it ended.
 */
export async function watchRun(c: DataplaneClient, runId: string, options: WatchOptions): Promise<Wire<Run>> {
  const tasks = new Map<string, Wire<TaskAttempt>>();
  if (options.live) for (const t of (await c.getRun(runId)).tasks) tasks.set(t.taskId, t);
  const view = options.live ? new LiveTable() : null;
  return new Promise((resolve, reject) => {
    let live = false;
    let stop: (() => void) | null = null;
    // Running tasks' durations move on between events.
    const ticker = view ? setInterval(() => view.draw(tasks), 1000) : null;
    const finish = (run: Wire<Run>) => {
      if (ticker) clearInterval(ticker);
      stop?.();
      view?.draw(tasks, run);
      resolve(run);
    };
    const onEvent = (event: Wire<RunEvent>) => {
      if (event.type === 'log' && options.follow && (!options.task || event.line.taskId === options.task)) printLine(event.line);
      else if (event.type === 'task') {
        tasks.set(event.task.taskId, event.task);
        view?.draw(tasks);
      } else if (event.type === 'error') reject(new Error(`${event.error.code}: ${event.error.message}`));
      else if (event.type === 'subscribed' || event.type === 'run') {
        live = true;
        if (ENDED.has(event.run.state)) finish(event.run);
        else view?.draw(tasks, event.run);
      }
    };
    const onClose = () => {
      // The server went away (restarting?): wait for the end by asking now and then.
      if (live) void pollUntilEnded(c, runId).then(finish, reject);
    };
    c.follow(runId, onEvent, onClose).then((close) => (stop = close), reject);
  });
}

async function pollUntilEnded(c: DataplaneClient, runId: string): Promise<Wire<Run>> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const run = await c.getRun(runId).then((d) => d.run, () => null);
    if (run && ENDED.has(run.state)) return run;
  }
}

export function printLine(line: Wire<LogLine>): void {
  const who = paint.dim(`${line.taskId}${line.attempt > 1 ? `#${line.attempt}` : ''} |`);
  const text = line.stream === 'stderr' ? paint.red(line.text) : line.stream === 'system' ? paint.dim(line.text) : line.text;
  console.log(`${who} ${text}`);
}

export function taskRows(tasks: Iterable<Wire<TaskAttempt>>): Record<string, unknown>[] {
  return [...tasks].map((t) => ({
    task: t.taskId,
    state: state(t.state),
    attempt: t.attempt,
    worker: t.workerId ?? '-',
    duration: elapsed(t.started, t.ended),
    exit: t.exitCode ?? '-',
    error: t.error ? t.error.split('\n')[0]!.slice(0, 60) : '',
  }));
}

/** A table rewritten in place: the cursor goes up over the previous drawing, which is cleared. */
class LiveTable {
  private lines = 0;
  private run: Wire<Run> | null = null;

  draw(tasks: Map<string, Wire<TaskAttempt>>, run?: Wire<Run>): void {
    if (run) this.run = run;
    const header = this.run ? `run ${paint.bold(this.run.id)} ${state(this.run.state)} ${elapsed(this.run.started ?? this.run.created, this.run.ended)}` : '';
    const out = [header, ...table(taskRows(tasks.values()))];
    process.stdout.write((this.lines ? `\u001b[${this.lines}A\u001b[J` : '') + out.join('\n') + '\n');
    this.lines = out.length;
  }
}
