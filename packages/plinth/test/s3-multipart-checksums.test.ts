import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ChecksumAlgorithm,
  type ChecksumType,
  type CompletedPart,
  type CompleteMultipartUploadCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { combineCrcs } from '../src/s3/crc-combine.js';
import { metadataBackends } from './helpers/postgres.js';
import { bytesOf, describeEachBackend, rejectsWith } from './helpers/s3.js';
import { downgradeToSchema } from './helpers/schema.js';
import { startPlinth, type PlinthHarness } from './helpers/server.js';

/**
 * Multipart checksums (CreateMultipartUpload's x-amz-checksum-algorithm and -type, part
 * checksums, the object's COMPOSITE or FULL_OBJECT checksum) through @aws-sdk/client-s3. Every
 * expected value is computed here from the bytes, with node:crypto, node:zlib's CRC32 and the
 * table-driven CRCs below, never with the server's code.
 */

const MiB = 1024 * 1024;

/** A reflected CRC that starts from all ones and ends XORed with all ones, byte by byte from its table. */
function reflectedCrc(width: number, poly: bigint): (data: Buffer) => Buffer {
  const mask = (1n << BigInt(width)) - 1n;
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    return c;
  });
  return (data) => {
    let c = mask;
    for (const byte of data) c = table[Number((c ^ BigInt(byte)) & 0xffn)]! ^ (c >> 8n);
    return Buffer.from((c ^ mask).toString(16).padStart(width / 4, '0'), 'hex');
  };
}

const crc32c = reflectedCrc(32, 0x82f63b78n);
const crc64nvme = reflectedCrc(64, 0x9a6c9329ac4bc9b5n);

/**
 * Digests already computed, by buffer: the reference CRCs take BigInt steps byte by byte, about
 * 0.1 s a MiB, and the tests ask for the digest of one 5 MiB part several times.
 */
const known = new WeakMap<Buffer, Map<ChecksumAlgorithm, Buffer>>();

/** The digest S3 names `algorithm`, as bytes. */
function digest(algorithm: ChecksumAlgorithm, data: Buffer): Buffer {
  const ofData = known.get(data) ?? new Map<ChecksumAlgorithm, Buffer>();
  known.set(data, ofData);
  const value = ofData.get(algorithm) ?? computeDigest(algorithm, data);
  ofData.set(algorithm, value);
  return value;
}

function computeDigest(algorithm: ChecksumAlgorithm, data: Buffer): Buffer {
  switch (algorithm) {
    case 'CRC32': {
      const value = Buffer.alloc(4);
      value.writeUInt32BE(crc32(data));
      return value;
    }
    case 'CRC32C':
      return crc32c(data);
    case 'CRC64NVME':
      return crc64nvme(data);
    default:
      return createHash(algorithm.toLowerCase()).update(data).digest();
  }
}

const base64 = (algorithm: ChecksumAlgorithm, data: Buffer) => digest(algorithm, data).toString('base64');

/** The object checksum S3 documents: the checksum of the whole object, or of the parts' binary checksums with -N. */
function objectChecksum(algorithm: ChecksumAlgorithm, type: ChecksumType, parts: Buffer[]): string {
  if (type === 'FULL_OBJECT') return base64(algorithm, Buffer.concat(parts));
  return `${base64(algorithm, Buffer.concat(parts.map((part) => digest(algorithm, part))))}-${parts.length}`;
}

/** The Checksum<ALGORITHM> member of an SDK input or output. */
const field = (algorithm: ChecksumAlgorithm) => `Checksum${algorithm}` as const;
const checksumOf = (output: object, algorithm: ChecksumAlgorithm) => (output as Record<string, unknown>)[field(algorithm)];

