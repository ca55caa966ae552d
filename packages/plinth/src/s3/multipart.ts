import { createHash, randomBytes } from 'node:crypto';
import { xxhashApi, xxhashHex } from '../block/digests.js';
import { UploadGoneError, type Bucket, type MultipartUpload, type ObjectVersion, type UploadPart } from '../meta/types.js';
import { requireAccess } from './access.js';
import { S3Error } from './errors.js';
import { readBody, unquoteEtag } from './http.js';
import { owners, s3UrlEncode } from './list.js';
import { copyPart } from './copy.js';
import {
  checkListedChecksums,
  expectedObjectChecksum,
  listedChecksumMatches,
  listedChecksums,
  objectChecksums,
  partBody,
  requestedUploadChecksum,
  uploadChecksumElements,
  uploadChecksumHeaders,
  verifyObjectChecksum,
} from './multipart-checksums.js';
import { checksumElements, checksumHeaders, checksumType, writtenVersionHeader } from './object-read.js';
import { checkKey, type ExistingContent, objectAttributes, releaseBlobs, storeBody, writeCondition, writeVersion } from './object-write.js';
import type { GatewayContext, Handler, S3Request, S3Response } from './types.js';
import { asArray, parseXml, toXml } from './xml.js';

/**
 * Multipart uploads: parts are blobs of their own on the data node, and a completed object keeps
 * them as they are (ObjectVersion.parts, in order), so completing never rewrites bytes.
 */

const MAX_PART_NUMBER = 10_000;
/** S3's fixed minimum for every part but the last. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
/** The most parts and uploads one listing page returns, as S3. */
const MAX_PAGE = 1000;
/** A Complete body names at most 10,000 parts of ~150 bytes each. */
const MAX_COMPLETE_BYTES = 4 * 1024 * 1024;

function noSuchUpload(uploadId: string): S3Error {
  return new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
}

/** What a request counts as in the cost records; listing needs read access, the rest write access. */
type RequestClass = 'put' | 'delete' | 'list';

async function chargedBucket(req: S3Request, ctx: GatewayContext, request: RequestClass): Promise<Bucket> {
  const bucket = await requireAccess(req, ctx, req.bucket!, request === 'list' ? 'read' : 'write');
  await ctx.meta.addCost(bucket.name, { [request]: 1 });
  return bucket;
}

/** The upload named by ?uploadId, once it is known to belong to this bucket and key. */
async function findUpload(req: S3Request, ctx: GatewayContext, request: RequestClass): Promise<{ bucket: Bucket; upload: MultipartUpload }> {
  const bucket = await chargedBucket(req, ctx, request);
  const uploadId = req.query.get('uploadId') ?? '';
  const upload = uploadId === '' ? null : await ctx.meta.getUpload(uploadId);
  if (!upload || upload.bucket !== bucket.name || upload.key !== req.key) throw noSuchUpload(uploadId);
  return { bucket, upload };
}

function integerParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const value = query.get(name);
  if (value === null) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw new S3Error('InvalidArgument', `${name} must be an integer between ${min} and ${max}, inclusive`, { ArgumentName: name, ArgumentValue: value });
  }
  return n;
}

function partNumberParam(query: URLSearchParams): number {
  if (!query.has('partNumber')) throw new S3Error('InvalidArgument', 'partNumber is required', { ArgumentName: 'partNumber' });
  return integerParam(query, 'partNumber', 0, 1, MAX_PART_NUMBER);
}

export const createMultipartUpload: Handler = async (req, ctx) => {
  const bucket = await chargedBucket(req, ctx, 'put');
  const key = req.key!;
  checkKey(key);
  // Header mistakes (bad tags, ACL, metadata) fail here rather than at completion.
  const template = objectAttributes(req.headers);
  const checksum = requestedUploadChecksum(req.headers);
  const uploadId = randomBytes(24).toString('base64url');
  await ctx.meta.createUpload({ uploadId, bucket: bucket.name, key, initiated: new Date(), ownerId: req.user?.id ?? bucket.ownerId, template, ...(checksum && { checksum }) });
  return { headers: uploadChecksumHeaders(checksum), body: toXml('InitiateMultipartUploadResult', { Bucket: bucket.name, Key: key, UploadId: uploadId }) };
};

