/**
 * Crash safety of a real `plinth serve` process, once per metadata backend: it is killed with
 * SIGKILL while PutObjects stream in and while CompleteMultipartUploads run, restarted on the same
 * data directory, and then
 * - every acknowledged write is there with exactly its bytes, and no key ever shows bytes that
 *   were not one complete body sent for it;
 * - every multipart upload is either a whole object with S3's multipart ETag or still listed and
 *   completable;
 * - after a garbage collection with no grace period, the blobs on disk are exactly the ones the
 *   surviving objects and uploads are made of, and no temp file is left.
 *
 * PLINTH_FUZZ_SEED seeds body sizes, key choices and kill delays (printed as a diagnostic). Requests
 * race the kills, so no seed replays a run exactly: what a delay catches in flight depends on the
 * machine.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { metadataBackends, stopTestPostgres, type MetadataTestEnv } from './helpers/postgres.js';
import { fuzzSeed, SeededRandom } from './helpers/random.js';
import { bytesOf, rejectsWith, sweep } from './helpers/s3.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startPlinth } from './helpers/server.js';

const MiB = 1024 * 1024;
const ADMIN = { accessKey: 'CRASHADMIN', secretKey: 'crash-admin-secret' };
const PUT_BUCKET = 'crash-puts';
const MULTIPART_BUCKET = 'crash-multipart';
/** Concurrent PutObject streams while the server is up. */
const WRITERS = 8;
const PUT_ROUNDS = 3;
const MULTIPART_ROUNDS = 2;
const UPLOADS_PER_ROUND = 4;
/** Streamed bodies go out this many bytes at a time with a timer tick in between, so a kill finds many mid-body. */
const STREAM_CHUNK = 64 * 1024;

const seed = fuzzSeed();
const random = new SeededRandom(seed);

const hex = (algorithm: 'md5' | 'sha256', data: Buffer) => createHash(algorithm).update(data).digest('hex');

interface Content {
  md5: string;
  /** The blob's name on the data node: content addressing makes it computable here. */
  sha256: string;
  size: number;
}

function contentOf(data: Buffer): Content {
  return { md5: hex('md5', data), sha256: hex('sha256', data), size: data.length };
}

interface PutAttempt extends Content {
  round: number;
  acked: boolean;
}

interface Upload {
  key: string;
  uploadId: string;
  parts: (Content & { PartNumber: number; ETag: string })[];
  /** MD5 and size of the whole object. */
  md5: string;
  size: number;
  /** S3's multipart ETag, computed here: MD5 of the binary part MD5s, dash, part count. */
  etag: string;
  acked: boolean;
}

function paced(data: Buffer): Readable {
  return Readable.from(
    (async function* () {
      for (let at = 0; at < data.length; at += STREAM_CHUNK) {
        yield data.subarray(at, at + STREAM_CHUNK);
        await sleep(1);
      }
    })(),
  );
}

/**
 * Kills a server with SIGKILL some time after the first of the requests sent through it is
 * acknowledged, so every round has acknowledged writes and writes cut short whatever the
 * machine's speed.
 */
class Killer {
  killed = false;
  private acknowledged!: () => void;
  private readonly firstAck = new Promise<void>((resolve) => (this.acknowledged = resolve));

  constructor(private readonly server: ServeProcess) {}

  /** Resolves whether the request was acknowledged. A failure before the kill fails the test; from the kill on they are the point. */
  async send(request: () => Promise<unknown>): Promise<boolean> {
    try {
      await request();
    } catch (err) {
      if (!this.killed) throw err;
      return false;
    }
    this.acknowledged();
    return true;
  }

  async killAfterFirstAck(delayMs: number): Promise<void> {
    await this.firstAck;
    await sleep(delayMs);
    this.killed = true;
    await this.server.kill('SIGKILL');
  }
}

