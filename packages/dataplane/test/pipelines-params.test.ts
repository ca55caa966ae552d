import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipeline, PipelineError, resolveParams, type PipelineIssue } from '../src/pipelines/index.js';

const spec = parsePipeline(`name: p
params:
  n: {type: integer, default: 10}
  ratio: {type: number, default: 0.5}
  dry: {type: boolean, default: false}
  label: {type: string}
  opts: {type: object, default: {a: 1}}
  days: {type: array, default: []}
tasks:
  a: {run: bash, code: x}
`);

function refused(given: Record<string, unknown>): PipelineIssue[] {
  try {
    resolveParams(spec, given);
  } catch (err) {
    assert.ok(err instanceof PipelineError);
    assert.equal(err.code, 'InvalidPipeline');
    return err.issues;
  }
  assert.fail('expected the params to be refused');
}

test('defaults apply, in declaration order, and are copies', () => {
  const params = resolveParams(spec, { label: 'x' });
  assert.deepEqual(params, { n: 10, ratio: 0.5, dry: false, label: 'x', opts: { a: 1 }, days: [] });
  assert.deepEqual(Object.keys(params), ['n', 'ratio', 'dry', 'label', 'opts', 'days']);
  (params.opts as { a: number }).a = 2;
  assert.deepEqual(resolveParams(spec, { label: 'x' }).opts, { a: 1 });
});

test('CLI strings are coerced to the declared types', () => {
  assert.deepEqual(resolveParams(spec, { n: '5', ratio: '1e-3', dry: 'true', label: '42', opts: '{"b": [1]}', days: '["mon"]' }), {
    n: 5, ratio: 0.001, dry: true, label: '42', opts: { b: [1] }, days: ['mon'],
  });
  assert.equal(resolveParams(spec, { label: 'x', dry: 'FALSE' }).dry, false);
  assert.equal(resolveParams(spec, { label: ' padded ' }).label, ' padded ');
});

test('typed values (from the API) pass through when of the right type', () => {
  assert.deepEqual(resolveParams(spec, { n: 7, ratio: 2, dry: true, label: '', opts: {}, days: [1, 2] }), {
    n: 7, ratio: 2, dry: true, label: '', opts: {}, days: [1, 2],
  });
});

test('wrong types are refused with the param path', () => {
  assert.deepEqual(refused({ label: 'x', n: '5.5' }), [{ path: 'params.n', message: "must be an integer (got '5.5')" }]);
  assert.deepEqual(refused({ label: 'x', n: 1.5 }), [{ path: 'params.n', message: 'must be an integer (got 1.5)' }]);
  assert.deepEqual(refused({ label: 'x', ratio: '0x10' }), [{ path: 'params.ratio', message: "must be a finite number (got '0x10')" }]);
  assert.deepEqual(refused({ label: 'x', ratio: '' }), [{ path: 'params.ratio', message: "must be a finite number (got '')" }]);
  assert.deepEqual(refused({ label: 'x', dry: 'yes' }), [{ path: 'params.dry', message: "must be true or false (got 'yes')" }]);
  assert.deepEqual(refused({ label: 5 }), [{ path: 'params.label', message: 'must be a string (got 5)' }]);
  assert.deepEqual(refused({ label: 'x', opts: '{a: 1}' }), [{ path: 'params.opts', message: "must be an object written as JSON (got '{a: 1}')" }]);
  assert.deepEqual(refused({ label: 'x', opts: '[1]', days: '{}' }), [
    { path: 'params.opts', message: "must be an object written as JSON (got '[1]')" },
    { path: 'params.days', message: "must be an array written as JSON (got '{}')" },
  ]);
  assert.deepEqual(refused({ label: 'x', n: '99999999999999999999' }), [{ path: 'params.n', message: "must be an integer (got '99999999999999999999')" }]);
});

test('unknown and missing params are refused, all at once', () => {
  assert.deepEqual(refused({ nn: '1', zzz: 'x' }), [
    { path: 'params.nn', message: "unknown param 'nn' (did you mean 'n'?)" },
    { path: 'params.zzz', message: "unknown param 'zzz'" },
    { path: 'params.label', message: "required param 'label' (string) was not given and has no default" },
  ]);
  const bare = parsePipeline('name: bare\ntasks:\n  a: {run: bash, code: x}\n');
  assert.deepEqual(resolveParams(bare, {}), {});
  assert.throws(() => resolveParams(bare, { n: '1' }), (err: PipelineError) => {
    assert.deepEqual(err.issues, [{ path: 'params.n', message: "unknown param 'n'; pipeline 'bare' takes no params" }]);
    return true;
  });
});

test('an undefined value counts as not given', () => {
  assert.equal(resolveParams(spec, { label: 'x', n: undefined }).n, 10);
});