/** A part's bytes as they are on the data node, and the checksum kept with it. */
type PartContent = Pick<UploadPart, 'size' | 'etag' | 'blob' | 'xxhash64' | 'checksums'>;

/**
 * Records a part whose bytes are on the data node. An abort that won the race makes the part
 * NoSuchUpload and its blob garbage; a part it replaces is garbage too.
 */
async function recordPart(ctx: GatewayContext, upload: MultipartUpload, partNumber: number, content: PartContent): Promise<UploadPart> {
  const part: UploadPart = { ...content, uploadId: upload.uploadId, partNumber, lastModified: new Date() };
  let replaced: string | undefined;
  try {
    ({ replaced } = await ctx.meta.putPart(part));
  } catch (err) {
    releaseBlobs(ctx, [part.blob]);
    if (!(await ctx.meta.getUpload(upload.uploadId))) throw noSuchUpload(upload.uploadId);
    throw err;
  }
  if (replaced !== undefined) releaseBlobs(ctx, [replaced]);
  return part;
}

export const uploadPart: Handler = async (req, ctx) => {
  const partNumber = partNumberParam(req.query);
  const { upload } = await findUpload(req, ctx, 'put');
  const content = await storeBody(ctx, partBody(req, upload));
  // Only an upload with an algorithm keeps its parts' checksums; others echo what was verified.
  const checksums = upload.checksum ? content.checksums : undefined;
  const part = await recordPart(ctx, upload, partNumber, { ...content, blob: content.placement.blob, checksums });
  return { headers: { etag: part.etag, ...checksumHeaders(content.checksums) } };
};

/**
 * In an upload with a checksum algorithm the copied part gets its checksum in it, as S3 computes
 * one: kept with the part like an uploaded part's and answered in CopyPartResult.
 */
export const uploadPartCopy: Handler = async (req, ctx) => {
  const partNumber = partNumberParam(req.query);
  const { upload } = await findUpload(req, ctx, 'put');
  const { content, headers } = await copyPart(req, ctx, upload.checksum?.algorithm);
  const checksums = upload.checksum ? content.checksums : undefined;
  const part = await recordPart(ctx, upload, partNumber, { size: content.size, etag: `"${content.md5}"`, blob: content.blob, xxhash64: content.xxhash64, checksums });
  return { headers, body: toXml('CopyPartResult', { ETag: part.etag, LastModified: part.lastModified, ...checksumElements(checksums) }) };
};

interface ListedPart {
  partNumber: number;
  etag: string;
  /** The part's checksums the body lists (ChecksumCRC32…), by algorithm. */
  checksums: Record<string, string>;
}

/** The Complete body's part list, checked for shape and order before any part is looked up. */
function parseCompleteBody(xml: string): ListedPart[] {
  const listed = asArray(parseXml(xml, 'CompleteMultipartUpload').Part).map((element): ListedPart => {
    const fields = (element ?? {}) as Record<string, unknown>;
    const { PartNumber, ETag } = fields;
    if (typeof PartNumber !== 'string' || !/^\s*\d+\s*$/.test(PartNumber) || typeof ETag !== 'string') throw new S3Error('MalformedXML');
    return { partNumber: Number(PartNumber), etag: ETag, checksums: listedChecksums(fields) };
  });
  if (listed.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.');
  for (let i = 1; i < listed.length; i++) {
    if (listed[i]!.partNumber <= listed[i - 1]!.partNumber) throw new S3Error('InvalidPartOrder');
  }
  return listed;
}

/** Every uploaded part of an upload, by number. */
async function allParts(ctx: GatewayContext, uploadId: string): Promise<Map<number, UploadPart>> {
  const parts = await ctx.meta.listParts(uploadId, 0, MAX_PART_NUMBER);
  return new Map(parts.map((p) => [p.partNumber, p]));
}

/**
 * The parts a Complete names, as S3 checks them: each must exist with its ETag and any checksum
 * listed (checked for all first: a wrong list is the more basic mistake), then all but the last be
 * at least 5 MiB.
 */
function chooseParts(upload: MultipartUpload, listed: ListedPart[], uploaded: Map<number, UploadPart>): UploadPart[] {
  const parts = listed.map((entry) => {
    const part = uploaded.get(entry.partNumber);
    if (!part || unquoteEtag(part.etag) !== unquoteEtag(entry.etag) || !listedChecksumMatches(upload, entry, part)) {
      throw new S3Error('InvalidPart', undefined, { UploadId: upload.uploadId, PartNumber: String(entry.partNumber), ETag: entry.etag });
    }
    return part;
  });
  const small = parts.slice(0, -1).find((part) => part.size < MIN_PART_SIZE);
  if (small) {
    throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(small.size), MinSizeAllowed: String(MIN_PART_SIZE), PartNumber: String(small.partNumber), ETag: small.etag });
  }
  return parts;
}

