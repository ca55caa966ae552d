/** One problem found in a pipeline file or in a run's params, named by where it is. */
export interface PipelineIssue {
  /** Dotted path into the file: `tasks.transform.needs[0]`, `params.n`; '' for the file as a whole. */
  path: string;
  message: string;
}

/**
 * Thrown instead of a partial result: carries every issue found, so a user fixes a file in one
 * pass rather than one error per apply. The message lists them all, for callers that only print it.
 */
export class PipelineError extends Error {
  readonly code = 'InvalidPipeline' as const;
  readonly issues: PipelineIssue[];

  constructor(issues: PipelineIssue[], what = 'invalid pipeline') {
    super(`${what}:\n${issues.map((i) => `  ${i.path || '(file)'}: ${i.message}`).join('\n')}`);
    this.name = 'PipelineError';
    this.issues = issues;
  }
}

/** Joins a parent path and a key the way issue paths are written (`a.b`, `a[0]`). */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** ` (did you mean 'x'?)` when one candidate is close enough to be a likely typo, else ''. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    // An edit for every letter ('b' → 'a') is a different name, not a typo.
    if (d < bestDistance && d < Math.max(word.length, candidate.length)) [best, bestDistance] = [candidate, d];
  }
  // Up to a third of the word's length (at least one edit): 'extrct' → 'extract', 'nn' → 'n', but not 'load' → 'lint'.
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}
