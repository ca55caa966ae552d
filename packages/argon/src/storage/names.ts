import { ArgonError } from '../errors.js';

/** MongoDB's limits: database names under 64 bytes, full namespace at most 255 bytes. */
const MAX_DB_NAME_BYTES = 63;
const MAX_NAMESPACE_BYTES = 255;
const MAX_BRANCH_NAME_LENGTH = 100;

/** Characters MongoDB refuses in database names on every platform. */
const BAD_DB_CHARS = /[/\\. "$*<>:|?\0]/;

/**
 * Branch names follow Git's rules in small: path-like segments of letters, digits,
 * '.', '_' and '-' separated by '/', no '..', no segment starting with '.', and no '@'
 * (which is reserved for time travel: `main@2026-11-21T10:00:00Z`).
 */
const BRANCH_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

export function validateDbName(db: string): void {
  if (typeof db !== 'string' || db.length === 0) {
    throw new ArgonError('InvalidNamespace', 'Database name cannot be empty');
  }
  if (Buffer.byteLength(db) > MAX_DB_NAME_BYTES) {
    throw new ArgonError('InvalidNamespace', `Database name '${db}' is too long: it must be under 64 bytes`);
  }
  const bad = BAD_DB_CHARS.exec(db);
  if (bad) {
    throw new ArgonError('InvalidNamespace', `Invalid database name '${db}': it may not contain '${bad[0] === '\0' ? '\\0' : bad[0]}'`);
  }
}

export function validateCollectionName(db: string, coll: string): void {
  validateDbName(db);
  if (typeof coll !== 'string' || coll.length === 0) {
    throw new ArgonError('InvalidNamespace', 'Collection names cannot be empty');
  }
  if (coll.includes('\0')) {
    throw new ArgonError('InvalidNamespace', 'Collection names cannot contain the null character');
  }
  if (coll.includes('$')) {
    throw new ArgonError('InvalidNamespace', `Invalid collection name '${coll}': collection names cannot contain '$'`);
  }
  if (coll.startsWith('.')) {
    throw new ArgonError('InvalidNamespace', `Invalid collection name '${coll}': it cannot start with '.'`);
  }
  if (coll.startsWith('system.')) {
    throw new ArgonError('InvalidNamespace', `Invalid collection name '${coll}': the 'system.' prefix is reserved`);
  }
  if (Buffer.byteLength(db) + 1 + Buffer.byteLength(coll) > MAX_NAMESPACE_BYTES) {
    throw new ArgonError('InvalidNamespace', `Fully qualified namespace '${db}.${coll}' is too long: at most ${MAX_NAMESPACE_BYTES} bytes`);
  }
}

export function validateBranchName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ArgonError('InvalidBranchName', 'Branch name cannot be empty');
  }
  if (name.length > MAX_BRANCH_NAME_LENGTH) {
    throw new ArgonError('InvalidBranchName', `Branch name is too long: at most ${MAX_BRANCH_NAME_LENGTH} characters`);
  }
  if (!BRANCH_NAME.test(name) || name.includes('..') || name.endsWith('.lock')) {
    throw new ArgonError(
      'InvalidBranchName',
      `Invalid branch name '${name}': use letters, digits, '.', '_' and '-' in segments separated by '/'; ` +
        `each segment starts with a letter, digit or '_'; no '..', no '@', no trailing '.lock'`,
    );
  }
}
