import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import xxhash from 'xxhash-wasm';
import { crc32c } from '../src/block/digests.js';
import { LocalDataNode } from '../src/block/local.js';
import { scrubOnce } from '../src/block/scrub.js';
import { CHUNK_SIZE, SIDECAR_SUFFIX } from '../src/block/sidecar.js';

const MiB = 1024 * 1024;
const dirs: string[] = [];

after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshNode(): Promise<LocalDataNode> {
  const dir = await mkdtemp(join(tmpdir(), 'plinth-block-'));
  dirs.push(dir);
  return LocalDataNode.open({ dir });
}

/** Feeds `data` in uneven slices, as a network body arrives. */
function sliced(data: Buffer, sizes = [1, 7, 65536, 1000, 333333]): Readable {
  const pieces: Buffer[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - off);
    pieces.push(data.subarray(off, off + n));
    off += n;
  }
  return Readable.from(pieces);
}

/** `total` bytes made on the fly in 64 KiB pieces, none of them alike; nothing is kept. */
function generated(total: number): Readable {
  const block = randomBytes(65536);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(block.length, total - sent);
      const piece = Buffer.from(block.subarray(0, n));
      piece.writeUInt32BE(sent / 65536, 0);
      sent += n;
      this.push(piece);
    },
  });
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Consumes a stream that must fail; returns the error and every byte it let through. */
async function failing(stream: Readable): Promise<{ err: Error & { code?: string }; got: Buffer; ended: boolean }> {
  const parts: Buffer[] = [];
  let ended = false;
  stream.on('end', () => (ended = true));
  try {
    for await (const chunk of stream) parts.push(chunk as Buffer);
  } catch (err) {
    return { err: err as Error & { code?: string }, got: Buffer.concat(parts), ended };
  }
  assert.fail('the stream ended normally');
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset]! ^= 0x5a;
  await writeFile(path, bytes);
}

const hex = (algo: string, data: Buffer) => createHash(algo).update(data).digest('hex');
const b64 = (algo: string, data: Buffer) => createHash(algo).update(data).digest('base64');
const crcB64 = (value: number) => Buffer.from(value.toString(16).padStart(8, '0'), 'hex').toString('base64');

test('put streams into ab/cd/abcd… and reports the digests node:crypto and xxhash compute', async () => {
  const node = await freshNode();
  const data = randomBytes(3 * MiB + 12345);
  const info = await node.put(sliced(data), { checksums: ['crc32', 'crc32c', 'sha1', 'sha256'] });
  const { h64Raw } = await xxhash();
  assert.equal(info.blob, hex('sha256', data));
  assert.equal(info.md5, hex('md5', data));
  assert.equal(info.size, data.length);
  assert.equal(info.xxhash64, h64Raw(data).toString(16).padStart(16, '0'));
  assert.equal(info.checksums.sha1, b64('sha1', data));
  assert.equal(info.checksums.sha256, b64('sha256', data));
  assert.equal(info.checksums.crc32c, crcB64(crc32c(data)));
  const stored = join(node.dir, 'blobs', info.blob.slice(0, 2), info.blob.slice(2, 4), info.blob);
  assert.ok(data.equals(await readFile(stored)));
  assert.ok((await stat(stored + SIDECAR_SUFFIX)).size > 0, 'a multi-chunk blob has its chunk table');
  assert.ok(data.equals(await collect(await node.get(info.blob, info.xxhash64))));
  assert.deepEqual(await readdir(join(node.dir, 'tmp')), []);
});

