import type { IncomingHttpHeaders } from 'node:http';
import type { ChecksumType, MultipartUpload, UploadChecksum, UploadPart } from '../meta/types.js';
import { type ChecksumAlgorithm, CHECKSUM_ALGORITHMS, checksummer, computingChecksum, invalidChecksumHeader, isChecksumAlgorithm, isChecksumValue, isCrcAlgorithm } from './checksums.js';
import { combineCrcs } from './crc-combine.js';
import { S3Error } from './errors.js';
import { header } from './http.js';
import { announcedChecksum } from './sigv4.js';
import type { S3Request } from './types.js';

/**
 * S3's checksums for multipart uploads. CreateMultipartUpload may name an algorithm and a type;
 * each part then carries a checksum in that algorithm (verified as its body streams, or computed
 * over a copied part's bytes; stored with it), the Complete request lists them again, and the
 * object gets a checksum made from them: COMPOSITE, the checksum of the parts' binary checksums
 * with `-<part count>`; FULL_OBJECT, the CRC of the whole object, combined from the parts' CRCs
 * and sizes. An upload created without an algorithm is left alone at every step: its parts'
 * checksums are verified and echoed, not kept, and its object has no checksum.
 */

const ALGORITHM_LIST = `[${CHECKSUM_ALGORITHMS.map((a) => a.toUpperCase()).join(', ')}]`;

/** The upload's algorithm as the checksum code names it (CreateMultipartUpload allowed no other). */
const algorithmOf = (checksum: UploadChecksum): ChecksumAlgorithm => checksum.algorithm as ChecksumAlgorithm;

/**
 * x-amz-checksum-algorithm and x-amz-checksum-type of a CreateMultipartUpload (any case), with
 * S3's defaults (COMPOSITE, but FULL_OBJECT for CRC64NVME, which has no composite form) and its
 * refusals: a type without an algorithm, FULL_OBJECT for a SHA (only CRCs combine).
 */
export function requestedUploadChecksum(headers: IncomingHttpHeaders): UploadChecksum | undefined {
  const algorithm = header(headers, 'x-amz-checksum-algorithm')?.toLowerCase();
  if (algorithm !== undefined && !isChecksumAlgorithm(algorithm)) {
    throw new S3Error('InvalidRequest', `Checksum algorithm provided is unsupported. Please try again with any of the valid types: ${ALGORITHM_LIST}`);
  }
  const type = header(headers, 'x-amz-checksum-type')?.toUpperCase();
  if (type !== undefined && type !== 'COMPOSITE' && type !== 'FULL_OBJECT') throw invalidChecksumHeader('x-amz-checksum-type');
  if (algorithm === undefined) {
    if (type !== undefined) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return undefined;
  }
  const chosen: ChecksumType = type ?? (algorithm === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  const allowed = chosen === 'FULL_OBJECT' ? isCrcAlgorithm(algorithm) : algorithm !== 'crc64nvme';
  if (!allowed) throw new S3Error('InvalidRequest', `The ${chosen} checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  return { algorithm, type: chosen };
}

/** CreateMultipartUpload's answer headers for the upload's checksum. */
export function uploadChecksumHeaders(checksum: UploadChecksum | undefined): Record<string, string> {
  return checksum ? { 'x-amz-checksum-algorithm': checksum.algorithm.toUpperCase(), 'x-amz-checksum-type': checksum.type } : {};
}

/** ChecksumAlgorithm and ChecksumType, as ListParts and ListMultipartUploads show an upload's. */
export function uploadChecksumElements(checksum: UploadChecksum | undefined): Record<string, string> {
  return checksum ? { ChecksumAlgorithm: checksum.algorithm.toUpperCase(), ChecksumType: checksum.type } : {};
}

function typeMismatch(expected: string, actual: string): S3Error {
  return new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${expected}, actual checksum Type: ${actual}`);
}

/**
 * What UploadPart stores for this upload, decided before the body is read: a part of an upload
 * with an algorithm must carry a checksum in it (the router verifies it as the body streams),
 * except that for FULL_OBJECT S3 computes a missing one itself, here on the way to the data node.
 */
export function partBody(req: S3Request, upload: MultipartUpload): Pick<S3Request, 'body' | 'headers' | 'checksums'> {
  if (!upload.checksum) return req;
  const algorithm = algorithmOf(upload.checksum);
  const sent = announcedChecksum(req.headers)?.algorithm;
  if (sent !== undefined && sent !== algorithm) throw typeMismatch(algorithm, sent);
  if (sent !== undefined) return req;
  if (upload.checksum.type === 'COMPOSITE') throw typeMismatch(algorithm, 'null');
  return { ...req, ...computingChecksum(req.body, algorithm) };
}

/** The ChecksumCRC32… elements of one <Part> of a Complete body, by algorithm. */
export function listedChecksums(element: Record<string, unknown>): Record<string, string> {
  const listed: Record<string, string> = {};
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = element[`Checksum${algorithm.toUpperCase()}`];
    if (value !== undefined) listed[algorithm] = typeof value === 'string' ? value.trim() : String(value);
  }
  return listed;
}

interface ListedChecksums {
  partNumber: number;
  checksums: Record<string, string>;
}

/**
 * A Complete body's part checksums checked against the upload's setting before any part is looked
 * up, with S3's answers: a malformed value or several for one part is InvalidArgument; a missing
 * one is InvalidRequest for COMPOSITE (FULL_OBJECT needs none: the stored CRCs make the object's);
 * another algorithm's is BadDigest; and the parts must be numbered 1, 2, 3… (InvalidPartOrder).
 */
