import { didYouMean, type PipelineIssue } from './errors.js';

/** What the graph checks need of a task: its id and its edges. */
export interface DagNode {
  id: string;
  needs: string[];
}

/** Edges that point nowhere: unknown task ids and a task needing itself. */
export function edgeIssues(tasks: DagNode[]): PipelineIssue[] {
  const ids = new Set(tasks.map((t) => t.id));
  const issues: PipelineIssue[] = [];
  for (const task of tasks) {
    task.needs.forEach((need, i) => {
      const path = `tasks.${task.id}.needs[${i}]`;
      if (need === task.id) issues.push({ path, message: `task '${task.id}' cannot need itself` });
      else if (!ids.has(need)) issues.push({ path, message: `unknown task '${need}'${didYouMean(need, ids)}` });
    });
  }
  return issues;
}

/**
 * Kahn's algorithm: each step takes, of the tasks whose needs have all been taken, the one declared
 * first — so the order is deterministic and as close to the file's as the edges allow. Edges that
 * edgeIssues reports are ignored here, so one mistake is not also reported as a cycle. Tasks left
 * over sit on or below cycles; `cycles` holds each cycle once, following `needs`.
 */
export function topologicalOrder(tasks: DagNode[]): { order: string[]; cycles: string[][] } {
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const needs = tasks.map((t) => [...new Set(t.needs)].filter((n) => n !== t.id && index.has(n)));
  const dependents = tasks.map((): number[] => []);
  needs.forEach((list, i) => list.forEach((n) => dependents[index.get(n)!]!.push(i)));
  const waiting = needs.map((list) => list.length);
  const ready = waiting.flatMap((w, i) => (w === 0 ? [i] : []));
  const order: string[] = [];
  while (ready.length > 0) {
    const i = ready.shift()!;
    order.push(tasks[i]!.id);
    for (const d of dependents[i]!) if (--waiting[d]! === 0) insertSorted(ready, d);
  }
  const left = waiting.flatMap((w, i) => (w > 0 ? [i] : []));
  return { order, cycles: findCycles(tasks, needs, left, index) };
}

function insertSorted(list: number[], value: number): void {
  const at = list.findIndex((x) => x > value);
  list.splice(at < 0 ? list.length : at, 0, value);
}

/**
 * Every left-over task has a need among the left-over ones (else Kahn would have taken it), so
 * walking first needs from any of them must come back to a task already walked: a cycle. Walks that
 * reach a cycle already found stop, which reports each cycle once and not tasks merely below one.
 */
function findCycles(tasks: DagNode[], needs: string[][], left: number[], index: Map<string, number>): string[][] {
  const leftSet = new Set(left);
  const reported = new Set<number>();
  const cycles: string[][] = [];
  for (const start of left) {
    const walk: number[] = [];
    let at = start;
    while (!reported.has(at) && !walk.includes(at)) {
      walk.push(at);
      at = index.get(needs[at]!.find((n) => leftSet.has(index.get(n)!))!)!;
    }
    if (reported.has(at)) continue;
    const cycle = walk.slice(walk.indexOf(at));
    cycle.forEach((i) => reported.add(i));
    // Start at the task declared first, so the message does not depend on where the walk began.
    const first = cycle.indexOf(Math.min(...cycle));
    cycles.push([...cycle.slice(first), ...cycle.slice(0, first)].map((i) => tasks[i]!.id));
  }
  return cycles;
}

/** One issue per cycle, on the edge that leaves its first-declared task: `a → b → c → a`. */
export function cycleIssues(tasks: DagNode[], cycles: string[][]): PipelineIssue[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  return cycles.map((cycle) => {
    const from = byId.get(cycle[0]!)!;
    const to = cycle[1 % cycle.length]!;
    return {
      path: `tasks.${from.id}.needs[${from.needs.indexOf(to)}]`,
      message: `dependency cycle ${[...cycle, cycle[0]].join(' → ')} (each task needs the next)`,
    };
  });
}