test('known vectors: xxh64(""), crc32 and crc32c of "123456789" as S3 sends them', async () => {
  const node = await freshNode();
  const empty = await node.put(Readable.from([]), { checksums: ['crc32'] });
  assert.equal(empty.xxhash64, 'ef46db3751d8e999');
  assert.equal(empty.blob, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(empty.md5, 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(empty.checksums.crc32, 'AAAAAA==');
  assert.equal((await collect(await node.get(empty.blob, empty.xxhash64))).length, 0);

  const check = await node.put(Readable.from([Buffer.from('1234'), Buffer.from('56789')]), { checksums: ['CRC32', 'crc32c'] });
  assert.equal(check.checksums.crc32, Buffer.from('cbf43926', 'hex').toString('base64'));
  assert.equal(check.checksums.crc32c, Buffer.from('e3069283', 'hex').toString('base64'));
  assert.equal(check.checksums.crc32, 'y/Q5Jg==');
  assert.equal(check.checksums.crc32c, '4waSgw==');
});

test('crc32c: RFC 3720 vectors, and any split of the input gives the same value', () => {
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  const data = randomBytes(1000);
  const whole = crc32c(data);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole, `split at ${cut}`);
  }
});

test('an unknown checksum is refused before anything is written', async () => {
  const node = await freshNode();
  await assert.rejects(node.put(Readable.from([Buffer.from('x')]), { checksums: ['md4'] }), { code: 'UnsupportedChecksum' });
  assert.deepEqual(await readdir(join(node.dir, 'tmp')), []);
});

test('ranges: first byte, last byte, middle, whole, across chunk boundaries; with and without a chunk table', async () => {
  const node = await freshNode();
  const small = randomBytes(1000);
  const large = randomBytes(3 * CHUNK_SIZE + 777);
  const s = await node.put(sliced(small));
  const l = await node.put(sliced(large));
  const read = async (blob: string, xx: string, start: number, end: number) => collect(await node.get(blob, xx, { start, end }));
  const cases = (size: number) => [
    [0, 0],
    [size - 1, size - 1],
    [1, size - 2],
    [0, size - 1],
    [Math.floor(size / 2), Math.floor(size / 2) + 10],
  ];
  for (const [start, end] of cases(small.length)) assert.ok(small.subarray(start, end! + 1).equals(await read(s.blob, s.xxhash64, start!, end!)));
  const boundaries = [
    [CHUNK_SIZE - 1, CHUNK_SIZE],
    [CHUNK_SIZE, 2 * CHUNK_SIZE - 1],
    [CHUNK_SIZE - 5, 2 * CHUNK_SIZE + 5],
    [3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 776],
  ];
  const largeCases = [...cases(large.length), ...boundaries];
  for (const [start, end] of largeCases) assert.ok(large.subarray(start, end! + 1).equals(await read(l.blob, l.xxhash64, start!, end!)), `${start}-${end}`);
  // Without its table the blob is verified by hashing all of it; the bytes served are the same.
  await unlink(node.blobPath(l.blob) + SIDECAR_SUFFIX);
  for (const [start, end] of largeCases) assert.ok(large.subarray(start, end! + 1).equals(await read(l.blob, l.xxhash64, start!, end!)), `no table ${start}-${end}`);
});

test('get refuses bad ranges, absent blobs and malformed ids with typed errors', async () => {
  const node = await freshNode();
  const info = await node.put(Readable.from([Buffer.from('hello')]));
  await assert.rejects(node.get(info.blob, info.xxhash64, { start: 0, end: 5 }), { code: 'InvalidRange' });
  await assert.rejects(node.get(info.blob, info.xxhash64, { start: 3, end: 2 }), { code: 'InvalidRange' });
  await assert.rejects(node.get('0'.repeat(64), info.xxhash64), { code: 'NoSuchBlob' });
  await assert.rejects(node.get('../../etc/passwd', info.xxhash64), { code: 'InvalidBlobId' });
  await assert.rejects(node.delete('AB'.repeat(32)), { code: 'InvalidBlobId' });
});

test('a flipped byte in a small blob: the read errors with ChecksumMismatch and never ends normally', async () => {
  const node = await freshNode();
  const data = randomBytes(50_000);
  const info = await node.put(sliced(data));
  await flipByte(node.blobPath(info.blob), 1234);
  const whole = await failing(await node.get(info.blob, info.xxhash64));
  assert.equal(whole.err.code, 'ChecksumMismatch');
  assert.equal(whole.ended, false);
  assert.equal(whole.got.length, 0, 'a one-chunk blob is verified before any byte is released');
  assert.equal((await failing(await node.get(info.blob, info.xxhash64, { start: 40_000, end: 40_010 }))).err.code, 'ChecksumMismatch');
});

