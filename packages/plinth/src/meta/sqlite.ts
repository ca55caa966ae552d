import Database from 'better-sqlite3';
import { SQLITE } from './dialect.js';
import type { CostDelta, Int, ObjectPartRow } from './rows.js';
import { query, SqlMetadataStore, type PartInput, type Statement, type Steps } from './sql-store.js';
import type { CostRecord, ObjectVersion } from './types.js';

/** How long request and egress counters wait in memory before one transaction writes them. */
const COST_WRITE_DELAY_MS = 1000;

/**
 * The embedded metadata store. better-sqlite3 is synchronous, so each piece of work (an
 * operation, or one batch of a listing) runs to its end without interleaving with other
 * requests; changes still run in IMMEDIATE transactions so another process sharing the file (a
 * CLI) never sees half of one and a crash rolls them back. WAL with synchronous=FULL: a commit
 * has reached the disk when the call returns.
 *
 * That wait is an fsync on the event loop, so the request and egress counters (addCost, two per
 * GET) are summed in memory and written together at most COST_WRITE_DELAY_MS later: written one
 * by one they capped every request at the disk's fsync rate. costs() and close() write what is
 * pending first, so readers miss nothing; a crash loses at most that last second of counts.
 */
export class SqliteMetadataStore extends SqlMetadataStore {
  readonly kind = 'sqlite' as const;
  private database: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  /** Counters added since the last write, per bucket. */
  private readonly pendingCosts = new Map<string, CostDelta>();
  private costTimer: NodeJS.Timeout | undefined;

  /** `file` is the database path, or ':memory:'. */
  constructor(private readonly file: string) {
    super(SQLITE);
  }

  async init(): Promise<void> {
    const db = new Database(this.file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      this.database = db;
      await this.transaction(this.migrate());
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    try {
      if (this.database !== undefined) this.writeCosts();
    } finally {
      this.statements.clear();
      this.database?.close();
      this.database = undefined;
    }
  }

  private get db(): Database.Database {
    if (this.database === undefined) throw new Error('SqliteMetadataStore: init() has not been called (or close() has)');
    return this.database;
  }

  private execute({ sql, values, script }: Statement): unknown[] {
    if (script) {
      this.db.exec(sql);
      return [];
    }
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    // SQLite reads `$1` as a parameter named "1": better-sqlite3 binds it from the key 1.
    const params = Object.fromEntries(values.map((value, i) => [i + 1, value]));
    if (statement.reader) return statement.all(params);
    statement.run(params);
    return [];
  }

  private complete<T>(steps: Steps<T>): T {
    let step = steps.next();
    while (!step.done) step = steps.next(this.execute(step.value));
    return step.value;
  }

  protected async run<T>(steps: Steps<T>): Promise<T> {
    return this.complete(steps);
  }

  protected async transaction<T>(steps: Steps<T>): Promise<T> {
    return this.db.transaction(() => this.complete(steps)).immediate();
  }

  /**
   * A pending row is committed without an fsync of its own. The commit that publishes the version
   * is FULL, and its fsync of the WAL also covers this earlier frame, so an acknowledged write is
   * as durable as before; a pending row lost with the power belonged to an unacknowledged write
   * and leaves at most an unreferenced blob, which the collector removes. One fsync per PUT on the
   * event loop instead of two. The transaction runs synchronously inside the try (better-sqlite3),
   * so no other statement ever runs with synchronous = NORMAL.
   */
  override insertPending(version: ObjectVersion): Promise<void> {
    this.db.pragma('synchronous = NORMAL');
    try {
      return super.insertPending(version);
    } finally {
      this.db.pragma('synchronous = FULL');
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
    this.db
      .transaction(() => {
        for (const [bucket, delta] of this.pendingCosts) this.complete(this.upsertCost(bucket, delta));
      })
      .immediate();
    this.pendingCosts.clear();
  }

  protected *partsOf(objectIds: Int[]): Steps<ObjectPartRow[]> {
    const parts: ObjectPartRow[] = [];
    for (const id of objectIds) parts.push(...(yield* query<ObjectPartRow>('SELECT * FROM object_parts WHERE object_id = $1 ORDER BY part_number', [id])));
    return parts;
  }

  protected *insertParts(objectId: Int, parts: PartInput[]): Steps<void> {
    for (const [index, part] of parts.entries()) {
      yield* query(
        `INSERT INTO object_parts (object_id, part_number, size, etag, blob, xxhash64)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [objectId, index + 1, part.size, part.etag, part.blob, part.xxhash64],
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
