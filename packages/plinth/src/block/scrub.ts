import type { MetadataStore } from '../meta/types.js';
import type { LocalDataNode } from './local.js';

export interface CorruptBlob {
  blob: string;
  /** Where the bytes were moved; null when the blob vanished (deleted) before it could be moved. */
  quarantinedAt: string | null;
  /**
   * With a metadata store: whether some version or part still needs these bytes, i.e. whether
   * the repair worker must restore them from another copy. Undefined without one.
   */
  referenced?: boolean;
}

export interface ScrubReport {
  scanned: number;
  bytes: number;
  /** Chunk tables found missing or wrong beside intact blobs, rebuilt from the bytes. */
  tablesRewritten: number;
  corrupt: CorruptBlob[];
}

/**
 * Reads every blob on the node and checks its SHA-256 against its name: that catches rot in
 * blobs nobody reads (the read path only sees what clients ask for). Corrupt blobs are moved to
 * the node's quarantine directory so that reads fail fast with NoSuchBlob instead of streaming
 * bad bytes until the checksum trips, and so that a later put of the same content can store a
 * good copy again.
 *
 * `onProgress` is handed the report as it fills (the same object, after each blob), so a caller
 * can show how far a pass over a large node has got.
 */
export async function scrubOnce(node: LocalDataNode, meta?: MetadataStore, onProgress?: (report: Readonly<ScrubReport>) => void): Promise<ScrubReport> {
  const report: ScrubReport = { scanned: 0, bytes: 0, tablesRewritten: 0, corrupt: [] };
  onProgress?.(report);
  for await (const { blob } of node.list()) {
    const result = await node.verify(blob);
    if (result.status === 'missing') continue;
    report.scanned++;
    report.bytes += result.size;
    if (result.tableRewritten) report.tablesRewritten++;
    if (result.status === 'corrupt') {
      const quarantinedAt = await node.quarantine(blob);
      report.corrupt.push({ blob, quarantinedAt, referenced: meta ? await meta.blobReferenced(blob) : undefined });
    }
    onProgress?.(report);
  }
  return report;
}
