import { dirname, resolve } from 'node:path';
import AjvModule, { type ValidateFunction } from 'ajv';
import type { ParamSpec, PipelineSpec, TaskSpec } from '../types.js';
import { cycleIssues, edgeIssues, topologicalOrder } from './dag.js';
import { PipelineError, type PipelineIssue } from './errors.js';
import { schemaIssues } from './messages.js';
import { paramIssues } from './params.js';
import { pipelineSchema } from './schema.js';
import { readSource } from './source.js';
import { buildTask, type RawTask, type TaskContext } from './tasks.js';

export interface ParseOptions {
  /** Named in the error message; its directory is the default baseDir. */
  filename?: string;
  /** Where `file:` paths start and must stay inside. Without it (or filename), `file:` is refused. */
  baseDir?: string;
  /** Reads a task's file by absolute path; by default from disk, refusing symlinks that lead out of baseDir. */
  readFile?: (path: string) => string;
  /** When given, tasks may only name these secrets. */
  knownSecrets?: string[];
  /** When given, every task's group (including the implicit 'default') must be one of these. */
  knownGroups?: string[];
}

/** The file as the schema lets it through. */
interface RawPipeline {
  name: string;
  description?: string;
  params?: Record<string, ParamSpec>;
  tasks: Record<string, RawTask>;
  concurrency?: number | null;
}

// ajv is CommonJS; under NodeNext its default export arrives as the module object.
const Ajv = AjvModule.default;
let validator: ValidateFunction | undefined;

/** Compiled on first use: compiling costs more than most parses, and most imports never parse. */
function validate(data: unknown): PipelineIssue[] {
  validator ??= new Ajv({ strict: true, allErrors: true, verbose: true, allowUnionTypes: true }).compile(pipelineSchema);
  return validator(data) ? [] : schemaIssues(validator.errors ?? [], data);
}

/**
 * A pipeline file (YAML or JSON) as a validated PipelineSpec with tasks in topological order, or a
 * PipelineError with every issue found. Checks run in stages — syntax, schema, then meaning — since
 * each stage needs the previous one's shapes to say anything sensible.
 */
export function parsePipeline(text: string, options: ParseOptions = {}): PipelineSpec {
  const fail = (issues: PipelineIssue[]) => new PipelineError(issues, `invalid pipeline${options.filename ? ` ${options.filename}` : ''}`);
  const { data, issues: syntax } = readSource(text);
  if (syntax.length > 0) throw fail(syntax);
  const shape = validate(data);
  if (shape.length > 0) throw fail(shape);
  const raw = data as RawPipeline;
  const { tasks, issues } = buildTasks(raw, context(options));
  issues.push(...paramIssues(raw.params ?? {}));
  if (issues.length > 0) throw fail(issues);
  return {
    name: raw.name,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    params: raw.params ?? {},
    tasks,
    concurrency: raw.concurrency ?? null,
  };
}

function context(options: ParseOptions): TaskContext {
  const baseDir = options.baseDir ?? (options.filename !== undefined ? dirname(resolve(options.filename)) : undefined);
  return { baseDir: baseDir && resolve(baseDir), readFile: options.readFile, knownSecrets: options.knownSecrets, knownGroups: options.knownGroups };
}

/** Every task built and checked, then the graph: tasks come back in topological order. */
function buildTasks(raw: RawPipeline, ctx: TaskContext): { tasks: TaskSpec[]; issues: PipelineIssue[] } {
  const issues: PipelineIssue[] = [];
  const built = Object.entries(raw.tasks).map(([id, task]) => {
    const result = buildTask(id, task, ctx);
    issues.push(...result.issues);
    return result.task;
  });
  issues.push(...edgeIssues(built));
  const { order, cycles } = topologicalOrder(built);
  issues.push(...cycleIssues(built, cycles));
  const byId = new Map(built.map((t) => [t.id, t]));
  return { tasks: order.map((id) => byId.get(id)!), issues };
}