test('a flipped byte in a large blob: only verified chunks are released; untouched ranges still read', async () => {
  const node = await freshNode();
  const data = randomBytes(4 * CHUNK_SIZE);
  const info = await node.put(sliced(data));
  await flipByte(node.blobPath(info.blob), 2 * CHUNK_SIZE + 99);
  const whole = await failing(await node.get(info.blob, info.xxhash64));
  assert.equal(whole.err.code, 'ChecksumMismatch');
  assert.equal(whole.ended, false);
  assert.ok(whole.got.length <= 2 * CHUNK_SIZE && data.subarray(0, whole.got.length).equals(whole.got), 'nothing from the bad chunk got out');
  assert.equal((await failing(await node.get(info.blob, info.xxhash64, { start: 2 * CHUNK_SIZE + 5, end: 2 * CHUNK_SIZE + 200 }))).err.code, 'ChecksumMismatch');
  const clean = await collect(await node.get(info.blob, info.xxhash64, { start: 10, end: CHUNK_SIZE + 10 }));
  assert.ok(data.subarray(10, CHUNK_SIZE + 11).equals(clean));
  // Without the table the whole file is hashed: a range far from the damage fails too.
  await unlink(node.blobPath(info.blob) + SIDECAR_SUFFIX);
  const fallback = await failing(await node.get(info.blob, info.xxhash64, { start: 0, end: 9 }));
  assert.equal(fallback.err.code, 'ChecksumMismatch');
  assert.equal(fallback.ended, false);
});

test('a damaged chunk table, a wrong expected hash or a truncated blob never pass as good', async () => {
  const node = await freshNode();
  const data = randomBytes(2 * CHUNK_SIZE + 1);
  const info = await node.put(sliced(data));
  await flipByte(node.blobPath(info.blob) + SIDECAR_SUFFIX, 30);
  assert.ok(data.equals(await collect(await node.get(info.blob, info.xxhash64))), 'a bad table falls back to hashing the whole blob');
  assert.equal((await failing(await node.get(info.blob, 'ffffffffffffffff'))).err.code, 'ChecksumMismatch');
  assert.deepEqual(await node.verify(info.blob), { status: 'ok', size: data.length, tableRewritten: true });
  await writeFile(node.blobPath(info.blob), data.subarray(0, CHUNK_SIZE + 10));
  assert.equal((await failing(await node.get(info.blob, info.xxhash64))).err.code, 'ChecksumMismatch');
});

test('the same bytes twice keep one copy, and the second put refreshes its time for the GC', async () => {
  const node = await freshNode();
  const data = randomBytes(2 * CHUNK_SIZE);
  const first = await node.put(sliced(data));
  const old = new Date(Date.now() - 86_400_000);
  await utimes(node.blobPath(first.blob), old, old);
  await rm(node.blobPath(first.blob) + SIDECAR_SUFFIX);
  const second = await node.put(sliced(data, [4096]));
  assert.deepEqual(second, first);
  assert.ok((await stat(node.blobPath(first.blob))).mtimeMs > old.getTime() + 1000);
  assert.ok(await node.has(first.blob));
  assert.ok((await stat(node.blobPath(first.blob) + SIDECAR_SUFFIX)).isFile(), 'a lost table is restored');
  assert.deepEqual(await node.usage(), { blobs: 1, bytes: data.length });
  assert.deepEqual(await readdir(join(node.dir, 'tmp')), []);
});

test('concurrent puts of the same content end with one blob and no temp files', async () => {
  const node = await freshNode();
  const data = randomBytes(3 * MiB);
  const infos = await Promise.all(Array.from({ length: 8 }, (_, i) => node.put(sliced(data, [1000 + i * 4099]))));
  for (const info of infos) assert.deepEqual(info, infos[0]);
  assert.deepEqual(await node.usage(), { blobs: 1, bytes: data.length });
  assert.deepEqual(await readdir(join(node.dir, 'tmp')), []);
  assert.ok(data.equals(await collect(await node.get(infos[0]!.blob, infos[0]!.xxhash64))));
});