/**
 * The completed object's content: S3's multipart ETag (MD5 of the parts' binary MD5s, then the
 * part count), its checksum made from the parts' (see multipart-checksums.ts) and, since no single
 * pass over the whole object ever happens, an xxHash64 of the parts' xxHash64s; each part's bytes
 * are verified against their own digest on read.
 */
async function multipartContent(ctx: GatewayContext, upload: MultipartUpload, parts: UploadPart[]): Promise<ExistingContent> {
  const md5 = createHash('md5');
  for (const part of parts) md5.update(Buffer.from(unquoteEtag(part.etag), 'hex'));
  const xxhash = await xxhashApi();
  const digests = Buffer.concat(parts.map((part) => Buffer.from(part.xxhash64, 'hex')));
  return {
    size: parts.reduce((sum, part) => sum + part.size, 0),
    etag: `"${md5.digest('hex')}-${parts.length}"`,
    xxhash64: xxhashHex(xxhash.h64Raw(digests)),
    checksums: objectChecksums(upload, parts),
    // The first part's blob stands for the object where one blob is expected (the GC's reference
    // check covers every part through `parts`).
    placement: { blob: parts[0]!.blob, nodes: [ctx.node.id] },
    parts: parts.map(({ size, blob, xxhash64, etag, checksums }) => ({ size, blob, xxhash64, etag, ...(checksums && { checksums }) })),
  };
}

function objectUrl(req: S3Request, bucket: string, key: string): string {
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `http://${req.headers.host ?? 'localhost'}/${encodeURIComponent(bucket)}/${path}`;
}

/**
 * One metadata commit makes the object visible and removes the upload (freeing the parts it did
 * not use): a crash before it leaves the upload completable, after it the object whole. Of two
 * concurrent Completes (or a Complete and an Abort), in this gateway or another sharing the
 * database, the commit lets one win; the other finds the upload gone: NoSuchUpload after an
 * Abort, the winner's answer after a Complete of the same parts (answerGoneUpload).
 */
export const completeMultipartUpload: Handler = async (req, ctx) => {
  const { bucket, upload } = await findUpload(req, ctx, 'put');
  const condition = writeCondition(req.headers);
  const expected = expectedObjectChecksum(req.headers, upload);
  const listed = parseCompleteBody(await readBody(req.body, MAX_COMPLETE_BYTES));
  checkListedChecksums(upload, listed);
  let parts: UploadPart[];
  try {
    parts = chooseParts(upload, listed, await allParts(ctx, upload.uploadId));
  } catch (err) {
    // A Complete or an Abort (in this gateway or another) may have removed the upload and its
    // parts since it was found: not InvalidPart for the parts that went with it, but what a
    // Complete of a gone upload gets.
    if (err instanceof S3Error && err.code === 'InvalidPart' && !(await ctx.meta.getUpload(upload.uploadId))) return answerGoneUpload(req, ctx, bucket, upload.uploadId, listed);
    throw err;
  }
  const content = await multipartContent(ctx, upload, parts);
  verifyObjectChecksum(expected, upload, content.checksums, parts.length);
  let version;
  try {
    version = await writeVersion(
      ctx,
      { bucket, key: upload.key, ownerId: upload.ownerId, attributes: upload.template, condition, completesUpload: upload.uploadId },
      content,
    );
  } catch (err) {
    // Another Complete committed first (its answer is ours too), or an Abort came in between.
    if (err instanceof UploadGoneError) return answerGoneUpload(req, ctx, bucket, upload.uploadId, listed);
    throw err;
  }
  return completionAnswer(req, bucket, version);
};

