import type { ListObjectsPage, ListObjectsQuery, ObjectVersion } from './types.js';

/**
 * S3's listing walk, shared by both stores: keys in UTF-8 byte order, a delimiter folding keys into
 * common prefixes (each one counting toward maxKeys), markers exclusive. The store supplies
 * `fetch`, an index range scan from a cursor; the walk never reads a folded prefix's keys beyond
 * the current batch, it seeks past them.
 */

/** Orders as S3 does: UTF-8 bytes, which is code point order (JS's `<` compares UTF-16 units). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The least string greater than every string starting with `prefix` (its last code point
 * incremented), or undefined when none exists (only U+10FFFF characters).
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = Array.from(prefix);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Surrogate code points cannot be encoded in UTF-8: the next character after U+D7FF is U+E000.
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return codePoints.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** Where a scan resumes: after `key` (or at it, when inclusive); for versions, after its version `belowSeq`. */
export interface ListCursor {
  key: string;
  inclusive: boolean;
  /** Resume within `key` at its versions older than this commit sequence number, then later keys. */
  belowSeq?: number;
}

export interface ListRow {
  key: string;
  versionId: string;
  /** The version's commit sequence number within its key: set by version listings only. */
  seq?: number;
}

export interface Walk<R extends ListRow> {
  rows: R[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextMarker?: string;
  nextVersionIdMarker?: string;
}

/** Rows per query: a full page when nothing folds; fewer when a delimiter may make most rows skipped. */
const BATCH = 1000;
const DELIMITED_BATCH = 100;

/**
 * Walks rows in listing order from `q.after` (or, for versions, after version `afterSeq` of that
 * key) and returns up to q.maxKeys entries. `fetch(cursor, limit)` returns at most `limit` rows
 * strictly after the cursor (or from it, when inclusive), in listing order, regardless of prefix.
 */
export async function walkListing<R extends ListRow>(
  q: ListObjectsQuery,
  fetch: (cursor: ListCursor, limit: number) => Promise<R[]>,
  afterSeq?: number,
): Promise<Walk<R>> {
  const prefix = q.prefix ?? '';
  const delimiter = q.delimiter === '' ? undefined : q.delimiter;
  const walk: Walk<R> = { rows: [], commonPrefixes: [], isTruncated: false };
  if (q.maxKeys <= 0) return walk;

  let cursor: ListCursor | undefined = { key: prefix, inclusive: true };
  if (q.after !== undefined && compareKeys(q.after, prefix) >= 0) {
    cursor = { key: q.after, inclusive: false, belowSeq: afterSeq };
    // A marker inside a common prefix (the prefix itself, as a previous page's nextMarker, or a
    // key under it) means the prefix was listed already: continue after all of its keys.
    const folded = delimiter === undefined ? undefined : commonPrefix(q.after, prefix, delimiter);
    if (folded !== undefined) {
      const end = prefixEnd(folded);
      cursor = end === undefined ? undefined : { key: end, inclusive: true };
    }
  }

  let count = 0;
  let last: { key: string; versionId?: string } | undefined;
  /** The common prefix just emitted: its keys are skipped until the scan leaves it. */
  let folding: string | undefined;
  scan: while (cursor !== undefined) {
    const limit = Math.min(q.maxKeys - count + 1, delimiter === undefined ? BATCH : DELIMITED_BATCH);
    const batch = await fetch(cursor, limit);
    for (const row of batch) {
      if (folding !== undefined && row.key.startsWith(folding)) continue;
      folding = undefined;
      if (!row.key.startsWith(prefix)) break scan;
      if (count === q.maxKeys) {
        walk.isTruncated = true;
        break scan;
      }
      count++;
      const folded = delimiter === undefined ? undefined : commonPrefix(row.key, prefix, delimiter);
      if (folded !== undefined) {
        walk.commonPrefixes.push(folded);
        folding = folded;
        last = { key: folded };
      } else {
        walk.rows.push(row);
        last = { key: row.key, versionId: row.versionId };
      }
    }
    if (batch.length < limit) break;
    if (folding !== undefined) {
      const end = prefixEnd(folding);
      cursor = end === undefined ? undefined : { key: end, inclusive: true };
      folding = undefined;
    } else {
      const tail = batch[batch.length - 1]!;
      cursor = { key: tail.key, inclusive: false, belowSeq: tail.seq };
    }
  }

  if (walk.isTruncated && last !== undefined) {
    walk.nextMarker = last.key;
    if (last.versionId !== undefined) walk.nextVersionIdMarker = last.versionId;
  }
  return walk;
}

/** A walk as the contract's page, its rows turned into `objects` by the store. */
export function listingPage<R extends ListRow>(walk: Walk<R>, objects: ObjectVersion[]): ListObjectsPage {
  return {
    objects,
    commonPrefixes: walk.commonPrefixes,
    isTruncated: walk.isTruncated,
    ...(walk.nextMarker !== undefined && { nextMarker: walk.nextMarker }),
  };
}

/** The common prefix `key` folds into: the prefix plus everything up to and including the first delimiter after it. */
function commonPrefix(key: string, prefix: string, delimiter: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}
