import type { Logger } from 'pino';
import type { Store } from '../storage/store.js';

/** Earliest representable BSON date: the lower bound of the Date bracket in an index. */
const MIN_DATE = new Date(-8.64e15);

/**
 * The TTL monitor, as mongod's: periodically deletes, on every live branch, the documents whose
 * TTL-indexed date is older than the index's `expireAfterSeconds`. Documents whose field is not a
 * date (or an array holding one) never expire.
 */
export class TtlMonitor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce().catch((err) => this.log.error({ err }, 'TTL pass failed')), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass over every branch; returns how many documents it deleted. */
  runOnce(now = new Date()): Promise<number> {
    this.running ??= this.pass(now).finally(() => (this.running = null));
    return this.running;
  }

  private async pass(now: Date): Promise<number> {
    let deleted = 0;
    for (const { name: branch } of this.store.listBranches()) {
      for (const coll of this.store.listCollections(branch)) {
        for (const index of coll.indexes) {
          if (index.expireAfterSeconds === undefined) continue;
          const cutoff = new Date(now.getTime() - index.expireAfterSeconds * 1000);
          const expired = [...this.store.indexScan(branch, coll.db, coll.name, index.name, {
            lower: { values: [MIN_DATE], inclusive: true },
            upper: { values: [cutoff], inclusive: false },
          })].map((doc) => doc._id);
          if (expired.length === 0) continue;
          await this.store.transact(branch, (tx) => expired.forEach((id) => tx.delete(coll.db, coll.name, id)));
          deleted += expired.length;
          this.log.debug({ branch, ns: `${coll.db}.${coll.name}`, deleted: expired.length }, 'TTL deleted expired documents');
        }
      }
    }
    return deleted;
  }
}
