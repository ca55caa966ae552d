import { createHash, randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, open, opendir, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { XXHashAPI } from 'xxhash-wasm';
import { ChunkedXxhash, Digester, xxhashApi, xxhashHex, type Digests } from './digests.js';
import { assertBlobId, BlobError, isBlobId } from './errors.js';
import { CHUNK_SIZE, decodeChunkTable, encodeChunkTable, SIDECAR_SUFFIX } from './sidecar.js';
import type { BlobInfo, DataNode, ReadRange } from './types.js';

export interface LocalDataNodeOptions {
  /** Root of the node's storage: `blobs/`, `tmp/` and `quarantine/` live under it. */
  dir: string;
  /** The node's name in placements; 'local' by default. */
  id?: string;
}

/** What `verify` found, for the scrubber. */
export interface VerifyResult {
  status: 'ok' | 'corrupt' | 'missing';
  size: number;
  /** The chunk table was absent or wrong and has been rewritten from the verified bytes. */
  tableRewritten: boolean;
}

/** Writes are gathered into batches this large: one syscall per MiB instead of one per 64 KiB. */
const WRITE_BATCH = 1024 * 1024;

const FANOUT = /^[0-9a-f]{2}$/;
const XXHASH_HEX = /^[0-9a-f]{16}$/i;

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

async function fsyncDir(path: string): Promise<void> {
  const dh = await open(path, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/** Reads until `buf` is full or the file ends; returns how many bytes arrived. */
async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return off;
}

/** Writes every byte of `buffers` at `position`, however many calls that takes. */
async function writevFully(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, at);
    at += bytesWritten;
    let skip = bytesWritten;
    while (rest.length > 0 && skip >= rest[0]!.length) skip -= rest.shift()!.length;
    if (skip > 0) rest[0] = rest[0]!.subarray(skip);
  }
}

/**
 * Appends to a file in batches of about WRITE_BATCH bytes, one writev each: the chunks are kept
 * as they arrived (never copied into a buffer of our own, so a small object allocates nothing
 * here), and while one batch is being written by the thread pool the next gathers, so disk and
 * hashing overlap and at most about 2 × WRITE_BATCH is held per put.
 */
class BatchWriter {
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private position = 0;
  private inflight: Promise<void> = Promise.resolve();

  /** `file` may still be opening: the first batch written waits for it. */
  constructor(private readonly file: Promise<FileHandle>) {}

  async write(data: Uint8Array): Promise<void> {
    this.gathered.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.gatheredBytes += data.length;
    if (this.gatheredBytes >= WRITE_BATCH) await this.rotate();
  }

  async flush(): Promise<void> {
    if (this.gatheredBytes > 0) await this.rotate();
    await this.inflight;
  }

  /** Waits out the write in flight, whatever its outcome, so the file can be closed. */
  async settle(): Promise<void> {
    await this.inflight.catch(() => undefined);
  }

  private async rotate(): Promise<void> {
    await this.inflight;
    const batch = this.gathered;
    const position = this.position;
    this.position += this.gatheredBytes;
    this.gathered = [];
    this.gatheredBytes = 0;
    this.inflight = this.file.then((fh) => writevFully(fh, batch, position));
    // A write failing while the source is being awaited must not count as an unhandled
    // rejection (which ends the process); the next rotate or flush rethrows it.
    this.inflight.catch(() => undefined);
  }
}

type Verification =
  | { kind: 'chunks'; chunkSize: number; hashes: bigint[]; expectedSize: number }
  | { kind: 'whole'; expected: bigint };

/**
 * Streams [start, end] of a blob, never letting bytes through unverified when a chunk table is
 * available: each chunk is read whole, hashed, compared, and only then is its part of the range
 * pushed, so a corrupt chunk is never emitted at all. Without a table (damaged or absent) the
 * whole file is hashed as it passes and the range is emitted on the way; the end is signalled
 * only after the final comparison, so corrupt bytes still never complete a response.
 */
