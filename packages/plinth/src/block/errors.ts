/**
 * Codes a data node's errors carry. The gateway maps them by `code` (a remote node will send the
 * code, not the class), so callers should test `err.code`, not `instanceof`.
 */
export type BlobErrorCode =
  | 'NoSuchBlob'
  | 'ChecksumMismatch'
  | 'EntityTooLarge'
  | 'InvalidRange'
  | 'InvalidBlobId'
  | 'UnsupportedChecksum';

export class BlobError extends Error {
  constructor(
    readonly code: BlobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BlobError';
  }
}

const BLOB_ID = /^[0-9a-f]{64}$/;

export function isBlobId(blob: string): boolean {
  return BLOB_ID.test(blob);
}

/** Ids become file paths: anything but lower-case hex SHA-256 could walk out of the store. */
export function assertBlobId(blob: string): void {
  if (!BLOB_ID.test(blob)) throw new BlobError('InvalidBlobId', `not a hex SHA-256: ${JSON.stringify(blob)}`);
}
