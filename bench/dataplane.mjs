// Dataplane's orchestration overhead: a chain of 40 tiny Python tasks (fib(10), each needing the
// one before) on one local worker, end to end through the REST API and the run's WebSocket, beside
// the floor: the same 40 programs run one after another by a shell loop of `python3 -c`.
//
//   npm run build && node bench/dataplane.mjs [--runs 5] [--tasks 40] [--database postgres://…]
//
// The difference between the two, divided by the tasks, is what Dataplane adds per task: the
// store writes of each transition, dispatch, the worker's process start and output collection.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, tasks: { type: 'string', default: '40' }, database: { type: 'string' } } });
const RUNS = Number(values.runs);
const TASKS = Number(values.tasks);
const PYTHON = '/usr/bin/python3';
const FIB = 'def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)\nprint(fib(10))';

const dist = new URL('../packages/dataplane/dist/src/index.js', import.meta.url);
const { startServer, DataplaneClient } = await import(dist.href).catch(() => {
  console.error('build first: npm run build');
  process.exit(1);
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

function floor() {
  const script = `for i in $(seq ${TASKS}); do ${PYTHON} -c '${FIB}' > /dev/null; done`;
  const t0 = performance.now();
  const r = spawnSync('/bin/sh', ['-c', script], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('the shell loop failed');
  return performance.now() - t0;
}

function pipeline() {
  const code = FIB.split('\n').map((l) => `      ${l}`).join('\n');
  const tasks = Array.from({ length: TASKS }, (_, i) => `  t${i}:\n    run: python\n${i ? `    needs: [t${i - 1}]\n` : ''}    code: |\n${code}\n`);
  return `name: chain\ntasks:\n${tasks.join('')}`;
}

/** Start to end as a client sees it: POST the run, follow it over /ws until it has ended. */
async function timedRun(client) {
  const t0 = performance.now();
  const run = await client.startRun('chain');
  const ended = await new Promise((resolve, reject) => {
    let close;
    client
      .follow(run.id, (e) => {
        const r = e.type === 'subscribed' || e.type === 'run' ? e.run : null;
        if (r && ['succeeded', 'failed', 'cancelled'].includes(r.state)) {
          close?.();
          resolve(r);
        }
      })
      .then((c) => (close = c), reject);
  });
  const elapsed = performance.now() - t0;
  if (ended.state !== 'succeeded') throw new Error(`run ${run.id} ${ended.state}`);
  return elapsed;
}

const dataDir = mkdtempSync(join(tmpdir(), 'dataplane-bench-'));
const server = await startServer({ dataDir, port: 0, workers: 1, slots: 1, database: values.database });
try {
  const client = new DataplaneClient({ server: server.url });
  await client.applyPipeline({ source: pipeline() });
  await timedRun(client); // warm-up: the worker's Python runner, the store's statements
  const dataplane = [];
  const shell = [];
  for (let i = 0; i < RUNS; i++) {
    dataplane.push(await timedRun(client));
    shell.push(floor());
  }
  const d = median(dataplane);
  const f = median(shell);
  console.log(`${TASKS} chained fib(10) Python tasks, one worker, ${server.store.backend} store (median of ${RUNS}; all: ${dataplane.map(ms).join(', ')})`);
  console.log(`  dataplane run, end to end      ${ms(d)}`);
  console.log(`  shell loop of python3 -c       ${ms(f)}  (all: ${shell.map(ms).join(', ')})`);
  console.log(`  difference per task            ${((d - f) / TASKS).toFixed(1)} ms`);
  console.log(`  ratio dataplane / floor        ${(d / f).toFixed(2)}`);
  // Windmill's published figures for its 40-light-task protocol, on other hardware: for reference, not a comparison.
  console.log('published (40 light tasks, other hardware): Hatchet 1.22 s, Windmill dedicated 2.09 s, Temporal 2.97 s, Windmill 4.38 s, Prefect 4.87 s, Kestra 6.04 s, Airflow 116 s');
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
