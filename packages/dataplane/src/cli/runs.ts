import type { Command } from 'commander';
import type { Run, Wire } from '../api/types.js';
import type { RunState } from '../types.js';
import { client, collectParam, globals, positiveInt } from './context.js';
import { elapsed, output, paint, printTable, state, when } from './format.js';
import { printLine, taskRows, watchRun } from './watch.js';

/** Waits for the run when asked; the exit code says how it ended (0 succeeded, 1 otherwise). */
async function afterStart(cmd: Command, run: Wire<Run>, o: { wait?: boolean; follow?: boolean }): Promise<void> {
  const json = globals(cmd).json;
  if (!o.wait && !o.follow) {
    output(json, run, () => console.log(`started run ${paint.bold(run.id)} of ${run.pipeline} (version ${run.version}): ${state(run.state)}`));
    return;
  }
  if (!json) console.log(`run ${paint.bold(run.id)} of ${run.pipeline} (version ${run.version})`);
  const live = !json && !o.follow && process.stdout.isTTY === true;
  const ended = await watchRun(client(cmd), run.id, { follow: !!o.follow && !json, live });
  if (json) console.log(JSON.stringify(await client(cmd).getRun(run.id), null, 2));
  else if (!live) await printRun(cmd, run.id, false);
  process.exitCode = ended.state === 'succeeded' ? 0 : 1;
}

async function printRun(cmd: Command, id: string, header = true): Promise<void> {
  const detail = await client(cmd).getRun(id);
  output(globals(cmd).json, detail, () => {
    const r = detail.run;
    if (header) console.log(`run ${paint.bold(r.id)} of ${r.pipeline} (version ${r.version}, attempt ${r.attempt}) by ${r.createdBy ?? 'anonymous'}`);
    if (header && Object.keys(r.params).length) console.log(`params: ${JSON.stringify(r.params)}`);
    printTable(taskRows(detail.tasks));
    console.log(`${state(r.state)} after ${elapsed(r.started ?? r.created, r.ended)}`);
  });
}

export function registerRunCommands(program: Command): void {
  program
    .command('run <pipeline>')
    .description('start a run of the latest version of a pipeline')
    .option('-p, --param <name=value>', 'a param (repeatable); the pipeline declares the types', collectParam, {})
    .option('-w, --wait', 'wait for the run to end: exit code 0 if it succeeded, 1 if not (a live task table on a terminal)')
    .option('-f, --follow', "print the run's log lines as they come, until it ends (implies --wait)")
    .addHelpText('after', '\nExamples:\n  $ dataplane run etl --param day=2024-05-01 --wait\n  $ dataplane run etl --follow\n  $ dataplane run etl --wait --json   # the run and its tasks, as JSON')
    .action(async (name: string, o: { param: Record<string, string>; wait?: boolean; follow?: boolean }, cmd: Command) => {
      await afterStart(cmd, await client(cmd).startRun(name, o.param), o);
    });

  const runs = program.command('runs').description('list, show, cancel and rerun runs');
  runs
    .command('list')
    .description('runs, newest first')
    .option('--pipeline <name>', 'of one pipeline')
    .option('--state <states>', 'in these states (comma-separated: queued,running,succeeded,failed,cancelled)')
    .option('--limit <n>', 'at most this many', positiveInt, 20)
    .action(async (o: { pipeline?: string; state?: string; limit: number }, cmd: Command) => {
      const list = await client(cmd).listRuns({ pipeline: o.pipeline, states: o.state?.split(',') as RunState[] | undefined, limit: o.limit });
      output(globals(cmd).json, list, () =>
        printTable(list.map((r) => ({ run: r.id, pipeline: `${r.pipeline}@${r.version}`, state: state(r.state), attempt: r.attempt, created: when(r.created), duration: elapsed(r.started, r.ended), by: r.createdBy ?? '-' }))),
      );
    });
  runs
    .command('show <id>')
    .description('a run and the latest attempt of each task')
    .action((id: string, _o, cmd: Command) => printRun(cmd, id));
  runs
    .command('cancel <id>')
    .description('cancel a queued or running run (running tasks are killed)')
    .action(async (id: string, _o, cmd: Command) => {
      const run = await client(cmd).cancelRun(id);
      output(globals(cmd).json, run, () => console.log(`run ${paint.bold(run.id)} ${state(run.state)}`));
    });
  runs
    .command('rerun <id>')
    .description("run a failed or cancelled run's failed and not-run tasks again (succeeded ones keep their output)")
    .option('-w, --wait', 'wait for the run to end (exit code 0 if it succeeded)')
    .option('-f, --follow', 'print log lines until it ends')
    .action(async (id: string, o: { wait?: boolean; follow?: boolean }, cmd: Command) => {
      await afterStart(cmd, await client(cmd).rerun(id), o);
    });

  program
    .command('logs <run>')
    .description("a run's log lines")
    .option('-t, --task <task>', 'only this task')
    .option('-f, --follow', 'keep printing lines until the run ends')
    .action(async (id: string, o: { task?: string; follow?: boolean }, cmd: Command) => {
      const c = client(cmd);
      if (o.follow && !globals(cmd).json) {
        await watchRun(c, id, { follow: true, live: false, task: o.task });
        return;
      }
      const page = await c.logs(id, { task: o.task, limit: 100_000 });
      output(globals(cmd).json, page.lines, () => page.lines.forEach(printLine));
    });
}
