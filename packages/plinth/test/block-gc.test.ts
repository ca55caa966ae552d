import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { register as globalRegistry, Registry } from 'prom-client';
import { GarbageCollector, type GarbageCollectorOptions } from '../src/block/gc.js';
import { LocalDataNode } from '../src/block/local.js';
import { scrubOnce } from '../src/block/scrub.js';
import type { BlobInfo } from '../src/block/types.js';
import { openMetadata } from '../src/meta/open.js';
import type { MetadataStore } from '../src/meta/types.js';
import { bucket, completeUpload, OWNER, pending } from './helpers/meta-fixtures.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const dirs: string[] = [];

after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Fixture {
  dir: string;
  meta: MetadataStore;
  node: LocalDataNode;
  registry: Registry;
  gc: GarbageCollector;
  done(): Promise<void>;
}

async function fixture(options: Partial<GarbageCollectorOptions> = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'plinth-gc-'));
  dirs.push(dir);
  const meta = await openMetadata(undefined, dir);
  const node = await LocalDataNode.open({ dir: join(dir, 'data') });
  const registry = new Registry();
  await meta.createBucket(bucket('bkt'));
  const gc = new GarbageCollector({ meta, node, registry, logger: pino({ level: 'silent' }), gracePeriodMs: HOUR, ...options });
  return { dir, meta, node, registry, gc, done: async () => (await gc.stop(), await meta.close()) };
}

/** The gateway's three steps: pending row, bytes, commit. */
async function writeObject(f: Fixture, key: string, data: Buffer): Promise<{ info: BlobInfo; orphaned: string[] }> {
  await f.meta.insertPending(pending('bkt', key, 'null'));
  const info = await f.node.put(Readable.from([data]));
  const { orphaned } = await f.meta.commit('bkt', key, 'null', {
    size: info.size,
    etag: `"${info.md5}"`,
    xxhash64: info.xxhash64,
    checksums: {},
    placement: { blob: info.blob, nodes: [f.node.id] },
    lastModified: new Date(),
  });
  return { info, orphaned };
}

/** Makes a file look as if it was written `ms` ago. */
async function backdate(path: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  await utimes(path, then, then);
}

async function read(node: LocalDataNode, info: BlobInfo): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of await node.get(info.blob, info.xxhash64)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  const value = m.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

test('crash mid-PUT: the pending row, the uncommitted blob and the temp file go once past the grace period', async () => {
  const f = await fixture({ gracePeriodMs: 300 });
  try {
    const kept = await writeObject(f, 'kept', randomBytes(5000));
    // A PUT that wrote its bytes and crashed before committing, and one that crashed mid-stream.
    await f.meta.insertPending(pending('bkt', 'crashed', 'null'));
    const lost = await f.node.put(Readable.from([randomBytes(3 * 1024 * 1024)]));
    await writeFile(join(f.dir, 'data', 'tmp', randomUUID()), randomBytes(1000));

    // Right after the crash everything is young: a slow upload looks the same and is spared.
    assert.deepEqual(await f.gc.runOnce(), { pendingAborted: 0, uploadsAborted: 0, completionsForgotten: 0, blobsDeleted: 0, tempRemoved: 0, errors: 0 });
    assert.ok(await f.node.has(lost.blob));

    // After a restart (a new node instance: nothing is in flight) and once the grace period passed.
    const node = await LocalDataNode.open({ dir: join(f.dir, 'data') });
    const gc = new GarbageCollector({ meta: f.meta, node, registry: new Registry(), logger: pino({ level: 'silent' }), gracePeriodMs: 300 });
    await new Promise((r) => setTimeout(r, 400));
    await backdate(node.blobPath(kept.info.blob), HOUR);
    await backdate(node.blobPath(lost.blob), HOUR);
    for (const name of await readdir(join(f.dir, 'data', 'tmp'))) await backdate(join(f.dir, 'data', 'tmp', name), HOUR);

    assert.deepEqual(await gc.runOnce(), { pendingAborted: 1, uploadsAborted: 0, completionsForgotten: 0, blobsDeleted: 1, tempRemoved: 1, errors: 0 });
    assert.equal(await node.has(lost.blob), false);
    assert.deepEqual(await f.meta.stalePending(new Date()), []);
    assert.ok(await node.has(kept.info.blob), 'a committed object is never collected, however old');
    assert.equal((await read(node, kept.info)).length, 5000);
    assert.deepEqual(await readdir(join(f.dir, 'data', 'tmp')), []);
    assert.deepEqual(await gc.runOnce(), { pendingAborted: 0, uploadsAborted: 0, completionsForgotten: 0, blobsDeleted: 0, tempRemoved: 0, errors: 0 });
  } finally {
    await f.done();
  }
});