class BlobReader extends Readable {
  private pos: number;
  private readonly readEnd: number;
  private readonly whole?: ReturnType<XXHashAPI['create64']>;

  constructor(
    private readonly fh: FileHandle,
    private readonly blob: string,
    private readonly fileSize: number,
    private readonly start: number,
    /** Exclusive. */
    private readonly end: number,
    private readonly verification: Verification,
    private readonly xxh: XXHashAPI,
  ) {
    super();
    if (verification.kind === 'chunks') {
      const c = verification.chunkSize;
      this.pos = Math.floor(start / c) * c;
      this.readEnd = Math.min(fileSize, Math.ceil(end / c) * c);
    } else {
      this.pos = 0;
      this.readEnd = fileSize;
      this.whole = xxh.create64();
    }
  }

  override _read(): void {
    this.pump().catch((err: Error) => this.destroy(err));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.fh.close().then(
      () => callback(err),
      (closeErr: Error) => callback(err ?? closeErr),
    );
  }

  private mismatch(detail: string): BlobError {
    return new BlobError('ChecksumMismatch', `blob ${this.blob}: ${detail}`);
  }

  private async pump(): Promise<void> {
    const v = this.verification;
    if (v.kind === 'chunks' && this.fileSize !== v.expectedSize) {
      throw this.mismatch(`size ${this.fileSize}, chunk table says ${v.expectedSize}`);
    }
    const step = v.kind === 'chunks' ? v.chunkSize : CHUNK_SIZE;
    for (;;) {
      if (this.pos >= this.readEnd) {
        if (v.kind === 'whole') {
          const got = this.whole!.digest();
          if (got !== v.expected) throw this.mismatch(`xxHash64 ${xxhashHex(got)}, expected ${xxhashHex(v.expected)}`);
        }
        this.push(null);
        return;
      }
      const at = this.pos;
      const len = Math.min(step, this.readEnd - at);
      const buf = Buffer.allocUnsafe(len);
      if ((await readFully(this.fh, buf, at)) < len) throw this.mismatch(`file ends before byte ${at + len}`);
      if (v.kind === 'chunks') {
        const got = this.xxh.h64Raw(buf);
        const want = v.hashes[at / v.chunkSize];
        if (got !== want) throw this.mismatch(`chunk at ${at}: xxHash64 ${xxhashHex(got)}, expected ${xxhashHex(want)}`);
      } else {
        this.whole!.update(buf);
      }
      this.pos = at + len;
      const from = Math.max(this.start, at) - at;
      const to = Math.min(this.end, at + len) - at;
      if (to > from) {
        this.push(from === 0 && to === len ? buf : buf.subarray(from, to));
        return;
      }
    }
  }
}

/**
 * One data node on a local file system. Blobs are named by the hex SHA-256 of their bytes and
 * fanned out as `blobs/ab/cd/abcd…` so no directory grows past a few thousand entries; a blob
 * larger than one chunk has its chunk table beside it (`…/abcd….xxc`, see sidecar.ts).
 */
export class LocalDataNode implements DataNode {
  readonly id: string;
  readonly dir: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  private readonly quarantineDir: string;
  /** Temp files this process is writing: cleanTemp must not pull them from under a slow upload. */
  private readonly activeTemp = new Set<string>();
  /** Per-blob queues serialising put's final step with delete and quarantine. */
  private readonly locks = new Map<string, Promise<void>>();

  private constructor(
    options: LocalDataNodeOptions,
    private readonly xxh: XXHashAPI,
  ) {
    this.id = options.id ?? 'local';
    this.dir = options.dir;
    this.blobsDir = join(options.dir, 'blobs');
    this.tmpDir = join(options.dir, 'tmp');
    this.quarantineDir = join(options.dir, 'quarantine');
  }

  static async open(options: LocalDataNodeOptions): Promise<LocalDataNode> {
    const node = new LocalDataNode(options, await xxhashApi());
    for (const d of [node.blobsDir, node.tmpDir, node.quarantineDir]) await mkdir(d, { recursive: true });
    return node;
  }