/** Expects an S3 error with this code, status and message. */
async function rejectsSaying(call: Promise<unknown>, code: string, status: number, message: string | RegExp): Promise<void> {
  await assert.rejects(call, (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(err.name, code);
    assert.equal(err.$metadata?.httpStatusCode, status);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const CASES: [ChecksumAlgorithm, ChecksumType][] = [
  ['CRC32', 'COMPOSITE'],
  ['CRC32C', 'COMPOSITE'],
  ['SHA1', 'COMPOSITE'],
  ['SHA256', 'COMPOSITE'],
  ['CRC32', 'FULL_OBJECT'],
  ['CRC32C', 'FULL_OBJECT'],
  ['CRC64NVME', 'FULL_OBJECT'],
];

describe('CRC combination', () => {
  it('is checked against reference CRCs that give the published check values of "123456789"', () => {
    const check = Buffer.from('123456789');
    assert.equal(digest('CRC32', check).toString('hex'), 'cbf43926');
    assert.equal(crc32c(check).toString('hex'), 'e3069283');
    assert.equal(crc64nvme(check).toString('hex'), 'ae8b14860a799888');
  });

  it('gives the CRC of the whole from the CRCs and sizes of the pieces of any split, empty pieces included', () => {
    const data = randomBytes(3000);
    for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
      for (let trial = 0; trial < 20; trial++) {
        const cuts = [0, ...Array.from({ length: trial % 6 }, () => Math.floor(Math.random() * 3001)), 3000].sort((a, b) => a - b);
        const pieces = cuts.slice(1).map((end, i) => ({ checksum: base64(algorithm, data.subarray(cuts[i], end)), size: end - cuts[i]! }));
        assert.equal(combineCrcs(algorithm.toLowerCase() as 'crc32', pieces), base64(algorithm, data), `${algorithm} cut at ${cuts.join(',')}`);
      }
    }
    assert.equal(combineCrcs('crc64nvme', []), base64('CRC64NVME', Buffer.alloc(0)));
  });
});

describeEachBackend('multipart checksums', (server) => {
  let plinth: PlinthHarness;
  let s3: S3Client;
  /** Sends no checksum unless told to (the SDK's default adds CRC32 to every part). */
  let bare: S3Client;
  const Bucket = 'checksums';
  let keys = 0;
  const newKey = () => `object-${++keys}`;

  before(async () => {
    plinth = server();
    s3 = plinth.client;
    bare = plinth.clientFor(plinth.credentials, { requestChecksumCalculation: 'WHEN_REQUIRED' });
    await s3.send(new CreateBucketCommand({ Bucket }));
  });

  async function create(Key: string, ChecksumAlgorithm?: ChecksumAlgorithm, ChecksumType?: ChecksumType): Promise<string> {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm, ChecksumType }));
    return UploadId!;
  }

  /** Uploads one part with the SDK computing `algorithm` over it; the part as Complete lists it. */
  async function part(Key: string, UploadId: string, PartNumber: number, Body: Buffer, algorithm: ChecksumAlgorithm): Promise<CompletedPart> {
    const out = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ChecksumAlgorithm: algorithm }));
    assert.equal(checksumOf(out, algorithm), base64(algorithm, Body), 'UploadPart answers the part checksum');
    return { PartNumber, ETag: out.ETag, [field(algorithm)]: checksumOf(out, algorithm) };
  }

  function complete(Key: string, UploadId: string, Parts: CompletedPart[], extra: Partial<CompleteMultipartUploadCommandInput> = {}) {
    return s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts }, ...extra }));
  }

  describe('CreateMultipartUpload', () => {
    it('records the algorithm and type (COMPOSITE by default, FULL_OBJECT for CRC64NVME) and shows them in its answer and the listings', async () => {
      const defaults: [ChecksumAlgorithm, ChecksumType][] = [['CRC32', 'COMPOSITE'], ['CRC32C', 'COMPOSITE'], ['SHA1', 'COMPOSITE'], ['SHA256', 'COMPOSITE'], ['CRC64NVME', 'FULL_OBJECT']];
      type Request = [algorithm: ChecksumAlgorithm, asked: ChecksumType | undefined, answered: ChecksumType];
      const requests = [...defaults.map(([a, t]): Request => [a, undefined, t]), ...CASES.map(([a, t]): Request => [a, t, t])];
      for (const [algorithm, asked, type] of requests) {
        const Key = newKey();
        const out = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: algorithm, ChecksumType: asked }));
        assert.deepEqual([out.ChecksumAlgorithm, out.ChecksumType], [algorithm, type], `${algorithm} ${asked}`);
        const parts = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId: out.UploadId }));
        assert.deepEqual([parts.ChecksumAlgorithm, parts.ChecksumType], [algorithm, type]);
        const { Uploads } = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: Key }));
        assert.deepEqual(Uploads?.map((u) => [u.ChecksumAlgorithm, u.ChecksumType]), [[algorithm, type]]);
      }
      const lower = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: newKey(), ChecksumAlgorithm: 'crc32c' as ChecksumAlgorithm, ChecksumType: 'full_object' as ChecksumType }));
      assert.deepEqual([lower.ChecksumAlgorithm, lower.ChecksumType], ['CRC32C', 'FULL_OBJECT'], 'the headers are case-insensitive');
      const plain = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: newKey() }));
      assert.deepEqual([plain.ChecksumAlgorithm, plain.ChecksumType], [undefined, undefined]);
    });

    it('refuses a type without an algorithm, an unknown algorithm or type, and FULL_OBJECT SHAs or COMPOSITE CRC64NVME', async () => {
      const createWith = (ChecksumAlgorithm?: string, ChecksumType?: string) =>
        s3.send(new CreateMultipartUploadCommand({ Bucket, Key: newKey(), ChecksumAlgorithm: ChecksumAlgorithm as ChecksumAlgorithm, ChecksumType: ChecksumType as ChecksumType }));
      await rejectsSaying(createWith(undefined, 'COMPOSITE'), 'InvalidRequest', 400, 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
      await rejectsSaying(createWith('MD4'), 'InvalidRequest', 400, /^Checksum algorithm provided is unsupported/);
      await rejectsSaying(createWith('CRC32', 'PARTIAL'), 'InvalidRequest', 400, 'Value for x-amz-checksum-type header is invalid.');
      await rejectsSaying(createWith('SHA1', 'FULL_OBJECT'), 'InvalidRequest', 400, 'The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.');
      await rejectsSaying(createWith('SHA256', 'FULL_OBJECT'), 'InvalidRequest', 400, 'The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.');
      await rejectsSaying(createWith('CRC64NVME', 'COMPOSITE'), 'InvalidRequest', 400, 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
    });
  });

  for (const [algorithm, type] of CASES) {
    it(`${algorithm} ${type}: parts verified and kept, the object's checksum made from theirs and served with checksum mode`, async () => {
      const Key = newKey();
      const bodies = [randomBytes(5 * MiB), randomBytes(4321)];
      const UploadId = await create(Key, algorithm, type);
      const Parts = [await part(Key, UploadId, 1, bodies[0]!, algorithm), await part(Key, UploadId, 2, bodies[1]!, algorithm)];
      const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
      assert.deepEqual(listed.Parts?.map((p) => checksumOf(p, algorithm)), bodies.map((b) => base64(algorithm, b)));

      const expected = objectChecksum(algorithm, type, bodies);
      const done = await complete(Key, UploadId, Parts);
      assert.deepEqual([checksumOf(done, algorithm), done.ChecksumType], [expected, type]);

      const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      assert.deepEqual([checksumOf(head, algorithm), head.ChecksumType], [expected, type]);
      const plainHead = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      assert.deepEqual([checksumOf(plainHead, algorithm), plainHead.ChecksumType], [undefined, undefined], 'only with checksum mode');
      const [entry] = (await s3.send(new ListObjectsV2Command({ Bucket, Prefix: Key }))).Contents ?? [];
      assert.deepEqual([entry?.ChecksumAlgorithm, entry?.ChecksumType], [[algorithm], type], 'listings name the algorithm and type');
      // The SDK checks a FULL_OBJECT checksum against the body itself (and skips composite ones).
      const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      assert.equal(checksumOf(got, algorithm), expected);
      assert.ok((await bytesOf(got.Body)).equals(Buffer.concat(bodies)));
      for (const [index, body] of bodies.entries()) {
        const piece = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: index + 1, ChecksumMode: 'ENABLED' }));
        assert.deepEqual([checksumOf(piece, algorithm), piece.ChecksumType], [base64(algorithm, body), type], `part ${index + 1}`);
        assert.ok((await bytesOf(piece.Body)).equals(body));
      }
    });
  }

  it('serves the checksum with a range that covers the whole object, not with a smaller one', async () => {
    const Key = newKey();
    const body = randomBytes(1000);
    const UploadId = await create(Key, 'CRC32', 'FULL_OBJECT');
    await complete(Key, UploadId, [await part(Key, UploadId, 1, body, 'CRC32')]);
    const whole = await s3.send(new GetObjectCommand({ Bucket, Key, Range: 'bytes=0-999', ChecksumMode: 'ENABLED' }));
    assert.equal(whole.ChecksumCRC32, base64('CRC32', body));
    await bytesOf(whole.Body);
    const some = await s3.send(new HeadObjectCommand({ Bucket, Key, Range: 'bytes=0-998', ChecksumMode: 'ENABLED' }));
    assert.deepEqual([some.ChecksumCRC32, some.ChecksumType], [undefined, undefined]);
  });

  it("UploadPart: a part without the upload's checksum is refused for COMPOSITE and computed for FULL_OBJECT; another algorithm is refused", async () => {
    const body = randomBytes(2000);
    const Key = newKey();
    const composite = await create(Key, 'SHA256');
    await rejectsSaying(
      bare.send(new UploadPartCommand({ Bucket, Key, UploadId: composite, PartNumber: 1, Body: body })),
      'InvalidRequest', 400, 'Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: null',
    );
    // The SDK's default CRC32 on an upload of another algorithm.
    await rejectsSaying(
      s3.send(new UploadPartCommand({ Bucket, Key, UploadId: composite, PartNumber: 1, Body: body })),
      'InvalidRequest', 400, 'Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: crc32',
    );
    await rejectsSaying(
      s3.send(new UploadPartCommand({ Bucket, Key, UploadId: composite, PartNumber: 1, Body: body, ChecksumSHA256: base64('SHA256', randomBytes(8)) })),
      'BadDigest', 400, 'The SHA256 you specified did not match the calculated checksum.',
    );
    await rejectsSaying(
      s3.send(new UploadPartCommand({ Bucket, Key, UploadId: composite, PartNumber: 1, Body: body, ChecksumAlgorithm: 'SHA1', ChecksumSHA256: base64('SHA256', body) })),
      'InvalidRequest', 400, 'Value for x-amz-sdk-checksum-algorithm header is invalid.',
    );
    assert.deepEqual((await s3.send(new ListPartsCommand({ Bucket, Key, UploadId: composite }))).Parts, undefined, 'no refused part was kept');

    const fullKey = newKey();
    const full = await create(fullKey, 'CRC32C', 'FULL_OBJECT');
    const out = await bare.send(new UploadPartCommand({ Bucket, Key: fullKey, UploadId: full, PartNumber: 1, Body: body }));
    assert.equal(out.ChecksumCRC32C, base64('CRC32C', body), 'computed by the server');
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key: fullKey, UploadId: full }));
    assert.equal(listed.Parts?.[0]?.ChecksumCRC32C, base64('CRC32C', body));
  });

  describe('UploadPartCopy', () => {
    /** Sources: a multipart object (no checksum), one-blob objects without and with a stored checksum. */
    const multipartSource = [randomBytes(5 * MiB), randomBytes(1000)];
    const spanning = { range: `bytes=500-${500 + 5 * MiB - 1}`, bytes: Buffer.concat(multipartSource).subarray(500, 500 + 5 * MiB) };
    const unchecked = randomBytes(777);
    const kept = randomBytes(555);

    before(async () => {
      const UploadId = await create('source-multipart');
      const Parts = [];
      for (const [i, Body] of multipartSource.entries()) Parts.push({ PartNumber: i + 1, ETag: (await bare.send(new UploadPartCommand({ Bucket, Key: 'source-multipart', UploadId, PartNumber: i + 1, Body }))).ETag });
      await complete('source-multipart', UploadId, Parts);
      await bare.send(new PutObjectCommand({ Bucket, Key: 'source-unchecked', Body: unchecked }));
    });

    /** Copies a source, or a range of it, into a part; its ETag and checksum are checked against the bytes. The part as Complete lists it. */
    async function copy(Key: string, UploadId: string, PartNumber: number, source: string, bytes: Buffer, algorithm: ChecksumAlgorithm, CopySourceRange?: string): Promise<CompletedPart> {
      const { CopyPartResult } = await s3.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber, CopySource: `${Bucket}/${source}`, CopySourceRange }));
      const ETag = `"${createHash('md5').update(bytes).digest('hex')}"`;
      assert.deepEqual([CopyPartResult?.ETag, checksumOf(CopyPartResult!, algorithm)], [ETag, base64(algorithm, bytes)], `part ${PartNumber} from ${source}`);
      return { PartNumber, ETag, [field(algorithm)]: checksumOf(CopyPartResult!, algorithm) };
    }

    for (const [algorithm, type] of CASES) {
      it(`${algorithm} ${type}: the copied part's checksum is computed, kept and answered, and the object's made with it`, async () => {
        const Key = newKey();
        const UploadId = await create(Key, algorithm, type);
        // A range spanning the multipart source's two parts, then a whole one-blob source that
        // keeps no checksum: both read and written again, the checksum computed as they pass.
        const Parts = [await copy(Key, UploadId, 1, 'source-multipart', spanning.bytes, algorithm, spanning.range), await copy(Key, UploadId, 2, 'source-unchecked', unchecked, algorithm)];
        const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
        assert.deepEqual(listed.Parts?.map((p) => checksumOf(p, algorithm)), [spanning.bytes, unchecked].map((b) => base64(algorithm, b)));
        const done = await complete(Key, UploadId, Parts);
        assert.deepEqual([checksumOf(done, algorithm), done.ChecksumType], [objectChecksum(algorithm, type, [spanning.bytes, unchecked]), type]);
        const got = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 2, ChecksumMode: 'ENABLED' }));
        assert.equal(checksumOf(got, algorithm), base64(algorithm, unchecked));
        assert.ok((await bytesOf(got.Body)).equals(unchecked));
        assert.ok((await bytesOf((await s3.send(new GetObjectCommand({ Bucket, Key }))).Body)).equals(Buffer.concat([spanning.bytes, unchecked])));

        // A whole one-blob source that keeps a checksum in the upload's algorithm: its blob and
        // checksum are reused.
        const source = `source-kept-${algorithm}`;
        await s3.send(new PutObjectCommand({ Bucket, Key: source, Body: kept, ChecksumAlgorithm: algorithm }));
        assert.equal(checksumOf(await s3.send(new HeadObjectCommand({ Bucket, Key: source, ChecksumMode: 'ENABLED' })), algorithm), base64(algorithm, kept));
        const single = newKey();
        const singleId = await create(single, algorithm, type);
        const reused = await complete(single, singleId, [await copy(single, singleId, 1, source, kept, algorithm)]);
        assert.equal(checksumOf(reused, algorithm), objectChecksum(algorithm, type, [kept]));
        assert.ok((await bytesOf((await s3.send(new GetObjectCommand({ Bucket, Key: single }))).Body)).equals(kept));
      });
    }

    it("CopyObject of a multipart object recomputes its checksum over the whole copy, CRC64NVME's too", async () => {
      const body = randomBytes(3000);
      for (const [algorithm, type] of [['CRC64NVME', 'FULL_OBJECT'], ['SHA256', 'COMPOSITE']] as const) {
        const Key = newKey();
        const UploadId = await create(Key, algorithm, type);
        await complete(Key, UploadId, [await part(Key, UploadId, 1, body, algorithm)]);
        const { CopyObjectResult } = await s3.send(new CopyObjectCommand({ Bucket, Key: `${Key}-copy`, CopySource: `${Bucket}/${Key}` }));
        assert.equal(checksumOf(CopyObjectResult!, algorithm), base64(algorithm, body), algorithm);
        const head = await s3.send(new HeadObjectCommand({ Bucket, Key: `${Key}-copy`, ChecksumMode: 'ENABLED' }));
        assert.deepEqual([checksumOf(head, algorithm), head.ChecksumType], [base64(algorithm, body), 'FULL_OBJECT']);
      }
    });

    it('into an upload without an algorithm, answers no checksum, as before', async () => {
      const Key = newKey();
      const UploadId = await create(Key);
      const { CopyPartResult } = await s3.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 1, CopySource: `${Bucket}/source-unchecked` }));
      assert.deepEqual(Object.keys(CopyPartResult!).filter((name) => name.startsWith('Checksum')), []);
      const done = await complete(Key, UploadId, [{ PartNumber: 1, ETag: CopyPartResult!.ETag }]);
      assert.equal(done.ChecksumType, undefined);
    });
  });

  it('CompleteMultipartUpload checks the part checksums it lists against the stored ones', async () => {
    const Key = newKey();
    const body = randomBytes(3000);
    const UploadId = await create(Key, 'SHA1');
    const good = await part(Key, UploadId, 1, body, 'SHA1');
    const { ETag } = good;
    await rejectsSaying(complete(Key, UploadId, [{ PartNumber: 1, ETag }]), 'InvalidRequest', 400,
      'The upload was created using a sha1 checksum. The complete request must include the checksum for each part. It was missing for part 1 in the request.');
    await rejectsWith(complete(Key, UploadId, [{ PartNumber: 1, ETag, ChecksumSHA1: base64('SHA1', randomBytes(3)) }]), 'InvalidPart', 400);
    await rejectsSaying(complete(Key, UploadId, [{ PartNumber: 1, ETag, ChecksumSHA1: 'not base64!' }]), 'InvalidArgument', 400, 'Invalid Base64 or multiple checksums present in request');
    await rejectsSaying(complete(Key, UploadId, [{ PartNumber: 1, ETag, ChecksumSHA1: good.ChecksumSHA1, ChecksumCRC32: base64('CRC32', body) }]), 'InvalidArgument', 400, 'Invalid Base64 or multiple checksums present in request');
    await rejectsSaying(complete(Key, UploadId, [{ PartNumber: 1, ETag, ChecksumCRC32: base64('CRC32', body) }]), 'BadDigest', 400, 'The crc32 you specified for part 1 did not match what we received.');
    await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key })), undefined, 404);
    assert.equal((await complete(Key, UploadId, [good])).ChecksumSHA1, objectChecksum('SHA1', 'COMPOSITE', [body]));

    // With a checksum algorithm the parts must be numbered from 1 without gaps, as S3 documents.
    const gapKey = newKey();
    const gapped = await create(gapKey, 'SHA1');
    await rejectsWith(complete(gapKey, gapped, [await part(gapKey, gapped, 2, body, 'SHA1')]), 'InvalidPartOrder', 400);

    // FULL_OBJECT needs no part checksums in the list: the stored CRCs make the object's.
    const fullKey = newKey();
    const full = await create(fullKey, 'CRC32', 'FULL_OBJECT');
    const { ETag: fullEtag } = await part(fullKey, full, 1, body, 'CRC32');
    const done = await complete(fullKey, full, [{ PartNumber: 1, ETag: fullEtag }]);
    assert.deepEqual([done.ChecksumCRC32, done.ChecksumType], [base64('CRC32', body), 'FULL_OBJECT']);
  });

  it('CompleteMultipartUpload verifies a whole-object checksum and the checksum type sent with it', async () => {
    const Key = newKey();
    const bodies = [randomBytes(5 * MiB), randomBytes(10)];
    const UploadId = await create(Key, 'CRC32', 'FULL_OBJECT');
    const Parts = [await part(Key, UploadId, 1, bodies[0]!, 'CRC32'), await part(Key, UploadId, 2, bodies[1]!, 'CRC32')];
    const whole = base64('CRC32', Buffer.concat(bodies));
    await rejectsSaying(complete(Key, UploadId, Parts, { ChecksumCRC32: base64('CRC32', bodies[0]!) }), 'BadDigest', 400, 'The crc32 you specified did not match the calculated checksum.');
    await rejectsWith(s3.send(new HeadObjectCommand({ Bucket, Key })), undefined, 404);
    await rejectsSaying(complete(Key, UploadId, Parts, { ChecksumCRC32: 'AAAA' }), 'InvalidRequest', 400, 'Value for x-amz-checksum-crc32 header is invalid.');
    await rejectsSaying(complete(Key, UploadId, Parts, { ChecksumCRC32: whole, ChecksumType: 'COMPOSITE' }), 'InvalidRequest', 400,
      'The upload was created using the FULL_OBJECT checksum mode. The complete request must use the same checksum mode.');
    await rejectsSaying(complete(Key, UploadId, Parts, { ChecksumSHA256: base64('SHA256', Buffer.concat(bodies)) }), 'InvalidRequest', 400,
      'Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: sha256');
    const done = await complete(Key, UploadId, Parts, { ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT' });
    assert.deepEqual([done.ChecksumCRC32, done.ChecksumType], [whole, 'FULL_OBJECT']);
    const again = await complete(Key, UploadId, Parts);
    assert.deepEqual([again.ETag, again.ChecksumCRC32, again.ChecksumType], [done.ETag, whole, 'FULL_OBJECT'], 'a retried Complete is answered as the first');

    // A composite checksum may be sent with or without its -<part count>; the count must be right.
    const body = randomBytes(100);
    const composite = objectChecksum('SHA256', 'COMPOSITE', [body]);
    for (const [sent, outcome] of [[composite, 'ok'], [composite.replace(/-1$/, ''), 'ok'], [composite.replace(/-1$/, '-2'), 'BadDigest'], [composite.replace(/-1$/, '-a'), 'InvalidRequest']]) {
      const key = newKey();
      const upload = await create(key, 'SHA256');
      const completing = complete(key, upload, [await part(key, upload, 1, body, 'SHA256')], { ChecksumSHA256: sent });
      if (outcome === 'ok') assert.equal((await completing).ChecksumSHA256, composite, sent);
      else await rejectsWith(completing, outcome, 400);
    }
  });

  it('an upload created without an algorithm is as before: part checksums verified and echoed, none kept, no object checksum', async () => {
    const Key = newKey();
    const body = randomBytes(1234);
    const UploadId = await create(Key);
    // The SDK sends CRC32 with every part by default.
    const out = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: body }));
    assert.equal(out.ChecksumCRC32, base64('CRC32', body));
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    assert.deepEqual([listed.ChecksumAlgorithm, listed.ChecksumType, listed.Parts?.[0]?.ChecksumCRC32], [undefined, undefined, undefined]);
    // Part checksums and a whole-object checksum in the Complete are ignored, as S3 ignores them.
    const done = await complete(Key, UploadId, [{ PartNumber: 1, ETag: out.ETag, ChecksumCRC32: 'AAAAAA==' }], { ChecksumCRC64NVME: 'AAAAAAAAAAA=' });
    assert.deepEqual([done.ChecksumCRC32, done.ChecksumCRC64NVME, done.ChecksumType], [undefined, undefined, undefined]);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    assert.deepEqual([head.ChecksumCRC32, head.ChecksumType], [undefined, undefined]);
    const piece = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 1, ChecksumMode: 'ENABLED' }));
    assert.deepEqual([piece.ChecksumCRC32, piece.ChecksumType], [undefined, undefined]);
    assert.ok((await bytesOf(piece.Body)).equals(body));
  });
});