/** CompleteMultipartUpload's answer for the version it committed. */
function completionAnswer(req: S3Request, bucket: Bucket, version: ObjectVersion): S3Response {
  return {
    headers: writtenVersionHeader(bucket, version.versionId),
    body: toXml('CompleteMultipartUploadResult', {
      Location: objectUrl(req, bucket.name, version.key),
      Bucket: bucket.name,
      Key: version.key,
      ETag: version.etag,
      ...checksumElements(version.checksums),
      ChecksumType: checksumType(version.checksums),
    }),
  };
}

/**
 * The answer to a Complete whose upload is gone. S3 answers a Complete retried after it succeeded
 * (an SDK whose first answer was lost; ceph/s3-tests test_multipart_upload completes twice) with
 * that success again, not NoSuchUpload. The metadata store records the version each completion
 * made (completedUpload), so the retry is told apart exactly: the upload id must have been
 * completed into this bucket and key, that version must still exist (a deleted or replaced one is
 * never answered), and the part list must be the one it is made of; it then gets the first
 * answer (ETag, checksum, version id) and nothing is committed. Anything else, an aborted upload
 * or an id never handed out whatever parts it lists, is NoSuchUpload. Completions are remembered
 * for a day (the collector's completedUploadRetentionMs).
 */
async function answerGoneUpload(req: S3Request, ctx: GatewayContext, bucket: Bucket, uploadId: string, listed: ListedPart[]): Promise<S3Response> {
  const version = await ctx.meta.completedUpload(uploadId);
  const parts = version?.bucket === bucket.name && version.key === req.key ? version.parts : undefined;
  const same = parts !== undefined && parts.length === listed.length && parts.every((part, i) => unquoteEtag(part.etag) === unquoteEtag(listed[i]!.etag));
  if (!same) throw noSuchUpload(uploadId);
  return completionAnswer(req, bucket, version!);
}

/**
 * CompleteMultipartUpload as the router serves it: an upload still there is completed (of two
 * racing commits one wins, and the other is answered as the gone upload it then is); a gone one
 * is answered by answerGoneUpload.
 */
export const completeOrAnswerRetry: Handler = async (req, ctx) => {
  const uploadId = req.query.get('uploadId') ?? '';
  if (uploadId === '' || (await ctx.meta.getUpload(uploadId))) return completeMultipartUpload(req, ctx);
  const bucket = await chargedBucket(req, ctx, 'put');
  let listed: ListedPart[];
  try {
    listed = parseCompleteBody(await readBody(req.body, MAX_COMPLETE_BYTES));
  } catch {
    throw noSuchUpload(uploadId);
  }
  return answerGoneUpload(req, ctx, bucket, uploadId, listed);
};

export const abortMultipartUpload: Handler = async (req, ctx) => {
  const { upload } = await findUpload(req, ctx, 'delete');
  const { found, blobs } = await ctx.meta.deleteUpload(upload.uploadId);
  if (!found) throw noSuchUpload(upload.uploadId);
  releaseBlobs(ctx, blobs);
  return { status: 204 };
};

export const listParts: Handler = async (req, ctx) => {
  const { bucket, upload } = await findUpload(req, ctx, 'list');
  const maxParts = Math.min(integerParam(req.query, 'max-parts', MAX_PAGE, 0, Number.MAX_SAFE_INTEGER), MAX_PAGE);
  const marker = integerParam(req.query, 'part-number-marker', 0, 0, Number.MAX_SAFE_INTEGER);
  const page = await ctx.meta.listParts(upload.uploadId, marker, maxParts + 1);
  const isTruncated = page.length > maxParts;
  const parts = page.slice(0, maxParts);
  // Canonical id and display name, as object listings show owners.
  const owner = await owners(ctx);
  return {
    body: toXml('ListPartsResult', {
      Bucket: bucket.name,
      Key: upload.key,
      UploadId: upload.uploadId,
      Initiator: owner(upload.ownerId),
      Owner: owner(upload.ownerId),
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: parts.at(-1)?.partNumber ?? marker,
      MaxParts: maxParts,
      IsTruncated: isTruncated,
      Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified, ETag: p.etag, Size: p.size, ...checksumElements(p.checksums) })),
      ...uploadChecksumElements(upload.checksum),
    }),
  };
};

