/**
 * Two gateways sharing one metadata store and one data directory, as several `plinth serve`
 * processes behind a load balancer would: conditional writes and multipart completion are
 * decided inside the metadata commit, so races between gateways have exactly one winner.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { newBucket } from './helpers/buckets.js';
import { metadataBackends, stopTestPostgres, type MetadataTestEnv } from './helpers/postgres.js';
import { bytesOf, rejectsWith, sweep } from './helpers/s3.js';
import { startPlinth, type PlinthHarness } from './helpers/server.js';

const MiB = 1024 * 1024;
const WRITERS = 16;

type Outcome = PromiseSettledResult<unknown>;

const winners = (outcomes: Outcome[]) => outcomes.filter((o) => o.status === 'fulfilled').length;

/** The S3 error codes of the losers. */
function refusals(outcomes: Outcome[]): string[] {
  return outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => (o.reason as Error).name);
}

after(stopTestPostgres);

for (const backend of metadataBackends()) {
  describe(`two gateways on one metadata store (${backend.name})`, () => {
    let env: MetadataTestEnv;
    let first: PlinthHarness;
    let second: PlinthHarness;
    /** Client i talks to gateway i % 2. */
    let clients: S3Client[];
    let Bucket: string;

    before(async () => {
      env = await backend.open();
      first = await startPlinth({ metadata: env.url, dataDir: env.dataDir });
      const admin = { accessKey: first.credentials.accessKeyId, secretKey: first.credentials.secretAccessKey, id: 'admin', displayName: 'admin' };
      second = await startPlinth({ metadata: env.url, dataDir: env.dataDir, admin });
      clients = [first.client, second.client];
      Bucket = await newBucket(first.client, 'gateways');
    });

    after(async () => {
      await second?.stop();
      await first?.stop();
      await env?.cleanup();
    });

    const via = (i: number) => clients[i % 2]!;

    it('lets exactly one of 16 create-only PUTs (If-None-Match: *) through, whichever gateway they reach', async () => {
      const bodies = Array.from({ length: WRITERS }, (_, i) => `writer ${i} ${randomBytes(8).toString('hex')}`);
      const outcomes = await Promise.allSettled(bodies.map((Body, i) => via(i).send(new PutObjectCommand({ Bucket, Key: 'create-once', Body, IfNoneMatch: '*' }))));
      assert.equal(winners(outcomes), 1);
      assert.deepEqual(new Set(refusals(outcomes)), new Set(['PreconditionFailed']));
      const won = outcomes.findIndex((o) => o.status === 'fulfilled');
      for (const client of clients) {
        const got = await client.send(new GetObjectCommand({ Bucket, Key: 'create-once' }));
        assert.equal((await bytesOf(got.Body)).toString(), bodies[won]);
      }
    });

    it('lets exactly one of 16 compare-and-swap PUTs (If-Match) through, across gateways', async () => {
      const { ETag } = await first.client.send(new PutObjectCommand({ Bucket, Key: 'cas', Body: 'version 0' }));
      const bodies = Array.from({ length: WRITERS }, (_, i) => `version 1 by writer ${i}`);
      const outcomes = await Promise.allSettled(bodies.map((Body, i) => via(i).send(new PutObjectCommand({ Bucket, Key: 'cas', Body, IfMatch: ETag }))));
      assert.equal(winners(outcomes), 1);
      assert.deepEqual(new Set(refusals(outcomes)), new Set(['PreconditionFailed']));
      const won = outcomes.findIndex((o) => o.status === 'fulfilled');
      const got = await second.client.send(new GetObjectCommand({ Bucket, Key: 'cas' }));
      assert.equal((await bytesOf(got.Body)).toString(), bodies[won]);
    });

    /** An upload of two parts (5 MiB and a tail), ready to complete. */
    async function upload(Key: string, bucket = Bucket): Promise<{ UploadId: string; body: Buffer; Parts: { PartNumber: number; ETag: string }[] }> {
      const { UploadId } = await first.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
      const chunks = [randomBytes(5 * MiB), randomBytes(1000)];
      const Parts = [];
      for (const [i, Body] of chunks.entries()) {
        const { ETag } = await via(i).send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: i + 1, Body }));
        Parts.push({ PartNumber: i + 1, ETag: ETag! });
      }
      return { UploadId: UploadId!, body: Buffer.concat(chunks), Parts };
    }

    it('completes an upload once when both gateways are asked to at the same time', async () => {
      // Versioned, so a second commit would show as a second version.
      const versioned = await newBucket(first.client, 'gateways-race', { versioning: 'Enabled' });
      for (let round = 0; round < 4; round++) {
        const Key = `completed-twice-${round}`;
        const { UploadId, body, Parts } = await upload(Key, versioned);
        const complete = (client: S3Client) => client.send(new CompleteMultipartUploadCommand({ Bucket: versioned, Key, UploadId, MultipartUpload: { Parts } }));
        const outcomes = await Promise.allSettled(clients.map(complete));
        // One commit. The other Complete finds NoSuchUpload or, finding the upload gone, is
        // answered as a retry of the first (as S3 answers a repeated Complete): the same version.
        const answers = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [`${o.value.ETag} ${o.value.VersionId}`] : []));
        assert.ok(answers.length >= 1, `round ${round}: ${String(refusals(outcomes))}`);
        assert.ok(refusals(outcomes).every((code) => code === 'NoSuchUpload'), String(refusals(outcomes)));
        assert.equal(new Set(answers).size, 1, 'every Complete that succeeded names the same version');
        const { Versions } = await second.client.send(new ListObjectVersionsCommand({ Bucket: versioned, Prefix: Key }));
        assert.deepEqual(Versions?.map((v) => `${v.ETag} ${v.VersionId}`), [answers[0]], 'one commit');
        await sweep(first);
        const got = await second.client.send(new GetObjectCommand({ Bucket: versioned, Key }));
        assert.ok((await bytesOf(got.Body)).equals(body), 'the parts the object uses survive the collector');
      }
    });

    it('settles a Complete racing an Abort on the other gateway one way or the other, never both', async () => {
      for (let round = 0; round < 4; round++) {
        const Key = `complete-or-abort-${round}`;
        const { UploadId, body, Parts } = await upload(Key);
        const [completed, aborted] = await Promise.allSettled([
          via(round).send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } })),
          via(round + 1).send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })),
        ]);
        assert.equal(winners([completed!, aborted!]), 1, `round ${round}: exactly one of Complete and Abort succeeds`);
        assert.deepEqual(refusals([completed!, aborted!]), ['NoSuchUpload']);
        await sweep(first);
        if (completed!.status === 'fulfilled') {
          const got = await first.client.send(new GetObjectCommand({ Bucket, Key }));
          assert.ok((await bytesOf(got.Body)).equals(body));
        } else {
          await rejectsWith(first.client.send(new HeadObjectCommand({ Bucket, Key })), undefined, 404);
        }
      }
    });
  });
}