  blobPath(blob: string): string {
    return join(this.blobsDir, blob.slice(0, 2), blob.slice(2, 4), blob);
  }

  async put(source: Readable, options: { maxSize?: number; checksums?: string[] } = {}): Promise<BlobInfo> {
    const name = randomUUID();
    const tmp = join(this.tmpDir, name);
    const tmpTable = tmp + SIDECAR_SUFFIX;
    this.activeTemp.add(name);
    let closing: Promise<void> | undefined;
    let dir: FileHandle | undefined;
    try {
      const digester = new Digester(this.xxh, CHUNK_SIZE, options.checksums ?? []);
      // The temp file opens while the first bytes arrive and are hashed: under load the thread
      // pool's queue makes an open take milliseconds, and nothing needs the file before the
      // first batch is full.
      const opening = open(tmp, 'wx');
      // Its failure surfaces through the writer or the fsync below; until one of them awaits it, a
      // rejection must not count as unhandled (which would end the process).
      opening.catch(() => undefined);
      const writer = new BatchWriter(opening);
      let d: Digests;
      try {
        for await (const chunk of source) {
          const buf: Uint8Array = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          if (options.maxSize !== undefined && digester.size + buf.length > options.maxSize) {
            throw new BlobError('EntityTooLarge', `more than ${options.maxSize} bytes`);
          }
          digester.update(buf);
          await writer.write(buf);
        }
        d = digester.finish();
        // Every byte is in, so the blob's name is known: its directory is made ready and its chunk
        // table written while the last batch is written and fsynced. Under load each of these
        // waits in the thread pool's queue; side by side they cost one wait, not three.
        const steps = await Promise.allSettled([
          writer.flush().then(async () => (await opening).sync()),
          d.size > CHUNK_SIZE ? this.writeDurably(tmpTable, encodeChunkTable(this.xxh, { chunkSize: CHUNK_SIZE, size: d.size, whole: BigInt('0x' + d.xxhash64), chunks: d.chunkHashes })) : undefined,
          this.fanOutDir(d.sha256),
        ]);
        if (steps[2].status === 'fulfilled') dir = steps[2].value;
        const failed = steps.find((step): step is PromiseRejectedResult => step.status === 'rejected');
        if (failed) throw failed.reason;
      } finally {
        await writer.settle();
        // A file can be renamed while open: it closes while the blob is installed.
        closing = opening.then(
          (fh) => fh.close(),
          () => undefined,
        );
        // Awaited once the blob is installed; a failure before then is not unhandled.
        closing.catch(() => undefined);
      }
      await this.install(d.sha256, tmp, d.size > CHUNK_SIZE ? tmpTable : undefined, dir!);
      await closing;
      return { blob: d.sha256, size: d.size, xxhash64: d.xxhash64, md5: d.md5, checksums: d.checksums };
    } catch (err) {
      // The source is released on failure (as pipeline() would) so an abandoned upload does not
      // stay paused forever.
      source.destroy();
      await closing?.catch(() => undefined);
      await rm(tmp, { force: true });
      await rm(tmpTable, { force: true });
      throw err;
    } finally {
      await dir?.close().catch(() => undefined);
      this.activeTemp.delete(name);
    }
  }

