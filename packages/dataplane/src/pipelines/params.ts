import type { ParamSpec, ParamType, PipelineSpec } from '../types.js';
import { didYouMean, PipelineError, type PipelineIssue } from './errors.js';
import { describe } from './messages.js';

/** Whether a value (already parsed: JSON, YAML, or coerced from the CLI) is of a param type. */
export function isParamType(type: ParamType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
  }
}

const ARTICLE: Record<ParamType, string> = { string: 'a string', integer: 'an integer', number: 'a finite number', boolean: 'true or false', object: 'an object', array: 'an array' };

function wrongType(name: string, type: ParamType, value: unknown): PipelineIssue {
  // A CLI user writes objects and arrays as JSON; say so when their text did not parse as it.
  const json = typeof value === 'string' && (type === 'object' || type === 'array') ? ' written as JSON' : '';
  return { path: `params.${name}`, message: `must be ${ARTICLE[type]}${json} (got ${describe(value)})` };
}

/** The environment variable a param reaches a task as; two names must not share one. */
export function paramEnvName(name: string): string {
  return `DATAPLANE_PARAM_${name.toUpperCase()}`;
}

/** Checks on declared params the schema cannot make: defaults of the declared type, distinct variables. */
export function paramIssues(params: Record<string, ParamSpec>): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  const byEnv = new Map<string, string>();
  for (const [name, spec] of Object.entries(params)) {
    if ('default' in spec && !isParamType(spec.type, spec.default)) {
      issues.push({ path: `params.${name}.default`, message: wrongType(name, spec.type, spec.default).message });
    }
    const env = paramEnvName(name);
    const other = byEnv.get(env);
    if (other !== undefined) issues.push({ path: `params.${name}`, message: `params '${other}' and '${name}' would both be $${env}` });
    byEnv.set(env, name);
  }
  return issues;
}

/**
 * A run's params: the given values (checked, and coerced when they are strings from the CLI, as in
 * `--param n=5`) over the declared defaults, in declaration order. Throws a PipelineError listing
 * unknown params, values of the wrong type and required params not given.
 */
export function resolveParams(spec: PipelineSpec, given: Record<string, unknown | string>): Record<string, unknown> {
  const issues: PipelineIssue[] = [];
  const declared = Object.keys(spec.params);
  for (const name of Object.keys(given)) {
    if (name in spec.params) continue;
    const hint = declared.length === 0 ? `; pipeline '${spec.name}' takes no params` : didYouMean(name, declared);
    issues.push({ path: `params.${name}`, message: `unknown param '${name}'${hint}` });
  }
  const values: Record<string, unknown> = {};
  for (const [name, param] of Object.entries(spec.params)) {
    const raw = Object.hasOwn(given, name) ? given[name] : undefined;
    if (raw === undefined) {
      if ('default' in param) values[name] = structuredClone(param.default);
      else issues.push({ path: `params.${name}`, message: `required param '${name}' (${param.type}) was not given and has no default` });
      continue;
    }
    const value = typeof raw === 'string' ? coerce(param.type, raw) : raw;
    if (isParamType(param.type, value)) values[name] = value;
    else issues.push(wrongType(name, param.type, raw));
  }
  if (issues.length > 0) throw new PipelineError(issues, 'invalid params');
  return values;
}

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A CLI string as the param's type, or the string unchanged when it does not read as one (the type
 * check then refuses it). Only plain decimal forms count as numbers: Number() would also take
 * '', '0x10' and 'Infinity', which are more likely mistakes than intent.
 */
function coerce(type: ParamType, raw: string): unknown {
  const text = raw.trim();
  switch (type) {
    case 'string':
      return raw;
    case 'integer':
      return INTEGER.test(text) ? Number(text) : raw;
    case 'number':
      return NUMBER.test(text) ? Number(text) : raw;
    case 'boolean':
      return /^(true|false)$/i.test(text) ? text.toLowerCase() === 'true' : raw;
    case 'object':
    case 'array':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return raw;
      }
  }
}