for (const backend of metadataBackends()) {
  describe(`multipart checksums on a store upgraded from schema version 1 (${backend.name})`, () => {
    let env: Awaited<ReturnType<typeof backend.open>>;
    let plinth: PlinthHarness | undefined;
    before(async () => (env = await backend.open()));
    after(async () => {
      await plinth?.stop();
      await env.cleanup();
    });

    it('completes an upload begun before the upgrade, serves an object completed before it, and takes checksum uploads after it', async () => {
      const Bucket = 'upgraded';
      const bodies = [randomBytes(5 * MiB), randomBytes(77)];
      plinth = await startPlinth({ metadata: env.url, dataDir: env.dataDir });
      let s3 = plinth.client;
      await s3.send(new CreateBucketCommand({ Bucket }));
      const uploadParts = async (Key: string, UploadId: string, count: number) => {
        const parts: CompletedPart[] = [];
        for (let i = 0; i < count; i++) parts.push({ PartNumber: i + 1, ETag: (await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: bodies[i] }))).ETag });
        return parts;
      };
      const before = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'before' }))).UploadId!;
      await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'before', UploadId: before, MultipartUpload: { Parts: await uploadParts('before', before, 2) } }));
      const across = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'across' }))).UploadId!;
      const firstPart = await uploadParts('across', across, 1);
      await plinth.stop();
      plinth = undefined;

      await downgradeToSchema(env, 1);
      plinth = await startPlinth({ metadata: env.url, dataDir: env.dataDir });
      s3 = plinth.client;
      const old = await s3.send(new GetObjectCommand({ Bucket, Key: 'before', PartNumber: 2, ChecksumMode: 'ENABLED' }));
      assert.deepEqual([old.ChecksumCRC32, old.ChecksumType, old.PartsCount], [undefined, undefined, 2]);
      assert.ok((await bytesOf(old.Body)).equals(bodies[1]!));
      const listed = await s3.send(new ListPartsCommand({ Bucket, Key: 'across', UploadId: across }));
      assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ChecksumCRC32]), [[1, undefined]]);
      const secondPart = { PartNumber: 2, ETag: (await s3.send(new UploadPartCommand({ Bucket, Key: 'across', UploadId: across, PartNumber: 2, Body: bodies[1] }))).ETag };
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'across', UploadId: across, MultipartUpload: { Parts: [...firstPart, secondPart] } }));
      assert.equal(done.ChecksumType, undefined);
      assert.ok((await bytesOf((await s3.send(new GetObjectCommand({ Bucket, Key: 'across' }))).Body)).equals(Buffer.concat(bodies)));

      const after = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'after', ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' }))).UploadId!;
      const parts: CompletedPart[] = [];
      for (const [i, Body] of bodies.entries()) parts.push({ PartNumber: i + 1, ETag: (await s3.send(new UploadPartCommand({ Bucket, Key: 'after', UploadId: after, PartNumber: i + 1, Body, ChecksumAlgorithm: 'CRC32' }))).ETag });
      const checked = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'after', UploadId: after, MultipartUpload: { Parts: parts } }));
      assert.equal(checked.ChecksumCRC32, base64('CRC32', Buffer.concat(bodies)));
    });
  });
}
