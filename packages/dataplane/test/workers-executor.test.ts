import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { TaskAssignment, TaskKind, TaskOutcome } from '../src/types.js';
import { executeTask, prewarm, type ExecuteOptions, type OutputLine } from '../src/workers/executor.js';
import { StreamRedactor, secretVariants } from '../src/workers/redact.js';
import { closeWarmRunners } from '../src/workers/warm.js';

const root = mkdtempSync(join(tmpdir(), 'dp-exec-test-'));
const workRoot = join(root, 'work');
after(() => {
  closeWarmRunners();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function assignment(run: TaskKind, code: string, extra: Partial<TaskAssignment> = {}): TaskAssignment {
  return {
    runId: 'run-1', taskId: `t${++counter}`, attempt: 1, pipeline: 'p', version: 1, run, code,
    params: {}, inputs: {}, secrets: {}, timeoutMs: null, ...extra,
  };
}

interface Result {
  outcome: TaskOutcome;
  lines: OutputLine[];
  batches: number[];
  pid: number | null;
  warm: boolean | null;
  ms: number;
}

async function run(a: TaskAssignment, options: Partial<ExecuteOptions> = {}, during?: (cancel: (r: 'cancelled' | 'timed_out') => void) => void): Promise<Result> {
  const lines: OutputLine[] = [];
  const batches: number[] = [];
  let pid: number | null = null;
  let warm: boolean | null = null;
  const t = performance.now();
  const execution = executeTask(a, {
    workRoot,
    onLines: (batch) => (batches.push(batch.length), lines.push(...batch)),
    onStarted: (info) => ((pid = info.pid), (warm = info.warm)),
    ...options,
  });
  during?.((r) => execution.cancel(r));
  const outcome = await execution.done;
  return { outcome, lines, batches, pid, warm, ms: performance.now() - t };
}

const text = (r: Result, stream?: string) => r.lines.filter((l) => !stream || l.stream === stream).map((l) => l.text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Alive and not a zombie (an orphan's zombie may linger where PID 1 does not reap). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function gone(pid: number, ms = 3000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (!alive(pid)) return true;
  return false;
}

const ENV_PY = String.raw`
import json, os
names = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'DATAPLANE_RUN_ID', 'DATAPLANE_TASK_ID', 'DATAPLANE_ATTEMPT']
print('env', all(os.environ.get(n) for n in names), 'DP_TEST_LEAK' in os.environ)
print('param', os.environ['DATAPLANE_PARAM_NAME'], os.environ['DATAPLANE_PARAM_CONFIG'], os.environ['DATAPLANE_PARAM_N'])
params = json.load(open(os.environ['DATAPLANE_PARAMS']))
inputs = json.load(open(os.environ['DATAPLANE_INPUTS']))
print('secret', os.environ['API_KEY'] == 'k-123456')
print('cwd', os.getcwd() == os.path.dirname(os.environ['DATAPLANE_OUTPUT']), os.environ['TMPDIR'].startswith(os.getcwd()))
json.dump({'sum': params['n'] + inputs['up']['v'], 'run': os.environ['DATAPLANE_RUN_ID'], 'attempt': os.environ['DATAPLANE_ATTEMPT']}, open(os.environ['DATAPLANE_OUTPUT'], 'w'))
`;

const ENV_BASH = [
  'for n in PATH HOME LANG TMPDIR DATAPLANE_RUN_ID DATAPLANE_TASK_ID DATAPLANE_ATTEMPT; do [ -n "${!n}" ] || echo "missing $n"; done',
  'echo "env ${DP_TEST_LEAK:-no-leak}"',
  'echo "param $DATAPLANE_PARAM_NAME $DATAPLANE_PARAM_CONFIG $DATAPLANE_PARAM_N"',
  '[ "$API_KEY" = k-123456 ] && echo "secret True"',
  'n=$(python3 -c \'import json,os; print(json.load(open(os.environ["DATAPLANE_PARAMS"]))["n"] + json.load(open(os.environ["DATAPLANE_INPUTS"]))["up"]["v"])\')',
  'echo "{\\"sum\\": $n, \\"run\\": \\"$DATAPLANE_RUN_ID\\", \\"attempt\\": \\"$DATAPLANE_ATTEMPT\\"}" > "$DATAPLANE_OUTPUT"',
].join('\n');

const ENV_NODE = String.raw`
const fs = require('fs');
const e = process.env;
console.log('env', ['PATH', 'HOME', 'LANG', 'TMPDIR', 'DATAPLANE_RUN_ID', 'DATAPLANE_TASK_ID', 'DATAPLANE_ATTEMPT'].every((n) => e[n]), 'DP_TEST_LEAK' in e);
console.log('param', e.DATAPLANE_PARAM_NAME, e.DATAPLANE_PARAM_CONFIG, e.DATAPLANE_PARAM_N);
const params = JSON.parse(fs.readFileSync(e.DATAPLANE_PARAMS, 'utf8'));
const inputs = JSON.parse(fs.readFileSync(e.DATAPLANE_INPUTS, 'utf8'));
console.log('secret', e.API_KEY === 'k-123456');
fs.writeFileSync(e.DATAPLANE_OUTPUT, JSON.stringify({ sum: params.n + inputs.up.v, run: e.DATAPLANE_RUN_ID, attempt: e.DATAPLANE_ATTEMPT }));
`;

describe('executeTask: params, inputs, outputs, environment', () => {
  process.env.DP_TEST_LEAK = 'worker-only';
  const data = { params: { name: 'ana', config: { a: [1, 2] }, n: 40 }, inputs: { up: { v: 2 } }, secrets: { API_KEY: 'k-123456' }, attempt: 3 };
  const expected = { sum: 42, run: 'run-1', attempt: '3' };

  for (const warm of [true, false]) {
    test(`python (${warm ? 'warm' : 'cold'})`, async () => {
      const r = await run(assignment('python', ENV_PY, data), { warm });
      assert.deepEqual(r.outcome, { state: 'succeeded', exitCode: 0, error: null, output: expected });
      assert.equal(r.warm, warm);
      assert.deepEqual(text(r), ['env True False', 'param ana {"a":[1,2]} 40', 'secret True', 'cwd True True']);
    });
  }

  test('bash', async () => {
    const r = await run(assignment('bash', ENV_BASH, data));
    assert.deepEqual(r.outcome, { state: 'succeeded', exitCode: 0, error: null, output: expected });
    assert.deepEqual(text(r), ['env no-leak', 'param ana {"a":[1,2]} 40', 'secret True']);
  });

  test('node (CommonJS)', async () => {
    const r = await run(assignment('node', ENV_NODE, data));
    assert.deepEqual(r.outcome, { state: 'succeeded', exitCode: 0, error: null, output: expected });
    assert.deepEqual(text(r), ['env true false', 'param ana {"a":[1,2]} 40', 'secret true']);
  });

  test('node (ES module, top-level await)', async () => {
    const code = "import { writeFileSync } from 'node:fs';\nawait new Promise((r) => setTimeout(r, 5));\nwriteFileSync(process.env.DATAPLANE_OUTPUT, JSON.stringify([1, 'two']));\nconsole.log('esm');";
    const r = await run(assignment('node', code));
    assert.deepEqual(r.outcome, { state: 'succeeded', exitCode: 0, error: null, output: [1, 'two'] });
    assert.deepEqual(text(r), ['esm']);
  });

  test('no output written → null; the attempt directories are removed', async () => {
    const r = await run(assignment('bash', 'echo hi'));
    assert.deepEqual(r.outcome, { state: 'succeeded', exitCode: 0, error: null, output: null });
    assert.deepEqual(readdirSync(workRoot), []);
  });

  test('invalid JSON in $DATAPLANE_OUTPUT fails the attempt', async () => {
    for (const warm of [true, false]) {
      const r = await run(assignment('python', "import os\nopen(os.environ['DATAPLANE_OUTPUT'], 'w').write('{not json')"), { warm });
      assert.equal(r.outcome.state, 'failed');
      assert.equal(r.outcome.exitCode, 0);
      assert.match(r.outcome.error!, /invalid JSON to \$DATAPLANE_OUTPUT/);
    }
  });

  test('a secret quoted in the error message is masked', async () => {
    const code = "import os\nopen(os.environ['DATAPLANE_OUTPUT'], 'w').write(os.environ['TOKEN'])";
    const r = await run(assignment('python', code, { secrets: { TOKEN: 'tok-987654' } }));
    assert.equal(r.outcome.state, 'failed');
    assert.ok(r.outcome.error!.includes('***') && !r.outcome.error!.includes('tok-987654'), r.outcome.error!);
  });
});

describe('executeTask: exit codes and signals', () => {
  const cases: [TaskKind, string, number][] = [
    ['python', 'import sys\nsys.exit(3)', 3],
    ['python', 'raise RuntimeError("boom")', 1],
    ['bash', 'echo out; exit 7', 7],
    ['node', 'process.exit(2)', 2],
    ['node', 'throw new Error("boom")', 1],
  ];
  for (const [kind, code, exitCode] of cases) {
    test(`${kind}: ${code.replace(/\n/g, '; ')} → ${exitCode}`, async () => {
      const r = await run(assignment(kind, code));
      assert.deepEqual(r.outcome, { state: 'failed', exitCode, error: `exited with code ${exitCode}`, output: null });
    });
  }

  test('killed by a signal', async () => {
    for (const [kind, code] of [['bash', 'kill -9 $$'], ['python', 'import os\nos.kill(os.getpid(), 9)']] as const) {
      const r = await run(assignment(kind, code));
      assert.deepEqual(r.outcome, { state: 'failed', exitCode: null, error: 'killed by signal SIGKILL', output: null });
    }
  });

  test('an interpreter that does not exist', async () => {
    for (const warm of [false, true]) {
      const r = await run(assignment('python', 'print(1)'), { python: join(root, 'no-python'), warm });
      assert.equal(r.outcome.state, 'failed');
      assert.match(r.outcome.error!, /could not start the task: .*ENOENT/);
    }
  });
});

describe('executeTask: timeouts, cancel, leftovers', () => {
  const pidFile = () => join(root, `pid-${++counter}`);
  const pids = (file: string) => readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);

  test('a timeout kills the whole process group, background children included', async () => {
    const file = pidFile();
    const r = await run(assignment('bash', `sleep 1000 & echo $! $$ > ${file}; sleep 1000`, { timeoutMs: 300 }));
    assert.deepEqual(r.outcome, { state: 'timed_out', exitCode: null, error: 'timed out after 300 ms', output: null });
    assert.ok(r.ms < 3000, `took ${r.ms} ms`);
    assert.ok(text(r, 'system').some((t) => t.startsWith('[timed out after 300 ms')));
    for (const pid of pids(file)) assert.ok(await gone(pid), `process ${pid} is still there`);
  });

  test('a timeout kills a warm Python task and its subprocess', async () => {
    const file = pidFile();
    const code = `import os, subprocess, time\np = subprocess.Popen(['sleep', '1000'])\nopen('${file}', 'w').write('%d %d' % (p.pid, os.getpid()))\ntime.sleep(1000)`;
    const r = await run(assignment('python', code, { timeoutMs: 500 }));
    assert.equal(r.warm, true);
    assert.equal(r.outcome.state, 'timed_out');
    for (const pid of pids(file)) assert.ok(await gone(pid), `process ${pid} is still there`);
  });

  test('a background child left behind by a task that exits is killed', async () => {
    const file = pidFile();
    const r = await run(assignment('bash', `sleep 1000 & echo $! > ${file}; echo bye`));
    assert.equal(r.outcome.state, 'succeeded');
    assert.ok(r.ms < 2000, `took ${r.ms} ms: the leftover held the pipes`);
    assert.deepEqual(text(r), ['bye']);
    assert.ok(await gone(pids(file)[0]));
  });

  test('cancel', async () => {
    const r = await run(assignment('bash', 'echo started; sleep 1000'), {}, (cancel) => setTimeout(() => cancel('cancelled'), 200));
    assert.deepEqual(r.outcome, { state: 'cancelled', exitCode: null, error: 'cancelled', output: null });
    assert.deepEqual(text(r), ['started', '[cancelled: stopping the task]']);
    assert.ok(r.pid && (await gone(r.pid)));
  });

  test('cancel before the process starts', async () => {
    const r = await run(assignment('bash', 'echo never'), {}, (cancel) => cancel('cancelled'));
    assert.equal(r.outcome.state, 'cancelled');
    assert.equal(r.pid, null);
  });

  test('a task ignoring SIGTERM is killed after the grace period', async () => {
    const file = pidFile();
    const code = `trap '' TERM; echo $$ > ${file}; while true; do sleep 0.05; done`;
    const r = await run(assignment('bash', code), { killGraceMs: 300 }, (cancel) => setTimeout(() => cancel('timed_out'), 300));
    assert.equal(r.outcome.state, 'timed_out');
    assert.ok(r.ms >= 550 && r.ms < 3000, `took ${r.ms} ms`);
    assert.ok(await gone(pids(file)[0]));
  });
});

describe('executeTask: output lines', () => {
  test('partial lines across chunks, \\r\\n, a last line without newline; seq and batches', async () => {
    const r = await run(assignment('bash', "printf 'a\\r\\nb'; sleep 0.1; printf 'c\\n'; echo err >&2; printf last"));
    assert.deepEqual(text(r, 'stdout'), ['a', 'bc', 'last']);
    assert.deepEqual(text(r, 'stderr'), ['err']);
    assert.deepEqual(r.lines.map((l) => l.seq), [0, 1, 2, 3]);
    assert.ok(r.lines.every((l) => l.at instanceof Date));
  });

  test('batches hold at most 100 lines', async () => {
    const r = await run(assignment('bash', 'seq 1 1000'));
    assert.equal(r.lines.length, 1000);
    assert.equal(r.lines[999].text, '1000');
    assert.ok(Math.max(...r.batches) <= 100 && r.batches.length >= 10, `batches: ${r.batches}`);
  });

  test('a huge output is capped, drained, and does not fill memory', async () => {
    let kept = 0;
    let lines = 0;
    let last: OutputLine | null = null;
    let peak = 0;
    const base = process.memoryUsage().rss;
    const probe = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 20);
    const code = "head -c 100000000 /dev/zero | tr '\\0' x | fold -w 99; echo done >&2";
    const outcome = await executeTask(assignment('bash', code), {
      workRoot,
      onLines: (batch) => {
        for (const l of batch) (lines++, (kept += l.stream === 'system' ? 0 : l.text.length + 1), (last = l));
      },
    }).done;
    clearInterval(probe);
    assert.equal(outcome.state, 'succeeded');
    assert.ok(kept <= 10 * 1024 * 1024 && kept > 9 * 1024 * 1024, `kept ${kept}`);
    assert.equal(last!.stream, 'system');
    assert.match(last!.text, /^\[output truncated after \d+ bytes\]$/);
    console.log(`100 MB of output: ${lines} lines kept, peak RSS growth ${(peak / 1e6).toFixed(0)} MB`);
    assert.ok(peak < 200e6, `RSS grew by ${peak} bytes`);
  });

  test('a long line without newlines is cut', async () => {
    const r = await run(assignment('bash', "head -c 200000 /dev/zero | tr '\\0' y"));
    assert.deepEqual(r.lines.map((l) => l.text.length), [65536, 65536, 65536, 200000 - 3 * 65536]);
  });
});

describe('secret redaction', () => {
  const secret = 'p@ss w/rd+Sëcret!';
  const forms = {
    plain: secret,
    base64: Buffer.from(secret).toString('base64'),
    base64url: Buffer.from(secret).toString('base64url'),
    url: encodeURIComponent(secret),
    form: encodeURIComponent(secret).replace(/%20/g, '+'),
    hex: Buffer.from(secret).toString('hex'),
    HEX: Buffer.from(secret).toString('hex').toUpperCase(),
    basic: Buffer.from(`user:${secret}`).toString('base64'),
  };

  test('every form, in a task, with a value split across two writes', async () => {
    const lines = Object.entries(forms).map(([name, value]) => `print(${JSON.stringify(`${name}=${value}.`)})`);
    const split = `import sys, time\ns = ${JSON.stringify(secret)}\nsys.stdout.write('split=' + s[:5]); sys.stdout.flush(); time.sleep(0.1)\nsys.stdout.write(s[5:] + '.\\n')`;
    for (const warm of [true, false]) {
      const r = await run(assignment('python', `${lines.join('\n')}\n${split}`, { secrets: { PASSWORD: secret } }), { warm });
      const out = text(r).join('\n');
      for (const value of Object.values(forms)) assert.ok(!out.includes(value), `${value} leaked:\n${out}`);
      for (const name of [...Object.keys(forms).filter((n) => n !== 'basic'), 'split']) assert.ok(out.includes(`${name}=***.`), `${name} not masked:\n${out}`);
      assert.ok(!out.includes('Sëcret'));
    }
  });

  test('the stream redactor catches a secret cut at any point, and holds back only a possible start', () => {
    const variants = secretVariants(['topsecret', 'other']);
    const input = 'a topsecret b dG9wc2VjcmV0 c 746f70736563726574 d other e top';
    for (let cut = 0; cut <= input.length; cut++) {
      const r = new StreamRedactor(variants);
      const out = r.push(input.slice(0, cut)) + r.push(input.slice(cut)) + r.end();
      assert.equal(out, 'a *** b *** c *** d *** e top', `cut at ${cut}`);
    }
    const r = new StreamRedactor(variants);
    assert.equal(r.push('line one\nline two to'), 'line one\nline two ');
    assert.equal(r.end(), 'to');
  });

  test('multi-line secrets are masked line by line too', async () => {
    const key = '-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----';
    const r = await run(assignment('bash', 'printf "%s\\n" "$KEY"; echo AAAABBBBCCCC alone', { secrets: { KEY: key } }));
    assert.deepEqual(text(r), ['***', '*** alone']);
  });
});

describe('warm Python runner', () => {
  const programs: Record<string, string> = {
    success: "import json, os, sys\nprint('out')\nprint('err', file=sys.stderr)\njson.dump({'argv0': os.path.basename(sys.argv[0]), 'name': __name__, 'path0': sys.path[0] == os.getcwd()}, open(os.environ['DATAPLANE_OUTPUT'], 'w'))",
    traceback: "def f():\n    raise ValueError('bad value')\nprint('before')\nf()",
    syntax: 'print(1\n',
    exitMessage: "import sys\nsys.exit('fatal: no data')",
    exitNone: 'import sys\nsys.exit()',
    unclosedFile: "import os\nf = open(os.environ['DATAPLANE_OUTPUT'], 'w')\nf.write('[1, 2, 3]')",
    atexit: "import atexit\natexit.register(lambda: print('at exit'))\nprint('main')",
    thread: "import threading, time\ndef later():\n    time.sleep(0.1)\n    print('thread done')\nthreading.Thread(target=later).start()\nprint('main done')",
    partialWrite: "import sys\nsys.stdout.write('no newline')",
  };

  for (const [name, code] of Object.entries(programs)) {
    test(`same outcome and logs as cold: ${name}`, async () => {
      const cold = await run(assignment('python', code), { warm: false });
      const warm = await run(assignment('python', code), { warm: true });
      assert.equal(warm.warm, true);
      assert.deepEqual(warm.outcome, cold.outcome);
      // The attempt directory's name differs; stdout and stderr interleave as they like.
      const norm = (r: Result, s: string) => text(r, s).map((t) => t.replace(/\/[^"]*\/task\.py/, 'TASK'));
      for (const s of ['stdout', 'stderr', 'system']) assert.deepEqual(norm(warm, s), norm(cold, s), `${name} ${s}`);
    });
  }

  test('random numbers differ between tasks forked from the same runner', async () => {
    const code = "import random\nprint(random.random())";
    const a = await run(assignment('python', code));
    const b = await run(assignment('python', code));
    assert.equal(a.warm && b.warm, true);
    assert.notDeepEqual(text(a), text(b));
  });

  test('a secret named like a Python start-up variable makes the task run cold', async () => {
    const r = await run(assignment('python', "import os\nprint(os.environ['PYTHONDONTWRITEBYTECODE'])", { secrets: { PYTHONDONTWRITEBYTECODE: '1' } }));
    assert.equal(r.warm, false);
    assert.deepEqual(text(r), ['***']);
  });

  test('a runner killed under a task: the task fails, the next one gets a new runner', async () => {
    const r = await run(assignment('python', "import os, time\nos.kill(os.getppid(), 9)\ntime.sleep(0.1)\nprint('orphan')"));
    assert.equal(r.warm, true);
    assert.equal(r.outcome.state, 'failed');
    assert.match(r.outcome.error!, /warm Python runner died/);
    const next = await run(assignment('python', "print('fine')"));
    assert.equal(next.warm, true);
    assert.deepEqual(text(next), ['fine']);
  });

  test('concurrent tasks on one runner', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => run(assignment('python', `import time\ntime.sleep(0.2)\nprint(${i})`))));
    assert.deepEqual(results.map((r) => text(r)), [0, 1, 2, 3, 4, 5].map((i) => [String(i)]));
    assert.ok(results.every((r) => r.warm));
  });

  test('cold vs warm time per trivial task, 40 in a chain (printed, not asserted)', async () => {
    prewarm({});
    await run(assignment('python', 'pass'));
    const figures: Record<string, number> = {};
    for (const warm of [false, true, false, true]) {
      const t = performance.now();
      for (let i = 0; i < 40; i++) {
        const r = await run(assignment('python', "print('hi')"), { warm });
        assert.equal(r.outcome.state, 'succeeded');
      }
      const ms = (performance.now() - t) / 40;
      const key = warm ? 'warm' : 'cold';
      figures[key] = Math.min(figures[key] ?? Infinity, ms);
    }
    console.log(`python task, per attempt (best of 2 chains of 40): cold ${figures.cold.toFixed(1)} ms, warm ${figures.warm.toFixed(1)} ms; 40 warm in a chain: ${(figures.warm * 40).toFixed(0)} ms`);
  });
});