/** The common prefix a key folds into under a delimiter, as in object listings. */
function commonPrefix(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  const at = delimiter === undefined || !key.startsWith(prefix) ? -1 : key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter!.length);
}

interface UploadsPage {
  uploads: MultipartUpload[];
  commonPrefixes: string[];
  isTruncated: boolean;
  next?: { key: string; uploadId?: string };
}

/**
 * Uploads in (key, initiation) order after the markers, folded under the delimiter. Uploads
 * are few next to objects, so a folded prefix's uploads are read and skipped rather than sought
 * past. A key marker inside a common prefix means that prefix was listed already.
 */
async function walkUploads(ctx: GatewayContext, bucket: string, prefix: string, delimiter: string | undefined, marker: { key?: string; uploadId?: string }, maxUploads: number): Promise<UploadsPage> {
  const page: UploadsPage = { uploads: [], commonPrefixes: [], isTruncated: false };
  let folding = marker.key === undefined ? undefined : commonPrefix(marker.key, prefix, delimiter);
  let cursor = marker;
  for (;;) {
    const batch = await ctx.meta.listUploads(bucket, prefix, cursor.key, cursor.uploadId, MAX_PAGE);
    for (const upload of batch) {
      const folded = commonPrefix(upload.key, prefix, delimiter);
      if (folded !== undefined && folded === folding) continue;
      if (page.uploads.length + page.commonPrefixes.length === maxUploads) {
        page.isTruncated = true;
        return page;
      }
      if (folded === undefined) {
        page.uploads.push(upload);
        page.next = { key: upload.key, uploadId: upload.uploadId };
      } else {
        page.commonPrefixes.push(folded);
        page.next = { key: folded };
        folding = folded;
      }
    }
    if (batch.length < MAX_PAGE) return page;
    cursor = { key: batch.at(-1)!.key, uploadId: batch.at(-1)!.uploadId };
  }
}

export const listMultipartUploads: Handler = async (req, ctx) => {
  const bucket = await chargedBucket(req, ctx, 'list');
  const q = req.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const keyMarker = q.get('key-marker') || undefined;
  // As S3: an upload-id-marker means nothing without a key-marker.
  const uploadIdMarker = keyMarker === undefined ? undefined : q.get('upload-id-marker') || undefined;
  const maxUploads = Math.min(integerParam(q, 'max-uploads', MAX_PAGE, 0, Number.MAX_SAFE_INTEGER), MAX_PAGE);
  const encodingType = q.get('encoding-type')?.toLowerCase();
  if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: q.get('encoding-type')! });
  const encode = (text: string | undefined) => (text === undefined || encodingType === undefined ? text : s3UrlEncode(text));
  const owner = await owners(ctx);
  const page = await walkUploads(ctx, bucket.name, prefix, delimiter, { key: keyMarker, uploadId: uploadIdMarker }, maxUploads);
  return {
    body: toXml('ListMultipartUploadsResult', {
      Bucket: bucket.name,
      KeyMarker: encode(keyMarker ?? ''),
      UploadIdMarker: uploadIdMarker ?? '',
      NextKeyMarker: page.isTruncated ? encode(page.next?.key) : undefined,
      NextUploadIdMarker: page.isTruncated ? page.next?.uploadId : undefined,
      Prefix: encode(prefix),
      Delimiter: encode(delimiter),
      MaxUploads: maxUploads,
      IsTruncated: page.isTruncated,
      Upload: page.uploads.map((u) => ({
        Key: encode(u.key),
        UploadId: u.uploadId,
        Initiator: owner(u.ownerId),
        Owner: owner(u.ownerId),
        StorageClass: 'STANDARD',
        Initiated: u.initiated,
        ...uploadChecksumElements(u.checksum),
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
      EncodingType: encodingType,
    }),
  };
};