  async get(blob: string, expectedXxhash64: string, range?: ReadRange): Promise<Readable> {
    assertBlobId(blob);
    if (!XXHASH_HEX.test(expectedXxhash64)) throw new TypeError(`not a hex xxHash64: ${JSON.stringify(expectedXxhash64)}`);
    const expected = BigInt('0x' + expectedXxhash64);
    const path = this.blobPath(blob);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) throw new BlobError('NoSuchBlob', `no blob ${blob} on node ${this.id}`);
      throw err;
    }
    try {
      const size = (await fh.stat()).size;
      let start = 0;
      let end = size;
      if (range) {
        const ok = Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.start <= range.end && range.end < size;
        if (!ok) throw new BlobError('InvalidRange', `range ${range.start}-${range.end} outside blob ${blob} of ${size} bytes`);
        start = range.start;
        end = range.end + 1;
      }
      const verification = await this.verificationFor(path, size, expected);
      return new BlobReader(fh, blob, size, start, end, verification, this.xxh);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async has(blob: string): Promise<boolean> {
    assertBlobId(blob);
    try {
      return (await stat(this.blobPath(blob))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async delete(blob: string, options: { ifOlderThan?: Date } = {}): Promise<boolean> {
    assertBlobId(blob);
    const path = this.blobPath(blob);
    return this.withLock(blob, async () => {
      let st: Stats;
      try {
        st = await stat(path);
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
      if (options.ifOlderThan && st.mtime >= options.ifOlderThan) return false;
      // The table goes first: a crash in between leaves a blob that still reads (by hashing the
      // whole file) rather than a table with no blob that nothing would ever remove. No
      // directory fsync: a deletion lost in a crash only brings back a blob the GC removes again.
      await rm(path + SIDECAR_SUFFIX, { force: true });
      await rm(path, { force: true });
      return true;
    });
  }

  async *list(): AsyncIterable<{ blob: string; modified: Date }> {
    for await (const { blob, stats } of this.walk()) yield { blob, modified: stats.mtime };
  }

  async cleanTemp(olderThan: Date): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tmpDir)) {
      if (this.activeTemp.has(name.endsWith(SIDECAR_SUFFIX) ? name.slice(0, -SIDECAR_SUFFIX.length) : name)) continue;
      const path = join(this.tmpDir, name);
      try {
        if ((await stat(path)).mtime >= olderThan) continue;
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      await rm(path, { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  async usage(): Promise<{ blobs: number; bytes: number }> {
    let blobs = 0;
    let bytes = 0;
    for await (const { stats } of this.walk()) {
      blobs++;
      bytes += stats.size;
    }
    return { blobs, bytes };
  }

  /**
   * Reads the whole blob, checking that its SHA-256 is its name. A good blob whose chunk table
   * is missing or disagrees with the bytes gets the table rewritten; a bad one is left in place
   * for the caller to quarantine.
   */
  async verify(blob: string): Promise<VerifyResult> {
    assertBlobId(blob);
    const path = this.blobPath(blob);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) return { status: 'missing', size: 0, tableRewritten: false };
      throw err;
    }
    const sha = createHash('sha256');
    const xxh = new ChunkedXxhash(this.xxh, CHUNK_SIZE);
    let size = 0;
    try {
      const buf = Buffer.allocUnsafe(CHUNK_SIZE);
      for (;;) {
        const n = await readFully(fh, buf, size);
        if (n === 0) break;
        const bytes = buf.subarray(0, n);
        sha.update(bytes);
        xxh.update(bytes);
        size += n;
      }
    } finally {
      await fh.close();
    }
    const whole = xxh.finish();
    if (sha.digest('hex') !== blob) return { status: 'corrupt', size, tableRewritten: false };
    if (size <= CHUNK_SIZE) return { status: 'ok', size, tableRewritten: false };
    const table = encodeChunkTable(this.xxh, { chunkSize: CHUNK_SIZE, size, whole, chunks: xxh.chunks });
    const current = await readFile(path + SIDECAR_SUFFIX).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    if (current?.equals(table)) return { status: 'ok', size, tableRewritten: false };
    const tmp = join(this.tmpDir, randomUUID() + SIDECAR_SUFFIX);
    await this.writeDurably(tmp, table);
    const rewritten = await this.withLock(blob, async () => {
      if (!(await this.has(blob))) return false;
      await rename(tmp, path + SIDECAR_SUFFIX);
      await fsyncDir(dirname(path));
      return true;
    });
    if (!rewritten) await rm(tmp, { force: true });
    return { status: 'ok', size, tableRewritten: rewritten };
  }

  /**
   * Moves a blob out of `blobs/` into `quarantine/` (kept for inspection and for the repair
   * worker; the chunk table is derived data and is dropped). Resolves the new path, or null if
   * the blob was already gone.
   */
  async quarantine(blob: string): Promise<string | null> {
    assertBlobId(blob);
    const path = this.blobPath(blob);
    return this.withLock(blob, async () => {
      const target = join(this.quarantineDir, `${blob}.${Date.now()}`);
      try {
        await rename(path, target);
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
      await rm(path + SIDECAR_SUFFIX, { force: true });
      await fsyncDir(this.quarantineDir);
      await fsyncDir(dirname(path));
      return target;
    });
  }

  private async verificationFor(path: string, size: number, expected: bigint): Promise<Verification> {
    if (size === 0) return { kind: 'whole', expected };
    // Up to one chunk, the chunk's hash is the whole blob's: the metadata's value suffices and
    // small blobs need no table file.
    if (size <= CHUNK_SIZE) return { kind: 'chunks', chunkSize: CHUNK_SIZE, hashes: [expected], expectedSize: size };
    const raw = await readFile(path + SIDECAR_SUFFIX).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    const table = raw && decodeChunkTable(this.xxh, raw);
    // The table is trusted only when it vouches for the very hash the metadata holds.
    if (!table || table.whole !== expected) return { kind: 'whole', expected };
    return { kind: 'chunks', chunkSize: table.chunkSize, hashes: table.chunks, expectedSize: table.size };
  }

  /**
   * The blob's fan-out directory, opened for the fsync that makes the blob's entry durable. A
   * directory mkdir had to create needs its own entry fsynced in its parent (both parents at once
   * when both levels are new). Fan-out directories are never removed, so this runs outside the lock.
   */
  private async fanOutDir(blob: string): Promise<FileHandle> {
    const dir = dirname(this.blobPath(blob));
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined) {
      await Promise.all([fsyncDir(dirname(dir)), ...(created === dir ? [] : [fsyncDir(this.blobsDir)])]);
    }
    return open(dir, 'r');
  }

  /** Renames a finished temp file into place under the blob's lock, then fsyncs its directory (`dir`, open). */
  private async install(blob: string, tmp: string, tmpTable: string | undefined, dir: FileHandle): Promise<void> {
    const path = this.blobPath(blob);
    await this.withLock(blob, async () => {
      // Renamed over any copy already there (the same bytes, by their name): the fresh file's
      // time is what keeps the GC, which spares young blobs and deletes with ifOlderThan under
      // this same lock, from removing the copy this write is about to reference.
      await rename(tmp, path);
      // Tables are a function of the bytes: replacing an existing one is harmless and restores
      // a lost one. Renamed after the blob so a crash never leaves a table without its blob.
      if (tmpTable) await rename(tmpTable, path + SIDECAR_SUFFIX);
      await dir.sync();
    });
  }

  private async writeDurably(path: string, data: Buffer): Promise<void> {
    const fh = await open(path, 'wx');
    try {
      await writeFully(fh, data, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  private async withLock<T>(blob: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(blob) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(blob, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(blob) === tail) this.locks.delete(blob);
    }
  }

  private async *walk(): AsyncIterable<{ blob: string; stats: Stats }> {
    for (const a of (await readdir(this.blobsDir)).filter((n) => FANOUT.test(n)).sort()) {
      const level1 = join(this.blobsDir, a);
      for (const b of (await readdir(level1)).filter((n) => FANOUT.test(n)).sort()) {
        const leaf = join(level1, b);
        for await (const entry of await opendir(leaf)) {
          if (!entry.isFile() || !isBlobId(entry.name)) continue;
          // A blob deleted between the directory read and the stat is simply no longer there.
          const stats = await stat(join(leaf, entry.name)).catch((err: unknown) => {
            if (isNotFound(err)) return null;
            throw err;
          });
          if (stats) yield { blob: entry.name, stats };
        }
      }
    }
  }
}
