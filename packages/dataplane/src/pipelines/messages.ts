import type { ErrorObject } from 'ajv';
import { DURATION_PATTERN, ENV_NAME_PATTERN, NAME_PATTERN, TASK_ID_PATTERN } from './schema.js';
import { parseDuration } from './duration.js';
import { didYouMean, joinPath, type PipelineIssue } from './errors.js';

/**
 * Ajv's errors, said the way a person editing the file needs them: where (a dotted path, from the
 * file's own keys) and what to change. Expects errors from a validator built with `verbose: true`
 * (for each error's data and schema) and `allErrors: true`.
 */
export function schemaIssues(errors: ErrorObject[], root: unknown): PipelineIssue[] {
  return pruneAlternatives(errors)
    .filter((e) => !e.schemaPath.includes('/propertyNames/'))
    .map((e) => issueFor(e, root));
}

/**
 * anyOf reports every branch's failure; only the branch the value was meant for (the one of its
 * type) says anything useful. When no branch has the value's type, the anyOf error alone stays.
 */
function pruneAlternatives(errors: ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  for (const anyOf of errors.filter((e) => e.keyword === 'anyOf')) {
    const branches = anyOf.schema as { type?: string }[];
    const chosen = branches.findIndex((b) => b.type !== undefined && typeMatches(b.type, anyOf.data));
    const prefix = `${anyOf.schemaPath}/`;
    // The same schema path recurs for every task: its branches' errors are also under its value.
    const under = (e: ErrorObject) => e.instancePath === anyOf.instancePath || e.instancePath.startsWith(`${anyOf.instancePath}/`);
    for (const e of errors) {
      if (under(e) && e.schemaPath.startsWith(prefix) && !e.schemaPath.startsWith(`${prefix}${chosen}/`)) dropped.add(e);
    }
    if (chosen >= 0) dropped.add(anyOf);
  }
  return errors.filter((e) => !dropped.has(e));
}

function issueFor(e: ErrorObject, root: unknown): PipelineIssue {
  const path = pointerToPath(e.instancePath, root);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: joinPath(path, String(p.missingProperty)), message: `required field '${p.missingProperty}' is missing` };
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      const field = String(p.additionalProperty);
      return { path: joinPath(path, field), message: `unknown field '${field}'${didYouMean(field, known)}; expected one of ${known.join(', ')}` };
    }
    case 'propertyNames':
      return { path: joinPath(path, String(p.propertyName)), message: nameMessage(String(p.propertyName), (e.schema as { pattern: string }).pattern, `${e.instancePath}/`) };
    case 'uniqueItems': {
      // Which of i and j is the later copy depends on ajv's algorithm for the item type: point at the later one.
      const [first, again] = [Math.min(Number(p.i), Number(p.j)), Math.max(Number(p.i), Number(p.j))];
      return { path: joinPath(path, again), message: `${describe((e.data as unknown[])[again])} is listed twice (also at [${first}])` };
    }
    default:
      return { path, message: valueMessage(e) };
  }
}

/** Messages about a value itself (its type, its range, its pattern). */
function valueMessage(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const isDuration = (e.parentSchema as { pattern?: string } | undefined)?.pattern === DURATION_PATTERN;
  switch (e.keyword) {
    case 'type':
      if (e.instancePath === '') return `a pipeline file must be a mapping with name and tasks (got ${describe(e.data)})`;
      if (isDuration && typeof e.data === 'number') return `a duration needs a unit: write '${e.data}s' or '${e.data}ms', not ${e.data}`;
      return `must be ${typeWords(p.type)} (got ${describe(e.data)})`;
    case 'anyOf':
      return `must be ${typeWords((e.schema as { type: string }[]).map((b) => b.type))} (got ${describe(e.data)})`;
    case 'enum': {
      const allowed = (e.schema as unknown[]).map(String);
      const noun = e.instancePath.endsWith('/run') ? 'run type' : 'value';
      return `unknown ${noun} ${describe(e.data)}${didYouMean(String(e.data), allowed)}; expected ${allowed.join(', ')}`;
    }
    case 'pattern':
      if (isDuration) return durationMessage(String(e.data));
      return nameMessage(String(e.data), String(e.schema), e.instancePath);
    case 'minimum':
      return `must be at least ${p.limit} (got ${describe(e.data)})`;
    case 'maximum':
      return `must be at most ${p.limit} (got ${describe(e.data)})`;
    case 'minProperties':
      return e.instancePath === '/tasks' ? 'a pipeline needs at least one task' : `must have at least ${p.limit} entries`;
    case 'minLength':
      return 'must not be empty';
    case 'maxLength':
      return `must be at most ${p.limit} characters long`;
    default:
      return e.message ?? 'is invalid';
  }
}

function durationMessage(text: string): string {
  try {
    parseDuration(text);
    return `'${text}' is not a duration`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Why a name was refused, in words rather than a regular expression. */
function nameMessage(name: string, pattern: string, pointer: string): string {
  const what = nameKind(pointer);
  if (name === '__proto__') return `${what} '__proto__' is reserved`;
  if (pattern === TASK_ID_PATTERN) return `${what} '${name}' must start with a letter or _ and contain only letters, digits, _ and -`;
  if (pattern === ENV_NAME_PATTERN) return `${what} '${name}' must be usable as an environment variable: letters, digits and _, not starting with a digit`;
  if (pattern === NAME_PATTERN) return `${what} '${name}' must start with a letter, digit or _ and contain only letters, digits, _, . and -`;
  return `${what} '${name}' must match ${pattern}`;
}

/** What kind of name sits at a pointer (for a propertyNames error, the map's pointer plus '/'). */
function nameKind(pointer: string): string {
  if (pointer === '/tasks/') return 'task id';
  if (pointer === '/params/') return 'param name';
  if (pointer === '/name') return 'pipeline name';
  if (pointer.endsWith('/group')) return 'worker group';
  if (/\/secrets\/\d+$/.test(pointer)) return 'secret name';
  return 'name';
}

/** `/tasks/a/needs/0` → `tasks.a.needs[0]`: indexes only where the data is an array. */
export function pointerToPath(pointer: string, root: unknown): string {
  let path = '';
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const isIndex = Array.isArray(node);
    path = joinPath(path, isIndex ? Number(key) : key);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return path;
}

function typeMatches(type: string, data: unknown): boolean {
  if (type === 'integer') return Number.isInteger(data);
  if (type === 'array') return Array.isArray(data);
  if (type === 'object') return data !== null && typeof data === 'object' && !Array.isArray(data);
  if (type === 'null') return data === null;
  return typeof data === type;
}

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type.map(String) : String(type).split(',');
  const words = types.map((t) => (t === 'null' ? 'null' : `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`));
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0]!;
}

/** A short, quoted rendering of a bad value for a message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = typeof value === 'string' ? value : String(value);
  const short = text.length > 40 ? `${text.slice(0, 37)}...` : text;
  return typeof value === 'string' ? `'${short}'` : short;
}