async function listAll<T>(page: (token: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  do {
    const { items, next } = await page(token);
    all.push(...items);
    token = next;
  } while (token !== undefined);
  return all;
}

/** Blob and chunk-table files under the node's blobs/ (fan-out directories walked). */
async function blobFiles(dataDir: string): Promise<{ blobs: string[]; tables: string[] }> {
  const entries = await readdir(join(dataDir, 'data', 'blobs'), { recursive: true, withFileTypes: true });
  const names = entries.filter((e) => e.isFile()).map((e) => e.name);
  return { blobs: names.filter((n) => !n.endsWith('.xxc')).sort(), tables: names.filter((n) => n.endsWith('.xxc')).sort() };
}

after(stopTestPostgres);

for (const backend of metadataBackends()) {
  describe(`crash safety of plinth serve under kill -9 (${backend.name})`, () => {
    let env: MetadataTestEnv;
    let server: ServeProcess | undefined;
    /** Every PutObject sent, per key, in the order sent (one per key per round). */
    const puts = new Map<string, PutAttempt[]>();
    const uploads: Upload[] = [];
    const verified = new Set<Upload>();
    /** An upload never completed: its parts must outlive the collector. */
    let live: Upload | undefined;

    before(async () => (env = await backend.open()));
    after(async () => {
      await server?.kill('SIGKILL');
      await env.cleanup();
    });

    async function restart(): Promise<S3Client> {
      server = await startServe({ dataDir: env.dataDir, metadata: env.url, ...ADMIN });
      return server.client();
    }

    /**
     * Checks the put bucket against what was sent and resolves which PUT each visible key shows.
     * A key may show any complete body sent since its last acknowledged PUT (an unacknowledged
     * one may have committed before the kill), and may be absent only if no PUT was acknowledged.
     */
    async function checkPuts(s3: S3Client): Promise<Map<string, PutAttempt>> {
      const listed = new Map(
        (
          await listAll(async (ContinuationToken) => {
            const page = await s3.send(new ListObjectsV2Command({ Bucket: PUT_BUCKET, ContinuationToken }));
            return { items: page.Contents ?? [], next: page.NextContinuationToken };
          })
        ).map((o) => [o.Key!, o]),
      );
      for (const key of listed.keys()) assert.ok(puts.has(key), `${key} is listed but was never written`);
      const visible = new Map<string, PutAttempt>();
      for (const [key, attempts] of puts) {
        const lastAcked = attempts.map((a) => a.acked).lastIndexOf(true);
        const entry = listed.get(key);
        if (!entry) {
          assert.equal(lastAcked, -1, `${key}: its round ${attempts[lastAcked]?.round} PUT was acknowledged, yet the key is gone`);
          await rejectsWith(s3.send(new GetObjectCommand({ Bucket: PUT_BUCKET, Key: key })), 'NoSuchKey', 404);
          continue;
        }
        const got = contentOf(await bytesOf((await s3.send(new GetObjectCommand({ Bucket: PUT_BUCKET, Key: key }))).Body));
        const shown = attempts.slice(Math.max(lastAcked, 0)).find((a) => a.md5 === got.md5 && a.size === got.size);
        assert.ok(shown, `${key}: ${got.size} bytes (MD5 ${got.md5}) that are not a whole body sent since its last acknowledged PUT`);
        assert.equal(entry.ETag, `"${shown.md5}"`, `${key}: listed ETag`);
        assert.equal(entry.Size, shown.size, `${key}: listed size`);
        visible.set(key, shown);
      }
      return visible;
    }

    /**
     * Each upload is a whole object with the multipart ETag, or still listed (or both, when the
     * kill fell between the commit and the upload's removal); an acknowledged one is an object
     * and no longer listed. Listed ones are completed here, which must work.
     */
    async function checkUploads(s3: S3Client): Promise<void> {
      const listed = new Set(
        (
          await listAll(async (KeyMarker) => {
            const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: MULTIPART_BUCKET, KeyMarker }));
            return { items: page.Uploads ?? [], next: page.IsTruncated ? page.NextKeyMarker : undefined };
          })
        ).map((u) => u.UploadId!),
      );
      assert.ok(live && listed.has(live.uploadId), 'the upload never completed is still listed');
      const objects = await s3.send(new ListObjectsV2Command({ Bucket: MULTIPART_BUCKET }));
      for (const o of objects.Contents ?? []) assert.ok(uploads.some((u) => u.key === o.Key), `${o.Key} is listed but no upload made it`);
      for (const upload of uploads) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: MULTIPART_BUCKET, Key: upload.key })).catch((err: { $metadata?: { httpStatusCode?: number } }) => {
          if (err.$metadata?.httpStatusCode === 404) return undefined;
          throw err;
        });
        const isListed = listed.has(upload.uploadId);
        if (upload.acked) assert.ok(head && !isListed, `${upload.key}: acknowledged, so an object (${head !== undefined}) and no upload (${isListed})`);
        assert.ok(head || isListed, `${upload.key}: neither an object nor a listed upload`);
        if (isListed) {
          const { Parts } = await s3.send(new ListPartsCommand({ Bucket: MULTIPART_BUCKET, Key: upload.key, UploadId: upload.uploadId }));
          assert.deepEqual(Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), upload.parts.map((p) => [p.PartNumber, p.ETag, p.size]), `${upload.key}: parts kept`);
          const done = await s3.send(complete(upload));
          assert.equal(done.ETag, upload.etag, `${upload.key}: completed after the restart`);
          upload.acked = true;
        }
        // Bytes read back once; later crashes only have to leave the object as it was.
        if (verified.has(upload)) {
          assert.deepEqual([head?.ETag, head?.ContentLength], [upload.etag, upload.size], `${upload.key}: still the completed object`);
        } else {
          const got = await s3.send(new GetObjectCommand({ Bucket: MULTIPART_BUCKET, Key: upload.key }));
          assert.equal(got.ETag, upload.etag, `${upload.key}: ETag`);
          assert.equal(hex('md5', await bytesOf(got.Body)), upload.md5, `${upload.key}: bytes`);
          verified.add(upload);
        }
      }
    }

    function complete(upload: Upload): CompleteMultipartUploadCommand {
      return new CompleteMultipartUploadCommand({
        Bucket: MULTIPART_BUCKET,
        Key: upload.key,
        UploadId: upload.uploadId,
        MultipartUpload: { Parts: upload.parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
      });
    }

    async function startUpload(s3: S3Client, key: string): Promise<Upload> {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: MULTIPART_BUCKET, Key: key }));
      const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB)];
      if (random.chance(0.5)) bodies.push(randomBytes(random.int(1, 300_000)));
      const parts = [];
      for (const [i, body] of bodies.entries()) {
        const { ETag } = await s3.send(new UploadPartCommand({ Bucket: MULTIPART_BUCKET, Key: key, UploadId, PartNumber: i + 1, Body: body }));
        parts.push({ ...contentOf(body), PartNumber: i + 1, ETag: ETag! });
      }
      const etag = `"${hex('md5', Buffer.concat(parts.map((p) => Buffer.from(p.md5, 'hex'))))}-${parts.length}"`;
      const whole = Buffer.concat(bodies);
      return { key, uploadId: UploadId!, parts, md5: hex('md5', whole), size: whole.length, etag, acked: false };
    }

    it('keeps every acknowledged PutObject whole and never shows a partial one', async (t) => {
      t.diagnostic(`seed ${seed} (replay with PLINTH_FUZZ_SEED=${seed})`);
      let keys = 0;
      for (let round = 0; round < PUT_ROUNDS; round++) {
        const s3 = await restart();
        if (round === 0) await s3.send(new CreateBucketCommand({ Bucket: PUT_BUCKET }));
        else await checkPuts(s3);
        const earlier = [...puts.keys()];
        const usedThisRound = new Set<string>();
        const killer = new Killer(server!);
        const writer = async (): Promise<void> => {
          while (!killer.killed) {
            const reuse = earlier.filter((k) => !usedThisRound.has(k));
            const key = reuse.length > 0 && random.chance(0.5) ? random.pick(reuse) : `object-${keys++}`;
            usedThisRound.add(key);
            const data = randomBytes(random.chance(0.3) ? random.int(MiB, 4 * MiB) : random.int(0, 96 * 1024));
            const attempt: PutAttempt = { ...contentOf(data), round, acked: false };
            puts.set(key, [...(puts.get(key) ?? []), attempt]);
            attempt.acked = await killer.send(() => s3.send(new PutObjectCommand({ Bucket: PUT_BUCKET, Key: key, Body: paced(data), ContentLength: data.length })));
          }
        };
        await Promise.all([killer.killAfterFirstAck(random.int(0, 1000)), ...Array.from({ length: WRITERS }, writer)]);
      }
      const s3 = await restart();
      await checkPuts(s3);
      await server!.kill('SIGKILL');
      const attempts = [...puts.values()].flat();
      const acked = attempts.filter((a) => a.acked).length;
      t.diagnostic(`${attempts.length} PUTs to ${puts.size} keys, ${acked} acknowledged`);
      assert.ok(acked < attempts.length, 'some PUTs were cut by a kill');
    });

    it('leaves each CompleteMultipartUpload done or completable, never half an object', async (t) => {
      let s3 = await restart();
      await s3.send(new CreateBucketCommand({ Bucket: MULTIPART_BUCKET }));
      live = await startUpload(s3, 'never-completed');
      for (let round = 0; round < MULTIPART_ROUNDS; round++) {
        const batch = await Promise.all(Array.from({ length: UPLOADS_PER_ROUND }, (_, i) => startUpload(s3, `round-${round}/upload-${i}`)));
        uploads.push(...batch);
        const killer = new Killer(server!);
        // Staggered, so the kill after the first acknowledgement finds the later ones in flight.
        const step = random.int(0, 10);
        const completing = batch.map(async (upload, i) => {
          await sleep(i * step);
          upload.acked = await killer.send(() => s3.send(complete(upload)));
        });
        await Promise.all([killer.killAfterFirstAck(random.int(0, 8)), ...completing]);
        t.diagnostic(`round ${round}: ${batch.filter((u) => u.acked).length} of ${batch.length} completions acknowledged before the kill`);
        s3 = await restart();
        await checkUploads(s3);
      }
      await server!.kill('SIGKILL');
    });

    it('keeps exactly the referenced blobs and no temp file once the collector has run', async () => {
      // The collector runs in-process with no grace period, on the store the killed process left.
      const h = await startPlinth({ dataDir: env.dataDir, metadata: env.url, admin: { ...ADMIN, displayName: 'admin' } });
      try {
        const visible = await checkPuts(h.client);
        await checkUploads(h.client);
        const referenced = new Set([...visible.values()].map((a) => a.sha256));
        for (const upload of [...uploads, live!]) for (const part of upload.parts) referenced.add(part.sha256);
        const tmp = join(env.dataDir, 'data', 'tmp');
        const before = await blobFiles(env.dataDir);
        const orphans = before.blobs.filter((b) => !referenced.has(b));
        const temps = await readdir(tmp);
        assert.ok(orphans.length + temps.length > 0, 'the kills and overwrites left garbage to collect');

        const report = await sweep(h);
        assert.equal(report.blobsDeleted, orphans.length, 'the collector deleted every orphan and nothing else');
        assert.equal(report.tempRemoved, temps.length);
        const { blobs, tables } = await blobFiles(env.dataDir);
        assert.deepEqual(blobs, [...referenced].sort(), 'the blobs on disk are exactly the referenced ones');
        for (const table of tables) assert.ok(blobs.includes(table.slice(0, -'.xxc'.length)), `chunk table ${table} has its blob`);
        assert.deepEqual(await readdir(tmp), []);
        assert.deepEqual(await h.server.meta.stalePending(new Date(Date.now() + 60_000)), [], 'no pending version is left');
      } finally {
        await h.stop();
      }
    });
  });
}