export function checkListedChecksums(upload: MultipartUpload, listed: ListedChecksums[]): void {
  if (!upload.checksum) return;
  const algorithm = algorithmOf(upload.checksum);
  listed.forEach(({ partNumber, checksums }, index) => {
    const given = Object.entries(checksums) as [ChecksumAlgorithm, string][];
    if (given.length > 1 || given.some(([name, value]) => !isChecksumValue(name, value))) {
      const shown = given.map(([name, value]) => `${name.toUpperCase()}:${value};`).join('');
      throw new S3Error('InvalidArgument', 'Invalid Base64 or multiple checksums present in request', { ArgumentName: 'Checksum', ArgumentValue: shown });
    }
    const [name] = given[0] ?? [];
    if (name === undefined && upload.checksum!.type === 'COMPOSITE') {
      throw new S3Error('InvalidRequest', `The upload was created using a ${algorithm} checksum. The complete request must include the checksum for each part. It was missing for part ${partNumber} in the request.`);
    }
    if (name !== undefined && name !== algorithm) throw new S3Error('BadDigest', `The ${name} you specified for part ${partNumber} did not match what we received.`);
    if (partNumber !== index + 1) throw new S3Error('InvalidPartOrder');
  });
}

/** Whether the checksum a Complete body lists for a part is the one stored (S3 says InvalidPart when not). */
export function listedChecksumMatches(upload: MultipartUpload, listed: ListedChecksums, part: UploadPart): boolean {
  if (!upload.checksum) return true;
  return Object.entries(listed.checksums).every(([algorithm, value]) => part.checksums?.[algorithm] === value);
}

/** A whole-object checksum sent with a Complete: its value, and the part count a composite one names. */
export interface ExpectedChecksum {
  value: string;
  parts?: number;
}

/**
 * x-amz-checksum-type and x-amz-checksum-<algorithm> of a Complete, checked before any part is
 * looked up: the type must be the upload's, the checksum in the upload's algorithm and well formed
 * (a composite one as `<base64>` or `<base64>-<part count>`). Uploads without an algorithm ignore
 * both, as S3 does.
 */
export function expectedObjectChecksum(headers: IncomingHttpHeaders, upload: MultipartUpload): ExpectedChecksum | undefined {
  if (!upload.checksum) return undefined;
  const algorithm = algorithmOf(upload.checksum);
  const type = header(headers, 'x-amz-checksum-type')?.toUpperCase();
  if (type !== undefined && type !== 'COMPOSITE' && type !== 'FULL_OBJECT') throw invalidChecksumHeader('x-amz-checksum-type');
  if (type !== undefined && type !== upload.checksum.type) {
    throw new S3Error('InvalidRequest', `The upload was created using the ${upload.checksum.type} checksum mode. The complete request must use the same checksum mode.`);
  }
  const announced = announcedChecksum(headers);
  if (!announced?.inHeaders) return undefined;
  if (announced.algorithm !== algorithm) throw typeMismatch(algorithm, announced.algorithm);
  const sent = header(headers, announced.name)!;
  const match = upload.checksum.type === 'COMPOSITE' ? /^([^-]*)(?:-(\d+))?$/.exec(sent) : /^([^-]*)$/.exec(sent);
  if (!match || !isChecksumValue(algorithm, match[1]!)) throw invalidChecksumHeader(announced.name);
  return { value: match[1]!, ...(match[2] !== undefined && { parts: Number(match[2]) }) };
}

/**
 * The completed object's checksums, from its parts' stored ones: nothing for an upload without an
 * algorithm; the checksum of the concatenated binary part checksums with `-<count>` for COMPOSITE;
 * the CRCs combined for FULL_OBJECT.
 */
export function objectChecksums(upload: MultipartUpload, parts: UploadPart[]): Record<string, string> {
  if (!upload.checksum) return {};
  const algorithm = algorithmOf(upload.checksum);
  const values = parts.map((part) => {
    const value = part.checksums?.[algorithm];
    // Every part of such an upload is stored with one (uploaded with it, or computed by UploadPartCopy).
    if (value === undefined) throw new S3Error('InvalidPart', `Part ${part.partNumber} has no ${algorithm} checksum.`, { UploadId: upload.uploadId, PartNumber: String(part.partNumber) });
    return value;
  });
  if (upload.checksum.type === 'FULL_OBJECT' && isCrcAlgorithm(algorithm)) {
    return { [algorithm]: combineCrcs(algorithm, values.map((checksum, i) => ({ checksum, size: parts[i]!.size }))) };
  }
  const composite = checksummer(algorithm);
  for (const value of values) composite.update(Buffer.from(value, 'base64'));
  return { [algorithm]: `${composite.digest()}-${parts.length}` };
}

/** A whole-object checksum sent with a Complete against the one computed: BadDigest unless equal. */
export function verifyObjectChecksum(expected: ExpectedChecksum | undefined, upload: MultipartUpload, checksums: Record<string, string>, partCount: number): void {
  if (!expected || !upload.checksum) return;
  const computed = checksums[upload.checksum.algorithm]!.replace(/-\d+$/, '');
  if (computed !== expected.value || (expected.parts !== undefined && expected.parts !== partCount)) {
    throw new S3Error('BadDigest', `The ${upload.checksum.algorithm} you specified did not match the calculated checksum.`);
  }
}
