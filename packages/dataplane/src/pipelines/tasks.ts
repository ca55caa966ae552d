import { realpathSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { RetryPolicy, TaskKind, TaskSpec, TaskWhen } from '../types.js';
import { parseDuration } from './duration.js';
import { didYouMean, type PipelineIssue } from './errors.js';
import { DEFAULT_RETRIES } from './retry.js';

/** A task as the schema lets it through: shapes checked, nothing resolved yet. */
export interface RawTask {
  run: TaskKind;
  code?: string;
  file?: string;
  needs?: string[];
  when?: TaskWhen;
  retries?: number | { count: number; backoff?: 'fixed' | 'exponential'; delay?: string; max_delay?: string };
  timeout?: string;
  secrets?: string[];
  group?: string;
}

export interface TaskContext {
  /** Where `file:` paths start; undefined refuses them (text from an API body has no directory). */
  baseDir: string | undefined;
  readFile: ((path: string) => string) | undefined;
  knownSecrets: string[] | undefined;
  knownGroups: string[] | undefined;
}

/** Collects issues under one task's path, so each check says only what is wrong. */
class Issues {
  readonly list: PipelineIssue[] = [];
  constructor(private readonly base: string) {}
  add(field: string, message: string): void {
    this.list.push({ path: field ? `${this.base}.${field}` : this.base, message });
  }
}

/** One task with defaults applied, durations in milliseconds and code read from its file. */
export function buildTask(id: string, raw: RawTask, ctx: TaskContext): { task: TaskSpec; issues: PipelineIssue[] } {
  const issues = new Issues(`tasks.${id}`);
  const task: TaskSpec = {
    id,
    run: raw.run,
    code: taskCode(raw, ctx, issues),
    ...(raw.file !== undefined ? { file: raw.file } : {}),
    needs: raw.needs ?? [],
    when: raw.when ?? 'success',
    retries: retryPolicy(raw.retries, issues),
    timeoutMs: raw.timeout === undefined ? null : duration(raw.timeout, 'timeout', issues, 1),
    secrets: raw.secrets ?? [],
    group: raw.group ?? 'default',
  };
  if (task.when === 'failure' && task.needs.length === 0) issues.add('when', "'failure' runs a task when one of its needs fails, but it has no needs");
  checkKnown(task, raw, ctx, issues);
  return { task, issues: issues.list };
}

function taskCode(raw: RawTask, ctx: TaskContext, issues: Issues): string {
  if (raw.code !== undefined && raw.file !== undefined) issues.add('', 'give either code or file, not both');
  else if (raw.code === undefined && raw.file === undefined) issues.add('', 'needs code (inline) or file (a path)');
  else if (raw.file !== undefined) return readTaskFile(raw.file, ctx, issues);
  else if (raw.code!.trim() === '') issues.add('code', 'is empty');
  return raw.code ?? '';
}

function readTaskFile(file: string, ctx: TaskContext, issues: Issues): string {
  if (ctx.baseDir === undefined) {
    issues.add('file', "cannot be read: the pipeline has no directory (give baseDir or filename, or inline the code)");
    return '';
  }
  const path = resolve(ctx.baseDir, file);
  if (isAbsolute(file) || !isInside(ctx.baseDir, path)) {
    issues.add('file', `'${file}' is outside the pipeline's directory; give a path inside it`);
    return '';
  }
  try {
    const code = (ctx.readFile ?? readInside(ctx.baseDir))(path);
    if (code.trim() === '') issues.add('file', `'${file}' is empty`);
    return code;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    issues.add('file', code === 'ENOENT' ? `'${file}' not found (looked for ${path})` : `'${file}' cannot be read: ${(err as Error).message}`);
    return '';
  }
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** The default reader also resolves symlinks, so a link inside the directory cannot lead out of it. */
function readInside(baseDir: string): (path: string) => string {
  return (path) => {
    const real = realpathSync(path);
    if (!isInside(realpathSync(baseDir), real)) throw new Error(`it links outside the pipeline's directory (to ${real})`);
    return readFileSync(real, 'utf8');
  };
}

/** Milliseconds, or `fallback` after recording why the text is not a duration of at least `min`. */
function duration(text: string, field: string, issues: Issues, min = 0, fallback = 0): number {
  try {
    const ms = parseDuration(text);
    if (ms >= min) return ms;
    issues.add(field, `must be more than 0 (got '${text}')`);
  } catch (err) {
    issues.add(field, (err as Error).message);
  }
  return fallback;
}

function retryPolicy(raw: RawTask['retries'], issues: Issues): RetryPolicy {
  if (raw === undefined) return { ...DEFAULT_RETRIES };
  if (typeof raw === 'number') return { ...DEFAULT_RETRIES, count: raw };
  const delayMs = raw.delay === undefined ? DEFAULT_RETRIES.delayMs : duration(raw.delay, 'retries.delay', issues);
  // Unstated, the cap never undercuts the delay: `delay: 1m` alone must not be cut to 30s.
  let maxDelayMs = Math.max(DEFAULT_RETRIES.maxDelayMs, delayMs);
  if (raw.max_delay !== undefined) {
    maxDelayMs = duration(raw.max_delay, 'retries.max_delay', issues, 0, maxDelayMs);
    if (maxDelayMs < delayMs) issues.add('retries.max_delay', `'${raw.max_delay}' is less than delay '${raw.delay ?? '1s'}'`);
  }
  return { count: raw.count, backoff: raw.backoff ?? DEFAULT_RETRIES.backoff, delayMs, maxDelayMs };
}

/** Secrets and groups against what the caller knows exists, when it says. */
function checkKnown(task: TaskSpec, raw: RawTask, ctx: TaskContext, issues: Issues): void {
  const { knownSecrets, knownGroups } = ctx;
  if (knownSecrets) {
    task.secrets.forEach((name, i) => {
      if (!knownSecrets.includes(name)) issues.add(`secrets[${i}]`, `unknown secret '${name}'${didYouMean(name, knownSecrets)}`);
    });
  }
  if (knownGroups && !knownGroups.includes(task.group)) {
    const implicit = raw.group === undefined ? ' (the group of tasks that name none)' : '';
    const known = knownGroups.length > 0 ? `; known: ${knownGroups.join(', ')}` : '; there are none';
    issues.add('group', `unknown worker group '${task.group}'${implicit}${didYouMean(task.group, knownGroups)}${known}`);
  }
}