test('maxSize aborts with EntityTooLarge, removes the temp file and releases the source', async () => {
  const node = await freshNode();
  const source = generated(10 * MiB);
  await assert.rejects(node.put(source, { maxSize: 3 * MiB }), { code: 'EntityTooLarge' });
  assert.ok(source.destroyed);
  assert.deepEqual(await readdir(join(node.dir, 'tmp')), []);
  assert.deepEqual(await node.usage(), { blobs: 0, bytes: 0 });
  const exact = await node.put(generated(3 * MiB), { maxSize: 3 * MiB });
  assert.equal(exact.size, 3 * MiB);
});

test('a source that fails mid-stream leaves nothing behind', async () => {
  const node = await freshNode();
  let n = 0;
  const source = new Readable({
    read() {
      if (++n > 40) return void this.destroy(new Error('client went away'));
      this.push(randomBytes(65536));
    },
  });
  await assert.rejects(node.put(source), /client went away/);
  assert.deepEqual(await readdir(join(node.dir, 'tmp')), []);
  assert.deepEqual(await node.usage(), { blobs: 0, bytes: 0 });
});

test('cleanTemp removes old leftovers of a crash but not fresh files or a put in progress', async () => {
  const node = await freshNode();
  const tmp = join(node.dir, 'tmp');
  const old = new Date(Date.now() - 3_600_000);
  for (const name of ['crashed', 'crashed.xxc']) {
    await writeFile(join(tmp, name), 'partial');
    await utimes(join(tmp, name), old, old);
  }
  await writeFile(join(tmp, 'fresh'), 'partial');
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow = node.put(
    Readable.from(
      (async function* () {
        yield Buffer.from('first part');
        await gate;
        yield Buffer.from(', second part');
      })(),
    ),
  );
  while ((await readdir(tmp)).length < 4) await new Promise((r) => setTimeout(r, 5));
  assert.equal(await node.cleanTemp(new Date(Date.now() - 60_000)), 2);
  assert.equal(await node.cleanTemp(new Date(Date.now() + 60_000)), 1, 'the fresh file goes once past the cutoff; the active temp file stays');
  release();
  const info = await slow;
  assert.equal((await collect(await node.get(info.blob, info.xxhash64))).toString(), 'first part, second part');
  assert.deepEqual(await readdir(tmp), []);
});

test('delete honours ifOlderThan and removes the chunk table; list and usage see what is stored', async () => {
  const node = await freshNode();
  const a = await node.put(Readable.from([randomBytes(2 * CHUNK_SIZE)]));
  const b = await node.put(Readable.from([Buffer.from('bee')]));
  const listed = [];
  for await (const entry of node.list()) listed.push(entry);
  assert.deepEqual(listed.map((e) => e.blob).sort(), [a.blob, b.blob].sort());
  assert.ok(listed.every((e) => e.modified instanceof Date && Math.abs(e.modified.getTime() - Date.now()) < 60_000));
  assert.deepEqual(await node.usage(), { blobs: 2, bytes: 2 * CHUNK_SIZE + 3 });
  assert.equal(await node.delete(a.blob, { ifOlderThan: new Date(Date.now() - 60_000) }), false, 'young blobs are spared');
  assert.equal(await node.delete(a.blob, { ifOlderThan: new Date(Date.now() + 60_000) }), true);
  assert.equal(await node.delete(a.blob), false);
  await assert.rejects(stat(node.blobPath(a.blob) + SIDECAR_SUFFIX), { code: 'ENOENT' });
  assert.equal(await node.has(a.blob), false);
  assert.equal(await node.delete(b.blob), true);
  assert.deepEqual(await node.usage(), { blobs: 0, bytes: 0 });
});

test('a reader does not run ahead of a consumer that stopped reading', async () => {
  const node = await freshNode();
  const info = await node.put(generated(32 * MiB));
  const stream = await node.get(info.blob, info.xxhash64);
  stream.pause();
  stream.once('readable', () => undefined);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(stream.readableLength <= 2 * CHUNK_SIZE, `buffered ${stream.readableLength}`);
  stream.destroy();
});

