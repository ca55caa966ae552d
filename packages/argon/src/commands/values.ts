import { ArgonError } from '../errors.js';

/**
 * Command arguments arrive with bson's wrapper types (Int32, Double, Long) because the wire layer
 * keeps types faithful for storage; options such as `limit` or `batchSize` want plain numbers.
 */
export function toNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'object' && value !== null) {
    const v = value as { _bsontype?: string; valueOf?: () => unknown; toNumber?: () => number };
    if (v._bsontype === 'Long' && typeof v.toNumber === 'function') return v.toNumber();
    if (v._bsontype === 'Int32' || v._bsontype === 'Double') return Number(v.valueOf!());
    if (v._bsontype === 'Decimal128') return Number(String(value));
  }
  return undefined;
}

export function numberArg(cmd: Record<string, unknown>, field: string, fallback?: number): number | undefined {
  const raw = cmd[field];
  if (raw === undefined || raw === null) return fallback;
  const n = toNumber(raw);
  if (n === undefined || Number.isNaN(n)) {
    throw new ArgonError('TypeMismatch', `Field '${field}' must be a number, got ${typeName(raw)}`);
  }
  return n;
}

export function boolArg(cmd: Record<string, unknown>, field: string, fallback: boolean): boolean {
  const raw = cmd[field];
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw === 'boolean') return raw;
  const n = toNumber(raw);
  if (n !== undefined) return n !== 0;
  throw new ArgonError('TypeMismatch', `Field '${field}' must be a boolean, got ${typeName(raw)}`);
}

export function stringArg(cmd: Record<string, unknown>, field: string): string {
  const raw = cmd[field];
  if (typeof raw !== 'string') {
    throw new ArgonError('TypeMismatch', `Field '${field}' must be of type string, got ${typeName(raw)}`);
  }
  return raw;
}

export function docArg(cmd: Record<string, unknown>, field: string): Record<string, unknown> | undefined {
  const raw = cmd[field];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ArgonError('TypeMismatch', `Field '${field}' must be of type object, got ${typeName(raw)}`);
  }
  return raw as Record<string, unknown>;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') {
    const t = (v as { _bsontype?: string })._bsontype;
    if (t) return ({ Int32: 'int', Double: 'double', Long: 'long', Decimal128: 'decimal' } as Record<string, string>)[t] ?? t.toLowerCase();
    return 'object';
  }
  return typeof v;
}

/**
 * Replaces Int32 and Double wrappers by JS numbers throughout a value. Aggregation pipelines
 * arrive decoded faithfully, but their constants are parameters, not stored data.
 */
export function plainNumbers<T>(value: T): T {
  if (Array.isArray(value)) return value.map(plainNumbers) as T;
  if (value === null || typeof value !== 'object') return value;
  const t = (value as { _bsontype?: string })._bsontype;
  if (t === 'Int32' || t === 'Double') return Number((value as { valueOf(): unknown }).valueOf()) as T;
  if (t !== undefined) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, plainNumbers(v)])) as T;
}
