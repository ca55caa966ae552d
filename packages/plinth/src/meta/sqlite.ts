import { open, type FileHandle } from 'node:fs/promises';
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
 * CLI) never sees half of one and a crash rolls them back.
 *
 * Durability without blocking the event loop (group commit): SQLite runs in WAL mode with
 * synchronous=NORMAL, so a commit only write()s its frames to the WAL, and the operation then
 * awaits an fsync of the WAL file in the thread pool before it resolves. Concurrent operations
 * share one fsync: a caller waits for the first fsync that started after its commit. This is
 * exactly what synchronous=FULL would guarantee (FULL is NORMAL plus an fsync of the WAL at
 * commit), minus the event loop standing still for every commit. A checkpoint cannot undo it:
 * under NORMAL, SQLite fsyncs the WAL before copying frames into the database, and the WAL file
 * (the inode our handle syncs) is only removed when the last connection closes.
 *
 * The request and egress counters (addCost, two per GET) are summed in memory and written
 * together at most COST_WRITE_DELAY_MS later, without waiting for the disk: costs() and close()
 * write what is pending first, so readers miss nothing; a crash loses at most the last seconds
 * of counts (the estimates are an order of magnitude anyway).
 */
export class SqliteMetadataStore extends SqlMetadataStore {
  readonly kind = 'sqlite' as const;
  private database: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  /** Counters added since the last write, per bucket. */
  private readonly pendingCosts = new Map<string, CostDelta>();
  private costTimer: NodeJS.Timeout | undefined;
  /** The WAL file, for the fsyncs that make commits durable; absent for ':memory:'. */
  private wal: FileHandle | undefined;
  /** Statements that changed something, counted; and how many of them an fsync has covered. */
  private written = 0;
  private synced = 0;
  /** The fsync in flight, if any. */
  private syncing: Promise<void> | undefined;
  /** Set while a pending row is written: it needs no fsync of its own (see insertPending). */
  private deferDurability = false;

  /** `file` is the database path, or ':memory:'. */
  constructor(private readonly file: string) {
    super(SQLITE);
  }

  async init(): Promise<void> {
    const db = new Database(this.file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      this.database = db;
      await this.transaction(this.migrate());
      // The WAL exists from the first transaction in WAL mode on.
      if (this.file !== ':memory:') this.wal = await open(`${this.file}-wal`, 'r');
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    try {
      if (this.database !== undefined) this.writeCosts();
    } finally {
      await this.syncing?.catch(() => undefined);
      await this.wal?.close();
      this.wal = undefined;
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
      this.written++;
      return [];
    }
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    // SQLite reads `$1` as a parameter named "1": better-sqlite3 binds it from the key 1.
    const params = Object.fromEntries(values.map((value, i) => [i + 1, value]));
    if (statement.reader) {
      const rows = statement.all(params);
      // `readonly`, not `reader`: an INSERT/DELETE … RETURNING returns rows and writes.
      if (!statement.readonly) this.written++;
      return rows;
    }
    statement.run(params);
    this.written++;
    return [];
  }

  private complete<T>(steps: Steps<T>): T {
    let step = steps.next();
    while (!step.done) step = steps.next(this.execute(step.value));
    return step.value;
  }

  protected async run<T>(steps: Steps<T>): Promise<T> {
    const before = this.written;
    const result = this.complete(steps);
    if (this.written !== before) await this.durable();
    return result;
  }

  protected async transaction<T>(steps: Steps<T>): Promise<T> {
    const defer = this.deferDurability;
    const result = this.db.transaction(() => this.complete(steps)).immediate();
    if (!defer) await this.durable();
    return result;
  }

  /** Resolves once an fsync that started after every change made so far has finished. */
  private async durable(): Promise<void> {
    const target = this.written;
    while (this.wal !== undefined && this.synced < target) {
      if (this.syncing === undefined) {
        const covers = this.written;
        this.syncing = this.wal
          .datasync()
          .then(() => {
            this.synced = Math.max(this.synced, covers);
          })
          .finally(() => {
            this.syncing = undefined;
          });
      }
      await this.syncing;
    }
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