test('multipart uploads older than the limit are aborted and their part blobs collected', async () => {
  const f = await fixture({ uploadMaxAgeMs: 7 * DAY });
  try {
    const shared = randomBytes(2000);
    const committed = await writeObject(f, 'same-bytes-as-a-part', shared);
    const uploads = { stale: randomUUID(), fresh: randomUUID() };
    const template = { userMetadata: {}, tags: {}, acl: 'private' as const };
    await f.meta.createUpload({ uploadId: uploads.stale, bucket: 'bkt', key: 'big', initiated: new Date(Date.now() - 8 * DAY), ownerId: OWNER, template });
    await f.meta.createUpload({ uploadId: uploads.fresh, bucket: 'bkt', key: 'big', initiated: new Date(), ownerId: OWNER, template });
    const parts: Record<string, BlobInfo[]> = { stale: [], fresh: [] };
    for (const [which, uploadId] of Object.entries(uploads)) {
      for (const [i, data] of [randomBytes(1000), randomBytes(1500), shared].entries()) {
        const info = await f.node.put(Readable.from([data]));
        await backdate(f.node.blobPath(info.blob), 2 * HOUR);
        await f.meta.putPart({ uploadId, partNumber: i + 1, size: info.size, etag: `"${info.md5}"`, lastModified: new Date(), blob: info.blob, xxhash64: info.xxhash64 });
        parts[which]!.push(info);
      }
    }
    const report = await f.gc.runOnce();
    assert.deepEqual(report, { pendingAborted: 0, uploadsAborted: 1, completionsForgotten: 0, blobsDeleted: 2, tempRemoved: 0, errors: 0 });
    assert.equal(await f.meta.getUpload(uploads.stale), null);
    assert.notEqual(await f.meta.getUpload(uploads.fresh), null);
    assert.equal(await f.node.has(parts.stale![0]!.blob), false);
    assert.equal(await f.node.has(parts.stale![1]!.blob), false);
    for (const info of parts.fresh!) assert.ok(await f.node.has(info.blob), 'parts of a live upload stay');
    assert.ok(await f.node.has(committed.info.blob), 'a part blob an object also uses stays');
    assert.equal(await metric(f.registry, 'plinth_gc_blobs_deleted_total', { reason: 'upload' }), 2);
  } finally {
    await f.done();
  }
});

test('completed upload ids are forgotten once past their retention (24 h by default), their objects kept', async () => {
  const f = await fixture({ completedUploadRetentionMs: 300 });
  try {
    await completeUpload(f.meta, 'bkt', 'done', 'null', 'up1');
    assert.equal((await f.gc.runOnce()).completionsForgotten, 0);
    await new Promise((r) => setTimeout(r, 400));
    const byDefault = new GarbageCollector({ meta: f.meta, node: f.node, registry: new Registry(), logger: pino({ level: 'silent' }) });
    assert.equal((await byDefault.runOnce()).completionsForgotten, 0);
    assert.notEqual(await f.meta.completedUpload('up1'), null);

    assert.equal((await f.gc.runOnce()).completionsForgotten, 1);
    assert.equal(await metric(f.registry, 'plinth_gc_completions_forgotten_total'), 1);
    assert.equal(await f.meta.completedUpload('up1'), null);
    assert.equal((await f.meta.getObject('bkt', 'done'))?.parts?.length, 1, 'the object stays');
  } finally {
    await f.done();
  }
});

test('collect deletes reported orphans that are unreferenced and old; young or shared ones stay', async () => {
  const f = await fixture();
  try {
    const v1 = await writeObject(f, 'doc', Buffer.from('version one'));
    const copy = await writeObject(f, 'copy', Buffer.from('shared bytes'));
    await backdate(f.node.blobPath(v1.info.blob), 2 * HOUR);
    const v2 = await writeObject(f, 'doc', Buffer.from('version two'));
    assert.deepEqual(v2.orphaned, [v1.info.blob]);
    assert.equal(await f.gc.collect(v2.orphaned), 1);
    assert.equal(await f.node.has(v1.info.blob), false);

    // Overwritten moments after it was written: left for a later sweep, not deleted at once.
    const v3 = await writeObject(f, 'doc', Buffer.from('version three'));
    assert.deepEqual(v3.orphaned, [v2.info.blob]);
    assert.equal(await f.gc.collect(v3.orphaned), 0);
    assert.ok(await f.node.has(v2.info.blob));

    // Still referenced by another key, or not a content address at all: never deleted.
    await backdate(f.node.blobPath(copy.info.blob), 2 * HOUR);
    assert.equal(await f.gc.collect([copy.info.blob, '', '../escape']), 0);
    assert.ok(await f.node.has(copy.info.blob));
    assert.ok(await f.node.has(v3.info.blob));

    // The young orphan is swept once it is old enough.
    await backdate(f.node.blobPath(v2.info.blob), 2 * HOUR);
    assert.equal((await f.gc.runOnce()).blobsDeleted, 1);
    assert.equal(await f.node.has(v2.info.blob), false);
    assert.equal(await metric(f.registry, 'plinth_gc_blobs_deleted_total', { reason: 'orphan' }), 1);
    assert.equal(await metric(f.registry, 'plinth_gc_blobs_deleted_total', { reason: 'sweep' }), 1);
  } finally {
    await f.done();
  }
});

