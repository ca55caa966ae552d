import { EJSON } from 'bson';
import type { Database } from 'lmdb';

/** One audited operation: who did what, when, through which interface, and how it ended. */
export interface AuditRecord {
  seq: number;
  time: number;
  /** `user@db`, `apikey:<id> (user@db)`, or null when authentication is off. */
  who: string | null;
  via: 'wire' | 'rest';
  command: string;
  /** What the command named first (a branch, a user...), when it is a string. */
  target?: string;
  /** The command's arguments, secrets removed. */
  args: Record<string, unknown>;
  ok: boolean;
  error?: string;
}

export interface AuditQuery {
  limit?: number;
  command?: string;
  who?: string;
  /** Only records newer than this sequence number. */
  after?: number;
}

/** Fields never written to the audit log. */
const SECRET_FIELDS = new Set(['pwd', 'password', 'payload', 'key', 'secret', 'speculativeAuthenticate']);
/** Protocol fields that say nothing about the operation. */
const NOISE_FIELDS = new Set(['$db', 'lsid', '$clusterTime', '$readPreference', 'apiVersion']);

/**
 * Append-only, in the order operations finished; read newest first. `flush` is the store's: an
 * append resolves only once the record is on disk, so the command's reply waits for its record.
 */
export class AuditLog {
  private seq: number;

  constructor(
    private readonly table: Database<AuditRecord, number>,
    private readonly flush: () => Promise<void>,
  ) {
    const last = [...table.getKeys({ reverse: true, limit: 1 })][0];
    this.seq = typeof last === 'number' ? last : 0;
  }

  async append(entry: Omit<AuditRecord, 'seq' | 'args'> & { args: Record<string, unknown> }): Promise<void> {
    const seq = ++this.seq;
    await this.table.put(seq, { ...entry, seq, args: redact(entry.args) });
    await this.flush();
  }

  query(q: AuditQuery = {}): AuditRecord[] {
    const out: AuditRecord[] = [];
    const limit = q.limit ?? 100;
    for (const { value } of this.table.getRange({ reverse: true })) {
      if (q.after !== undefined && value.seq <= q.after) break;
      if (q.command !== undefined && value.command !== q.command) continue;
      if (q.who !== undefined && value.who !== q.who) continue;
      out.push(value);
      if (out.length >= limit) break;
    }
    return out;
  }
}

function redact(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (NOISE_FIELDS.has(k) || v === undefined) continue;
    out[k] = SECRET_FIELDS.has(k) ? '***' : hideNested(v);
  }
  // Relaxed Extended JSON: BSON wrapper types (Long, ObjectId) stored as plain JSON values.
  return EJSON.serialize(out, { relaxed: true }) as Record<string, unknown>;
}

/** Secrets can sit deeper than the top level (a merge gate's webhook secret). */
function hideNested(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hideNested);
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '***' : hideNested(v)]));
}
