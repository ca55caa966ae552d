import { query, SqliteConnection, type Steps } from '@argon/common/sql';
import { SQLITE } from './dialect.js';
import type { CostDelta, Int, ObjectPartRow } from './rows.js';
import { SqlMetadataStore, type PartInput } from './sql-store.js';
import type { CostRecord, ObjectVersion } from './types.js';

/** How long request and egress counters wait in memory before one transaction writes them. */
const COST_WRITE_DELAY_MS = 1000;

/**
 * The embedded metadata store, on the shared SQLite connection (@argon/common/sql): IMMEDIATE
 * transactions, so another process sharing the file (a CLI) never sees half of one and a crash
 * rolls them back; every write resolves after an fsync of the WAL that covers it, concurrent
 * writes sharing one (group commit).
 *
 * The request and egress counters (addCost, two per GET) are summed in memory and written
 * together at most COST_WRITE_DELAY_MS later, without waiting for the disk: costs() and close()
 * write what is pending first, so readers miss nothing; a crash loses at most the last seconds
 * of counts (the estimates are an order of magnitude anyway).
 */
export class SqliteMetadataStore extends SqlMetadataStore<SqliteConnection> {
  readonly kind = 'sqlite' as const;
  /** Counters added since the last write, per bucket. */
  private readonly pendingCosts = new Map<string, CostDelta>();
  private costTimer: NodeJS.Timeout | undefined;
  /** Set while a pending row is written: it needs no fsync of its own (see insertPending). */
  private deferDurability = false;

  /** `file` is the database path, or ':memory:'. */
  constructor(file: string) {
    super(SQLITE, new SqliteConnection(file));
  }

  init(): Promise<void> {
    return this.db.open(this.migrate());
  }

  override async close(): Promise<void> {
    try {
      if (this.db.isOpen) this.writeCosts();
    } finally {
      await super.close();
    }
  }

  protected override transaction<T>(steps: Steps<T>): Promise<T> {
    return this.db.transaction(steps, { deferDurability: this.deferDurability });
  }

  /**
   * A pending row resolves without waiting for an fsync. The commit that publishes the version
   * waits for one, which also covers this earlier frame, so an acknowledged write is as durable;
   * a pending row lost with the power belonged to an unacknowledged write and leaves at most an
   * unreferenced blob, which the collector removes. transaction() reads the flag before its first
   * await, so it applies to this one transaction only.
   */
  override insertPending(version: ObjectVersion): Promise<void> {
    this.deferDurability = true;
    try {
      return super.insertPending(version);
    } finally {
      this.deferDurability = false;
    }
  }

  override async addCost(bucket: string, delta: CostDelta): Promise<void> {
    const sum = this.pendingCosts.get(bucket) ?? {};
    for (const [name, value] of Object.entries(delta) as [keyof CostDelta, number][]) sum[name] = (sum[name] ?? 0) + value;
    this.pendingCosts.set(bucket, sum);
    this.costTimer ??= setTimeout(() => {
      try {
        this.writeCosts();
      } catch {
        // The counts stay pending: the next addCost retries, and costs() or close() report the error.
      }
    }, COST_WRITE_DELAY_MS).unref();
  }

  override async costs(bucket?: string): Promise<CostRecord[]> {
    this.writeCosts();
    return super.costs(bucket);
  }

  /** Writes the pending counters in one transaction; they stay pending if it fails. */
  private writeCosts(): void {
    clearTimeout(this.costTimer);
    this.costTimer = undefined;
    if (this.pendingCosts.size === 0) return;
    this.db.commitNow(this.upsertCosts(this.pendingCosts));
    this.pendingCosts.clear();
  }

  private *upsertCosts(sums: Map<string, CostDelta>): Steps<void> {
    for (const [bucket, delta] of sums) yield* this.upsertCost(bucket, delta);
  }

  protected *partsOf(objectIds: Int[]): Steps<ObjectPartRow[]> {
    const parts: ObjectPartRow[] = [];
    for (const id of objectIds) parts.push(...(yield* query<ObjectPartRow>('SELECT * FROM object_parts WHERE object_id = $1 ORDER BY part_number', [id])));
    return parts;
  }

  protected *insertParts(objectId: Int, parts: PartInput[]): Steps<void> {
    for (const [index, part] of parts.entries()) {
      yield* query(
        `INSERT INTO object_parts (object_id, part_number, size, etag, blob, xxhash64, checksums)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [objectId, index + 1, part.size, part.etag, part.blob, part.xxhash64, JSON.stringify(part.checksums ?? {})],
      );
    }
  }

  protected *unreferenced(blobs: string[]): Steps<string[]> {
    const unreferenced: string[] = [];
    for (const blob of new Set(blobs)) {
      const uses = yield* query(
        `SELECT 1 WHERE EXISTS (SELECT 1 FROM objects WHERE placement_blob = $1)
           OR EXISTS (SELECT 1 FROM object_parts WHERE blob = $1)
           OR EXISTS (SELECT 1 FROM upload_parts WHERE blob = $1)`,
        [blob],
      );
      if (uses.length === 0) unreferenced.push(blob);
    }
    return unreferenced;
  }
}