test('a put of the same bytes landing between the GC\'s reference check and its delete keeps the blob', async () => {
  const f = await fixture();
  try {
    const data = randomBytes(4096);
    const old = await writeObject(f, 'a', data);
    await f.meta.deleteVersion('bkt', 'a', 'null');
    await backdate(f.node.blobPath(old.info.blob), 2 * HOUR);
    let again: BlobInfo | undefined;
    // The real store, with step 2 of a new PUT of the same bytes slipped in just after the GC
    // learned the blob was unreferenced: the worst interleaving for it.
    const racing = new Proxy(f.meta, {
      get(target, prop) {
        if (prop === 'blobReferenced') {
          return async (blob: string) => {
            const answer = await target.blobReferenced(blob);
            await target.insertPending(pending('bkt', 'b', 'null'));
            again = await f.node.put(Readable.from([data]));
            return answer;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const gc = new GarbageCollector({ meta: racing, node: f.node, registry: new Registry(), logger: pino({ level: 'silent' }), gracePeriodMs: HOUR });
    assert.equal((await gc.runOnce()).blobsDeleted, 0);
    assert.equal(again!.blob, old.info.blob);
    await f.meta.commit('bkt', 'b', 'null', { size: again!.size, etag: `"${again!.md5}"`, xxhash64: again!.xxhash64, checksums: {}, placement: { blob: again!.blob, nodes: ['local'] }, lastModified: new Date() });
    assert.ok(data.equals(await read(f.node, again!)));
    assert.equal(await f.gc.collect([old.info.blob]), 0, 'now referenced');
  } finally {
    await f.done();
  }
});

test('metrics live on the given registry under plinth_gc_, and runs are counted', async () => {
  const f = await fixture();
  try {
    const other = new GarbageCollector({ meta: f.meta, node: f.node, registry: new Registry(), logger: pino({ level: 'silent' }) });
    await Promise.all([f.gc.runOnce(), other.runOnce()]);
    const names = (await f.registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.length >= 6);
    assert.ok(names.every((n) => n.startsWith('plinth_gc_')), names.join());
    assert.equal(globalRegistry.getSingleMetric('plinth_gc_runs_total'), undefined);
    assert.equal(await metric(f.registry, 'plinth_gc_runs_total'), 1);
    assert.match(await f.registry.metrics(), /plinth_gc_last_run_timestamp_seconds \d/);
  } finally {
    await f.done();
  }
});

test('overlapping runOnce calls share one run; start() runs on the interval until stop()', async () => {
  const f = await fixture({ intervalMs: 20 });
  try {
    const a = f.gc.runOnce();
    assert.equal(f.gc.runOnce(), a);
    await a;
    assert.equal(await metric(f.registry, 'plinth_gc_runs_total'), 1);
    f.gc.start();
    await new Promise((r) => setTimeout(r, 150));
    await f.gc.stop();
    const runs = await metric(f.registry, 'plinth_gc_runs_total');
    assert.ok(runs >= 3, `${runs} runs`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(await metric(f.registry, 'plinth_gc_runs_total'), runs);
  } finally {
    await f.done();
  }
});

test('a failing metadata store is counted and logged, never thrown', async () => {
  const f = await fixture();
  try {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const gc = new GarbageCollector({ meta: f.meta, node: f.node, registry: new Registry(), logger, gracePeriodMs: HOUR });
    const info = await f.node.put(Readable.from([Buffer.from('orphan')]));
    await backdate(f.node.blobPath(info.blob), 2 * HOUR);
    await f.meta.close();
    const report = await gc.runOnce();
    assert.equal(report.errors, 4, 'pending, uploads, completions and the one blob check failed; the temp phase ran');
    assert.equal(await gc.collect([info.blob]), 0);
    assert.ok(await f.node.has(info.blob), 'when references cannot be checked nothing is deleted');
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'garbage collection step failed'));
  } finally {
    await f.done();
  }
});

test('scrub with metadata tells which corrupt blobs still need repair', async () => {
  const f = await fixture();
  try {
    const live = await writeObject(f, 'live', randomBytes(2048));
    const dead = await f.node.put(Readable.from([randomBytes(2048)]));
    for (const blob of [live.info.blob, dead.blob]) {
      const bytes = await readFile(f.node.blobPath(blob));
      bytes[7]! ^= 1;
      await writeFile(f.node.blobPath(blob), bytes);
    }
    const report = await scrubOnce(f.node, f.meta);
    assert.equal(report.scanned, 2);
    const byBlob = Object.fromEntries(report.corrupt.map((c) => [c.blob, c.referenced]));
    assert.deepEqual(byBlob, { [live.info.blob]: true, [dead.blob]: false });
    assert.equal((await readdir(join(f.dir, 'data', 'quarantine'))).length, 2);
  } finally {
    await f.done();
  }
});
