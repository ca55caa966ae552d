/**
 * Crash recovery: `dataplane serve` killed with SIGKILL in the middle of a run, then started again
 * on the same data directory, continues the run to success; no task attempt overlaps another.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { DataplaneClient } from '../src/api/client.js';
import { readLines, until } from './runs-helpers.js';
import { serve, type ServeProcess } from './cli-helpers.js';

/**
 * Each task notes its start and end with its pid, and on start checks that no attempt that started
 * and did not end is still alive: that would be two attempts at once.
 */
const TASK = `
import os, time
path = os.environ['DATAPLANE_PARAM_MARKS']
me = '%s#%s' % (os.environ['DATAPLANE_TASK_ID'], os.environ['DATAPLANE_ATTEMPT'])
def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False
lines = [l.split() for l in open(path).read().splitlines()] if os.path.exists(path) else []
ended = {who for kind, who, pid in lines if kind == 'end'}
with open(path, 'a') as f:
    for kind, who, pid in lines:
        if kind == 'start' and who not in ended and alive(int(pid)):
            f.write('overlap %s %s\\n' % (who, me))
    f.write('start %s %d\\n' % (me, os.getpid()))
time.sleep(0.5)
with open(path, 'a') as f:
    f.write('end %s %d\\n' % (me, os.getpid()))
`;

const chain = ['t1', 't2', 't3', 't4']
  .map((id, i) => `  ${id}:\n    run: python\n${i ? `    needs: [t${i}]\n` : ''}    code: |\n${TASK.trim().split('\n').map((l) => `      ${l}`).join('\n')}\n`)
  .join('');
const PIPELINE = `name: crashy\nparams:\n  marks: {type: string}\ntasks:\n${chain}`;

const dir = mkdtempSync(join(tmpdir(), 'dataplane-crash-'));
let server: ServeProcess | undefined;
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('continues a run after kill -9 of the server, without running a task twice at once', async () => {
  const data = join(dir, 'data');
  const marks = join(dir, 'marks');
  writeFileSync(join(dir, 'crashy.yaml'), PIPELINE);
  server = await serve(data, ['--workers', '2']);
  const port = new URL(server.url).port;
  let c = new DataplaneClient({ server: server.url });
  await c.applyPipeline({ source: PIPELINE });
  const run = await c.startRun('crashy', { marks });
  await until(() => readLines(marks).some((l) => l.startsWith('start t2#1')), 15_000, 't2 to start');
  server.child.kill('SIGKILL');
  await new Promise((r) => server!.child.once('exit', r));

  server = await serve(data, ['--workers', '2'], Number(port));
  c = new DataplaneClient({ server: server.url });
  let state = '';
  await until(async () => ['succeeded', 'failed', 'cancelled'].includes((state = (await c.getRun(run.id)).run.state)), 20_000, 'the run to end');
  assert.equal(state, 'succeeded', server.output());

  const lines = readLines(marks);
  assert.deepEqual(lines.filter((l) => l.startsWith('overlap')), [], 'no attempt overlapped another');
  assert.deepEqual(lines.filter((l) => l.startsWith('end')).map((l) => l.split(' ')[1]!.split('#')[0]), ['t1', 't2', 't3', 't4'], 'each task ran to its end once');
  const { attempts } = await c.getRun(run.id);
  const t1 = attempts.filter((a) => a.taskId === 't1');
  const t2 = attempts.filter((a) => a.taskId === 't2');
  assert.deepEqual(t1.map((a) => a.state), ['succeeded'], 't1 was not run again');
  assert.deepEqual(t2.map((a) => a.state), ['retrying', 'succeeded']);
  assert.equal(t2[0]!.error, 'interrupted: the server restarted');
});
