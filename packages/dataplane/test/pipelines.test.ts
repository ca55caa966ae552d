import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipeline, PipelineError, pipelineSchema, type ParseOptions, type PipelineIssue } from '../src/pipelines/index.js';

const EXAMPLE = `name: daily-etl
description: optional
params:                       # typed, with defaults; a run may override them
  n: {type: integer, default: 10}
tasks:
  extract:
    run: python               # python | bash | node
    code: |                   # or file: path/relative/to/the/pipeline/file
      import json, os
      json.dump({"rows": int(os.environ["DATAPLANE_PARAM_N"])}, open(os.environ["DATAPLANE_OUTPUT"], "w"))
  transform:
    run: bash
    needs: [extract]          # edges; fan-out and fan-in
    when: success             # success (default) | failure | always
    retries: {count: 2, backoff: exponential, delay: 1s, max_delay: 30s}   # (retries: 2 short form too)
    timeout: 30s
    secrets: [WAREHOUSE_TOKEN]
    group: default            # worker group (default 'default')
    code: echo "rows=$(jq .extract.rows "$DATAPLANE_INPUTS")"
concurrency: 1                # runs of this pipeline at once
`;

/** The issues a file is refused with; fails the test if it is accepted or refused otherwise. */
function issuesOf(text: string, options?: ParseOptions): PipelineIssue[] {
  try {
    parsePipeline(text, options);
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${err}`);
    assert.equal(err.code, 'InvalidPipeline');
    return err.issues;
  }
  assert.fail('expected the pipeline to be refused');
}

/** A one-task-per-line YAML pipeline: `tasks({a: '{run: bash, code: x}'})`. */
function yaml(tasks: Record<string, string>, extra = ''): string {
  return `name: p\ntasks:\n${Object.entries(tasks).map(([id, body]) => `  ${id}: ${body}\n`).join('')}${extra}`;
}

const ok = '{run: bash, code: x}';

test('the example parses to the expected spec', () => {
  assert.deepEqual(parsePipeline(EXAMPLE), {
    name: 'daily-etl',
    description: 'optional',
    params: { n: { type: 'integer', default: 10 } },
    tasks: [
      {
        id: 'extract',
        run: 'python',
        code: 'import json, os\njson.dump({"rows": int(os.environ["DATAPLANE_PARAM_N"])}, open(os.environ["DATAPLANE_OUTPUT"], "w"))\n',
        needs: [],
        when: 'success',
        retries: { count: 0, backoff: 'exponential', delayMs: 1000, maxDelayMs: 30000 },
        timeoutMs: null,
        secrets: [],
        group: 'default',
      },
      {
        id: 'transform',
        run: 'bash',
        code: 'echo "rows=$(jq .extract.rows "$DATAPLANE_INPUTS")"',
        needs: ['extract'],
        when: 'success',
        retries: { count: 2, backoff: 'exponential', delayMs: 1000, maxDelayMs: 30000 },
        timeoutMs: 30000,
        secrets: ['WAREHOUSE_TOKEN'],
        group: 'default',
      },
    ],
    concurrency: 1,
  });
});

test('JSON parses to the same spec as YAML', () => {
  const json = JSON.stringify({
    name: 'daily-etl',
    description: 'optional',
    params: { n: { type: 'integer', default: 10 } },
    tasks: {
      extract: { run: 'python', code: parsePipeline(EXAMPLE).tasks[0]!.code },
      transform: {
        run: 'bash',
        needs: ['extract'],
        when: 'success',
        retries: { count: 2, backoff: 'exponential', delay: '1s', max_delay: '30s' },
        timeout: '30s',
        secrets: ['WAREHOUSE_TOKEN'],
        group: 'default',
        code: 'echo "rows=$(jq .extract.rows "$DATAPLANE_INPUTS")"',
      },
    },
    concurrency: 1,
  }, null, '\t');
  assert.deepEqual(parsePipeline(json, { filename: 'p.json' }), parsePipeline(EXAMPLE));
});

test('defaults: optional fields absent, concurrency null, retries short form', () => {
  const spec = parsePipeline(yaml({ a: '{run: node, code: x, retries: 3}' }));
  assert.deepEqual(spec, {
    name: 'p',
    params: {},
    tasks: [{ id: 'a', run: 'node', code: 'x', needs: [], when: 'success', retries: { count: 3, backoff: 'exponential', delayMs: 1000, maxDelayMs: 30000 }, timeoutMs: null, secrets: [], group: 'default' }],
    concurrency: null,
  });
});

test('retries: an unstated max_delay never undercuts the delay; fixed backoff', () => {
  const spec = parsePipeline(yaml({ a: '{run: bash, code: x, retries: {count: 1, backoff: fixed, delay: 1m}}' }));
  assert.deepEqual(spec.tasks[0]!.retries, { count: 1, backoff: 'fixed', delayMs: 60000, maxDelayMs: 60000 });
});

test('tasks come out in topological order, ties by declaration order', () => {
  // Fan-out from a to b, c; fan-in at d; z depends on nothing but is declared first.
  const spec = parsePipeline(yaml({
    d: '{run: bash, code: x, needs: [c, b]}',
    c: '{run: bash, code: x, needs: [a]}',
    z: ok,
    b: '{run: bash, code: x, needs: [a]}',
    a: ok,
    e: '{run: bash, code: x, needs: [z]}',
  }));
  assert.deepEqual(spec.tasks.map((t) => t.id), ['z', 'a', 'c', 'b', 'd', 'e']);
});

test('schema errors read as messages with paths', () => {
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x}' }, 'extra: 1\n')), [
    { path: 'extra', message: "unknown field 'extra'; expected one of name, description, params, tasks, concurrency" },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: '{runn: bash, code: x}' })), [
    { path: 'tasks.a.run', message: "required field 'run' is missing" },
    { path: 'tasks.a.runn', message: "unknown field 'runn' (did you mean 'run'?); expected one of run, code, file, needs, when, retries, timeout, secrets, group" },
  ]);
  assert.deepEqual(issuesOf('tasks:\n  a: {run: bash, code: x}\n'), [{ path: 'name', message: "required field 'name' is missing" }]);
  assert.deepEqual(issuesOf('name: p\ntasks: {}\n'), [{ path: 'tasks', message: 'a pipeline needs at least one task' }]);
  assert.deepEqual(issuesOf(yaml({ a: ok }, 'concurrency: 0\n')), [{ path: 'concurrency', message: 'must be at least 1 (got 0)' }]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, needs: extract}' })), [{ path: 'tasks.a.needs', message: "must be an array (got 'extract')" }]);
  assert.deepEqual(issuesOf('- 1\n'), [{ path: '', message: 'a pipeline file must be a mapping with name and tasks (got a list)' }]);
});

test('every issue is reported at once, never a partial result', () => {
  const issues = issuesOf(yaml({ a: '{run: ruby, code: x}', b: '{run: bash, code: x, timeout: 1x}' }, 'concurrency: -1\n'));
  assert.deepEqual(issues.map((i) => i.path), ['tasks.a.run', 'tasks.b.timeout', 'concurrency']);
});

test('task ids must be identifier-like', () => {
  assert.deepEqual(issuesOf(yaml({ '1st': ok, 'a.b': ok, _ok: ok, 'x-y': ok, __proto__x: ok })), [
    { path: 'tasks.1st', message: "task id '1st' must start with a letter or _ and contain only letters, digits, _ and -" },
    { path: 'tasks.a.b', message: "task id 'a.b' must start with a letter or _ and contain only letters, digits, _ and -" },
  ]);
  // Ids become object keys downstream, where this one would set a prototype.
  assert.deepEqual(issuesOf(yaml({ ['__proto__']: ok }, 'params:\n  __proto__: {type: string}\n')), [
    { path: 'params.__proto__', message: "param name '__proto__' is reserved" },
    { path: 'tasks.__proto__', message: "task id '__proto__' is reserved" },
  ]);
});

test('duplicate task ids are refused, in YAML and in JSON', () => {
  assert.deepEqual(issuesOf(yaml({ extract: ok, load: ok }) + '  extract: {run: node, code: y}\n'), [
    { path: 'tasks.extract', message: "duplicate task id 'extract' (line 5, column 3)" },
  ]);
  assert.deepEqual(issuesOf('{"name": "p", "tasks": {"a": {"run": "bash", "code": "x"},\n "a": {"run": "bash", "code": "y"}}}'), [
    { path: 'tasks.a', message: "duplicate task id 'a' (line 2, column 2)" },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, code: y}' })), [
    { path: 'tasks.a.code', message: "duplicate key 'code' (line 3, column 27)" },
  ]);
});

test('syntax errors name the line', () => {
  const [issue, ...rest] = issuesOf('name: p\ntasks:\n  a: {run: bash, code: x\n');
  assert.equal(rest.length, 0);
  assert.equal(issue!.path, '');
  assert.match(issue!.message, /^line \d+, column \d+: /);
  assert.deepEqual(issuesOf('   \n'), [{ path: '', message: 'the file is empty' }]);
  assert.deepEqual(issuesOf('name: p\n---\nname: q\n'), [{ path: '', message: "line 2, column 1: a pipeline file holds one document; remove the '---' separator" }]);
});

test('unknown needs, with a suggestion', () => {
  assert.deepEqual(issuesOf(yaml({ extract: ok, transform: '{run: bash, code: x, needs: [extrct, zzz]}' })), [
    { path: 'tasks.transform.needs[0]', message: "unknown task 'extrct' (did you mean 'extract'?)" },
    { path: 'tasks.transform.needs[1]', message: "unknown task 'zzz'" },
  ]);
});

test('self-dependency and duplicate needs', () => {
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, needs: [a]}' })), [{ path: 'tasks.a.needs[0]', message: "task 'a' cannot need itself" }]);
  assert.deepEqual(issuesOf(yaml({ a: ok, b: '{run: bash, code: x, needs: [a, a]}' })), [{ path: 'tasks.b.needs[1]', message: "'a' is listed twice (also at [0])" }]);
});

test('cycles are reported once each, with their path', () => {
  const issues = issuesOf(yaml({
    a: '{run: bash, code: x, needs: [c]}',
    b: '{run: bash, code: x, needs: [a]}',
    c: '{run: bash, code: x, needs: [b]}',
    below: '{run: bash, code: x, needs: [c]}',
    e: '{run: bash, code: x, needs: [f]}',
    f: '{run: bash, code: x, needs: [ok, e]}',
    ok: ok,
  }));
  assert.deepEqual(issues, [
    { path: 'tasks.a.needs[0]', message: 'dependency cycle a → c → b → a (each task needs the next)' },
    { path: 'tasks.e.needs[0]', message: 'dependency cycle e → f → e (each task needs the next)' },
  ]);
});

test('unknown run types and when values', () => {
  assert.deepEqual(issuesOf(yaml({ a: '{run: pyhton, code: x, when: sometimes}' })), [
    { path: 'tasks.a.run', message: "unknown run type 'pyhton' (did you mean 'python'?); expected python, bash, node" },
    { path: 'tasks.a.when', message: "unknown value 'sometimes'; expected success, failure, always" },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, when: failure}' })), [
    { path: 'tasks.a.when', message: "'failure' runs a task when one of its needs fails, but it has no needs" },
  ]);
});

test('durations: units, combos, and refusals', () => {
  const timeout = (t: string) => parsePipeline(yaml({ a: `{run: bash, code: x, timeout: ${t}}` })).tasks[0]!.timeoutMs;
  assert.equal(timeout('250ms'), 250);
  assert.equal(timeout('1m30s'), 90000);
  assert.equal(timeout('1d2h'), 93_600_000);
  assert.equal(timeout('1.5h'), 5_400_000);
  const issue = (t: string) => issuesOf(yaml({ a: `{run: bash, code: x, timeout: '${t}'}` }));
  assert.deepEqual(issue('-5s'), [{ path: 'tasks.a.timeout', message: "'-5s' is negative; durations cannot be" }]);
  assert.deepEqual(issue('soon'), [{ path: 'tasks.a.timeout', message: "'soon' is not a duration (at 'soon'); write a number and a unit (ms, s, m, h, d), e.g. 500ms, 30s, 1m30s, 2h" }]);
  assert.deepEqual(issue('30s1m'), [{ path: 'tasks.a.timeout', message: "'30s1m' repeats or misorders units; write the largest first, each once (e.g. 1h30m)" }]);
  assert.deepEqual(issue('0s'), [{ path: 'tasks.a.timeout', message: "must be more than 0 (got '0s')" }]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, timeout: 30}' })), [
    { path: 'tasks.a.timeout', message: "a duration needs a unit: write '30s' or '30ms', not 30" },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, retries: {count: 1, delay: 10s, max_delay: 5s}}' })), [
    { path: 'tasks.a.retries.max_delay', message: "'5s' is less than delay '10s'" },
  ]);
});

test('retries: count range, shape, unknown fields', () => {
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, retries: 101}' })), [{ path: 'tasks.a.retries', message: 'must be at most 100 (got 101)' }]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, retries: {count: -1, backof: fixed}}' })), [
    { path: 'tasks.a.retries.backof', message: "unknown field 'backof' (did you mean 'backoff'?); expected one of count, backoff, delay, max_delay" },
    { path: 'tasks.a.retries.count', message: 'must be at least 0 (got -1)' },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, retries: lots}' })), [{ path: 'tasks.a.retries', message: "must be an integer or an object (got 'lots')" }]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, retries: 1.5}' })), [{ path: 'tasks.a.retries', message: 'must be an integer or an object (got 1.5)' }]);
});

test('secrets and groups: checked against known lists only when given', () => {
  const text = yaml({ a: '{run: bash, code: x, secrets: [WAREHOUSE_TOKN], group: gpu}', b: ok });
  assert.equal(parsePipeline(text).tasks[0]!.group, 'gpu');
  assert.deepEqual(issuesOf(text, { knownSecrets: ['WAREHOUSE_TOKEN'], knownGroups: ['default', 'gpus'] }), [
    { path: 'tasks.a.secrets[0]', message: "unknown secret 'WAREHOUSE_TOKN' (did you mean 'WAREHOUSE_TOKEN'?)" },
    { path: 'tasks.a.group', message: "unknown worker group 'gpu' (did you mean 'gpus'?); known: default, gpus" },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: ok }), { knownGroups: ['etl'] }), [
    { path: 'tasks.a.group', message: "unknown worker group 'default' (the group of tasks that name none); known: etl" },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, secrets: [a-b]}' })), [
    { path: 'tasks.a.secrets[0]', message: "secret name 'a-b' must be usable as an environment variable: letters, digits and _, not starting with a digit" },
  ]);
});

test('params: defaults must have their type; names must be distinct variables', () => {
  const params = 'params:\n  n: {type: integer, default: 1.5}\n  N: {type: string}\n  o: {type: object, default: [1]}\n  f: {type: float}\n';
  assert.deepEqual(issuesOf(yaml({ a: ok }, params)), [{ path: 'params.f.type', message: "unknown value 'float'; expected string, integer, number, boolean, object, array" }]);
  assert.deepEqual(issuesOf(yaml({ a: ok }, params.replace('  f: {type: float}\n', ''))), [
    { path: 'params.n.default', message: 'must be an integer (got 1.5)' },
    { path: 'params.N', message: "params 'n' and 'N' would both be $DATAPLANE_PARAM_N" },
    { path: 'params.o.default', message: 'must be an object (got a list)' },
  ]);
  assert.deepEqual(issuesOf(yaml({ a: ok }, 'params:\n  my-param: {type: string}\n')), [
    { path: 'params.my-param', message: "param name 'my-param' must be usable as an environment variable: letters, digits and _, not starting with a digit" },
  ]);
});

test('code and file: exactly one, never empty', () => {
  assert.deepEqual(issuesOf(yaml({ a: '{run: bash, code: x, file: x.sh}', b: '{run: bash}', c: "{run: bash, code: '  '}" }), { baseDir: '/nowhere' }), [
    { path: 'tasks.a', message: 'give either code or file, not both' },
    { path: 'tasks.b', message: 'needs code (inline) or file (a path)' },
    { path: 'tasks.c.code', message: 'is empty' },
  ]);
});

test('file: read relative to the pipeline, never outside it', () => {
  const root = mkdtempSync(join(tmpdir(), 'dataplane-pipelines-'));
  const dir = join(root, 'etl');
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  writeFileSync(join(dir, 'scripts', 'extract.py'), 'print(1)\n');
  writeFileSync(join(root, 'secret.txt'), 'no\n');
  symlinkSync(join(root, 'secret.txt'), join(dir, 'link.txt'));
  const filename = join(dir, 'pipeline.yaml');
  const spec = parsePipeline(yaml({ a: '{run: python, file: scripts/extract.py}' }), { filename });
  assert.deepEqual([spec.tasks[0]!.code, spec.tasks[0]!.file], ['print(1)\n', 'scripts/extract.py']);
  const refused = issuesOf(yaml({
    up: '{run: bash, file: ../secret.txt}',
    sneaky: '{run: bash, file: scripts/../../secret.txt}',
    absolute: `{run: bash, file: '${join(root, 'secret.txt')}'}`,
    missing: '{run: bash, file: scripts/nope.py}',
    link: '{run: bash, file: link.txt}',
  }), { filename });
  assert.deepEqual(refused.slice(0, 4), [
    { path: 'tasks.up.file', message: "'../secret.txt' is outside the pipeline's directory; give a path inside it" },
    { path: 'tasks.sneaky.file', message: "'scripts/../../secret.txt' is outside the pipeline's directory; give a path inside it" },
    { path: 'tasks.absolute.file', message: `'${join(root, 'secret.txt')}' is outside the pipeline's directory; give a path inside it` },
    { path: 'tasks.missing.file', message: `'scripts/nope.py' not found (looked for ${join(dir, 'scripts', 'nope.py')})` },
  ]);
  assert.equal(refused[4]!.path, 'tasks.link.file');
  assert.match(refused[4]!.message, /^'link.txt' cannot be read: it links outside the pipeline's directory/);
});

test('file: a custom reader and baseDir; refused with no directory at all', () => {
  const read: string[] = [];
  const spec = parsePipeline(yaml({ a: '{run: node, file: a.js}' }), { baseDir: '/srv/p', readFile: (p) => (read.push(p), 'console.log(1)') });
  assert.equal(spec.tasks[0]!.code, 'console.log(1)');
  assert.deepEqual(read, ['/srv/p/a.js']);
  assert.deepEqual(issuesOf(yaml({ a: '{run: node, file: a.js}' })), [
    { path: 'tasks.a.file', message: 'cannot be read: the pipeline has no directory (give baseDir or filename, or inline the code)' },
  ]);
});

test('the error message lists every issue, and names the file', () => {
  try {
    parsePipeline(yaml({ a: '{run: bash, code: x, needs: [b]}' }), { filename: 'etl.yaml', baseDir: '/x' });
    assert.fail('expected a refusal');
  } catch (err) {
    assert.equal((err as Error).message, "invalid pipeline etl.yaml:\n  tasks.a.needs[0]: unknown task 'b'");
  }
});

test('the schema is plain JSON, ready for /openapi.json', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(pipelineSchema)), pipelineSchema);
  assert.deepEqual(pipelineSchema.required, ['name', 'tasks']);
});
