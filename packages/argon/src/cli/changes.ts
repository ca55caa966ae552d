import { paint } from './format.js';

/**
 * How `argon diff` and `argon log` show many changes to a person: bounded output (counts, the
 * first few ids, a limit on listed documents) instead of one line per document, which buries a
 * 10,000-document change. --json stays complete for scripts.
 */

type Doc = Record<string, any>;

export interface DiffView {
  /** Counts per collection and, per field path, how many documents changed it (git diff --stat). */
  stat?: boolean;
  /** One line per collection. */
  summary?: boolean;
  /** Most documents (or, with stat, field paths) listed; 0 lists them all. */
  limit: number;
}

const id = (value: unknown) => JSON.stringify(value);

function countsLine(c: Doc): string {
  return `${paint.bold(`${c.db}.${c.coll}`)}: ${paint.green(`+${c.added.length}`)} ${paint.red(`-${c.removed.length}`)} ${paint.yellow(`~${c.modified.length}`)}`;
}

/**
 * A collection-level change (create/drop/rename a collection, an index…) and the side that made
 * it. Printed field by field rather than per kind, so kinds and details the server adds later
 * show without a CLI change.
 */
function objectLine(o: Doc, from: string, to: string): string {
  const { side, op, db, coll, name, ...rest } = o;
  const extra = Object.entries(rest).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const line = `  ${op} ${db}.${coll}${name === undefined ? '' : ` ${name}`}${extra.join('')} (on ${side === 'from' ? from : to})`;
  return side === 'from' ? paint.red(line) : paint.green(line);
}

/** Field paths of the modified documents, most often changed first, with how many documents changed each. */
function fieldCounts(c: Doc): [string, number][] {
  const counts = new Map<string, number>();
  for (const d of c.modified) for (const path of new Set<string>((d.fields ?? []).map((f: Doc) => f.path))) counts.set(path, (counts.get(path) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

export function printDiff(diff: Doc, from: string, to: string, view: DiffView): void {
  const collections = diff.collections as Doc[];
  const objects = (diff.objects ?? []) as Doc[];
  if (collections.length === 0 && objects.length === 0) return console.log('No differences');
  if (objects.length > 0) console.log(paint.bold('collections and indexes:'));
  for (const o of objects) console.log(objectLine(o, from, to));
  let budget = view.limit > 0 ? view.limit : Infinity;
  let hidden = 0;
  const list = (line: () => string) => (budget-- > 0 ? console.log(line()) : hidden++);
  for (const c of collections) {
    console.log(countsLine(c));
    if (view.summary) continue;
    if (view.stat) {
      const rows = fieldCounts(c);
      const width = Math.max(0, ...rows.map(([path]) => path.length));
      for (const [path, n] of rows) list(() => `    ${path.padEnd(width)}  ${paint.yellow(`~${n}`)}`);
      continue;
    }
    for (const d of c.added) list(() => paint.green(`  + ${id(d.id)}`));
    for (const d of c.removed) list(() => paint.red(`  - ${id(d.id)}`));
    for (const d of c.modified) {
      list(() => [paint.yellow(`  ~ ${id(d.id)}`), ...(d.fields ?? []).map((f: Doc) => `      ${f.path}: ${paint.red(id(f.before))} → ${paint.green(id(f.after))}`)].join('\n'));
    }
  }
  if (view.stat) {
    const total = (key: string) => collections.reduce((n, c) => n + c[key].length, 0);
    console.log(`${collections.length} collection(s) changed: ${paint.green(`+${total('added')}`)} ${paint.red(`-${total('removed')}`)} ${paint.yellow(`~${total('modified')}`)}`);
  }
  if (hidden > 0) console.log(paint.dim(`… ${hidden} more ${view.stat ? 'field paths' : 'documents'} (use --limit 0 or --json)`));
}

/** Groups shown per log entry before the rest are only counted. */
const MAX_GROUPS = 5;
/** Ids shown per group of many changes. */
const MAX_IDS = 3;

/**
 * A log entry's changes on one line: one operation on one collection is a group, shown with its
 * count and first ids (`insert shop.orders ×5000 (1, 2, 3, …)`), so a batch write of thousands of
 * documents stays a readable row.
 */
export function summariseChanges(changes: Doc[]): string {
  const groups = new Map<string, { count: number; ids: unknown[] }>();
  for (const c of changes) {
    const key = `${c.op} ${c.db}.${c.coll}`;
    const group = groups.get(key) ?? { count: 0, ids: [] };
    groups.set(key, group);
    group.count++;
    if (c.id !== undefined && group.ids.length < MAX_IDS) group.ids.push(c.id);
  }
  const shown = [...groups].slice(0, MAX_GROUPS).map(([key, g]) => {
    if (g.count === 1) return g.ids.length === 0 ? key : `${key} ${id(g.ids[0])}`;
    const ids = g.ids.slice(0, MAX_IDS).map(id);
    if (g.count > ids.length && ids.length > 0) ids.push('…');
    return `${key} ×${g.count}${ids.length > 0 ? ` (${ids.join(', ')})` : ''}`;
  });
  const rest = [...groups.values()].slice(MAX_GROUPS).reduce((n, g) => n + g.count, 0);
  return shown.join(', ') + (rest > 0 ? `, … ${rest} more` : '');
}
