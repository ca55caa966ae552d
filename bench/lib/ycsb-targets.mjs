// The systems under test of bench/ycsb.mjs, each behind the same small interface used by
// runCell(): { read(key), update(key, value), scan(key, len), close() }.
//
//   MongoDB driver (Argon, or the wire ceiling): collection ycsb.usertable, _id = integer key.
//   PostgreSQL: table usertable(_id bigint primary key, doc jsonb), prepared statements.
//
// Updates set the document's `name` field to a fresh 32-character string.
import { MongoClient } from 'mongodb';
import pg from 'pg';

export const DB = 'ycsb';
export const COLL = 'usertable';
const LOAD_BATCH = 1000;

/**
 * Driver options of every MongoDB client here. Argon's hello reports topologyVersion.processId
 * as an int64, which the driver decodes to a JS number; MongoDB sends an ObjectId, and the
 * driver's topologyVersion comparison calls processId.equals(). So the second heartbeat of a
 * client fails ("currentTv.processId.equals is not a function"), the driver marks the server
 * Unknown, clears the pool and stalls operations for ~500 ms, every ~500 ms. Polling with a
 * long heartbeat interval keeps the monitor from issuing that second heartbeat during a cell.
 * `--driver-defaults` (bench/ycsb.mjs) turns this off to show the effect.
 */
export const mongoOptions = { serverMonitoringMode: 'poll', heartbeatFrequencyMS: 3_600_000 };
export function useDriverDefaults() {
  for (const k of Object.keys(mongoOptions)) delete mongoOptions[k];
}

/** Loads documents 0..n-1 into Argon with insertMany batches; returns docs/s. */
export async function loadMongo(uri, n, makeDoc, log = () => {}) {
  const client = new MongoClient(uri, { ...mongoOptions, maxPoolSize: 2 });
  await client.connect();
  try {
    const coll = client.db(DB).collection(COLL);
    await coll.drop().catch(() => undefined);
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < n) {
        const start = next;
        next = Math.min(n, start + LOAD_BATCH);
        const docs = [];
        for (let i = start; i < next; i++) docs.push(makeDoc(i));
        await coll.insertMany(docs, { ordered: true });
        if (next % 20_000 === 0) log(`  Argon: loaded ${next.toLocaleString('en-US')}`);
      }
    };
    await Promise.all([worker(), worker()]);
    const rate = n / ((performance.now() - t0) / 1000);
    const count = await coll.estimatedDocumentCount();
    if (count !== n) throw new Error(`Argon holds ${count} documents after loading ${n}`);
    return rate;
  } finally {
    await client.close();
  }
}

/** A MongoDB-driver target over one MongoClient with a pool of `conns` connections. */
export async function mongoTarget(uri, conns) {
  const client = new MongoClient(uri, { ...mongoOptions, maxPoolSize: conns, minPoolSize: conns });
  await client.connect();
  const coll = client.db(DB).collection(COLL);
  return {
    read: (key) => coll.findOne({ _id: key }),
    update: (key, value) => coll.updateOne({ _id: key }, { $set: { name: value } }),
    scan: (key, len) => coll.find({ _id: { $gte: key } }).limit(len).toArray(),
    close: () => client.close(),
  };
}

/** Creates and loads usertable in PostgreSQL; returns docs/s (documents generated in the loop, as for Argon). */
export async function loadPostgres(server, n, makeDoc, log = () => {}) {
  const clients = [];
  try {
    for (let k = 0; k < 2; k++) {
      const c = new pg.Client(server.clientConfig());
      await c.connect();
      clients.push(c);
    }
    await clients[0].query('DROP TABLE IF EXISTS usertable');
    await clients[0].query('CREATE TABLE usertable (_id bigint PRIMARY KEY, doc jsonb NOT NULL)');
    const sql = 'INSERT INTO usertable (_id, doc) SELECT id, d::jsonb FROM unnest($1::bigint[], $2::text[]) AS t(id, d)';
    let next = 0;
    const t0 = performance.now();
    const worker = async (c) => {
      while (next < n) {
        const start = next;
        next = Math.min(n, start + LOAD_BATCH);
        const ids = [];
        const docs = [];
        for (let i = start; i < next; i++) {
          ids.push(i);
          docs.push(JSON.stringify(makeDoc(i)));
        }
        await c.query(sql, [ids, docs]);
        if (next % 20_000 === 0) log(`  PostgreSQL: loaded ${next.toLocaleString('en-US')}`);
      }
    };
    await Promise.all(clients.map(worker));
    const rate = n / ((performance.now() - t0) / 1000);
    // Settle the table (hint bits, visibility map, statistics) and flush, outside the timing.
    await clients[0].query('VACUUM (ANALYZE) usertable');
    await clients[0].query('CHECKPOINT');
    return rate;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/** A PostgreSQL target over a pg.Pool of `conns` connections, with named (prepared) statements. */
export async function postgresTarget(server, conns) {
  const pool = new pg.Pool({ ...server.clientConfig(), max: conns });
  // Open every connection up front, as the MongoDB driver's minPoolSize does.
  const held = await Promise.all(Array.from({ length: conns }, () => pool.connect()));
  for (const c of held) c.release();
  return {
    read: (key) => pool.query({ name: 'ycsb_read', text: 'SELECT doc FROM usertable WHERE _id = $1', values: [key] }),
    update: (key, value) =>
      pool.query({ name: 'ycsb_update', text: "UPDATE usertable SET doc = jsonb_set(doc, '{name}', $2) WHERE _id = $1", values: [key, JSON.stringify(value)] }),
    scan: (key, len) =>
      pool.query({ name: 'ycsb_scan', text: 'SELECT doc FROM usertable WHERE _id >= $1 ORDER BY _id LIMIT $2', values: [key, len] }),
    close: () => pool.end(),
  };
}