test('scrub quarantines corrupt blobs and rebuilds missing chunk tables', async () => {
  const node = await freshNode();
  const good = await node.put(Readable.from([randomBytes(3 * CHUNK_SIZE)]));
  const bad = await node.put(Readable.from([randomBytes(1000)]));
  await flipByte(node.blobPath(bad.blob), 10);
  await rm(node.blobPath(good.blob) + SIDECAR_SUFFIX);
  const report = await scrubOnce(node);
  assert.equal(report.scanned, 2);
  assert.equal(report.bytes, 3 * CHUNK_SIZE + 1000);
  assert.equal(report.tablesRewritten, 1);
  assert.equal(report.corrupt.length, 1);
  assert.equal(report.corrupt[0]!.blob, bad.blob);
  assert.equal(report.corrupt[0]!.referenced, undefined);
  assert.ok(report.corrupt[0]!.quarantinedAt!.startsWith(join(node.dir, 'quarantine')));
  assert.equal(await node.has(bad.blob), false);
  await assert.rejects(node.get(bad.blob, bad.xxhash64), { code: 'NoSuchBlob' });
  assert.ok((await stat(node.blobPath(good.blob) + SIDECAR_SUFFIX)).isFile());
  const again = await scrubOnce(node);
  assert.deepEqual(again, { scanned: 1, bytes: 3 * CHUNK_SIZE, tablesRewritten: 0, corrupt: [] });
});

test('throughput of a 100 MiB blob (reported, not asserted)', async (t) => {
  const node = await freshNode();
  const size = 100 * MiB;
  const rate = (ms: number) => `${((size / MiB / ms) * 1000).toFixed(0)} MiB/s`;
  for (let round = 1; round <= 3; round++) {
    let started = performance.now();
    const info = await node.put(generated(size));
    const putMs = performance.now() - started;
    started = performance.now();
    let got = 0;
    for await (const chunk of await node.get(info.blob, info.xxhash64)) got += (chunk as Buffer).length;
    const getMs = performance.now() - started;
    assert.equal(got, size);
    started = performance.now();
    await collect(await node.get(info.blob, info.xxhash64, { start: 50 * MiB, end: 51 * MiB }));
    const rangeMs = performance.now() - started;
    t.diagnostic(`round ${round}: put ${putMs.toFixed(0)} ms (${rate(putMs)}, fsync included), get ${getMs.toFixed(0)} ms (${rate(getMs)}), 1 MiB range ${rangeMs.toFixed(1)} ms`);
    await node.delete(info.blob);
  }
});

test('memory stays flat while 1 GiB streams in and out', async (t) => {
  const node = await freshNode();
  const size = 1024 * MiB;
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    const info = await node.put(generated(size));
    assert.equal(info.size, size);
    const putPeak = peak;
    let got = 0;
    for await (const chunk of await node.get(info.blob, info.xxhash64)) got += (chunk as Buffer).length;
    assert.equal(got, size);
    const growth = (peak - baseline) / MiB;
    t.diagnostic(`rss baseline ${(baseline / MiB).toFixed(0)} MiB; peak growth during put ${((putPeak - baseline) / MiB).toFixed(1)} MiB, during put+get ${growth.toFixed(1)} MiB`);
    assert.ok(growth < 128, `rss grew by ${growth.toFixed(0)} MiB`);
    await node.delete(info.blob);
  } finally {
    clearInterval(sampler);
  }
});

test('put: a temp file that cannot be opened fails the put, even while the body is still arriving', async () => {
  const node = await freshNode();
  await rm(join(node.dir, 'tmp'), { recursive: true });
  // The first bytes come only after the open has already failed: nothing awaits it by then.
  const slow = new Readable({ read() {} });
  setTimeout(() => {
    slow.push(Buffer.from('late bytes'));
    slow.push(null);
  }, 100);
  await assert.rejects(node.put(slow), { code: 'ENOENT' });
});
