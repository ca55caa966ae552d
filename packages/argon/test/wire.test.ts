import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { BSONRegExp, Binary, Decimal128, Double, Int32, Long, ObjectId, deserialize, serialize, type Document } from 'bson';
import {
  HEADER_SIZE,
  LEGACY_OPCODES,
  MAX_BSON_INTERNAL_SIZE,
  MAX_BSON_OBJECT_SIZE,
  MAX_MESSAGE_SIZE_BYTES,
  MAX_WRITE_BATCH_SIZE,
  OpCode,
  OpMsgFlag,
  readHeader,
  type MessageHeader,
} from '../src/wire/protocol.js';
import { MessageFramer, WireError, type RawMessage } from '../src/wire/framing.js';
import { crc32c } from '../src/wire/crc32c.js';
import { buildCursorReply, decodeOpMsg, encodeCursorReply, encodeOpMsg, encodeOpMsgRaw } from '../src/wire/opmsg.js';
import { decodeOpQuery, encodeOpReply } from '../src/wire/opquery.js';
import { decodeCompressed, encodeCompressed } from '../src/wire/compression.js';

// ---------------------------------------------------------------- helpers

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}

function header(messageLength: number, requestId: number, responseTo: number, opCode: number): Buffer {
  return Buffer.concat([int32(messageLength), int32(requestId), int32(responseTo), int32(opCode)]);
}

/** A whole message: header + body, with a correct length. */
function message(opCode: number, body: Buffer, requestId = 7, responseTo = 0): Buffer {
  return Buffer.concat([header(HEADER_SIZE + body.length, requestId, responseTo, opCode), body]);
}

function bodySection(doc: Document | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0]), Buffer.isBuffer(doc) ? doc : Buffer.from(serialize(doc))]);
}

function sequenceSection(identifier: string, docs: Document[]): Buffer {
  const payload = Buffer.concat([Buffer.from(identifier + '\0', 'utf8'), ...docs.map((d) => Buffer.from(serialize(d)))]);
  return Buffer.concat([Buffer.from([1]), int32(4 + payload.length), payload]);
}

/** Hand-built OP_MSG body (independent of the encoder under test). */
function opMsgBody(flags: number, ...sections: Buffer[]): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(flags >>> 0);
  return Buffer.concat([b, ...sections]);
}

/** Frames one full message and returns it (asserting there is exactly one). */
function frameOne(bytes: Buffer): RawMessage {
  const out = new MessageFramer().push(bytes);
  assert.equal(out.length, 1);
  return out[0]!;
}

function expectWireError(fn: () => unknown, codeName: string, code: number, fatal = false, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WireError, `expected WireError, got ${String(err)}`);
    assert.equal(err.codeName, codeName);
    assert.equal(err.code, code);
    assert.equal(err.fatal, fatal);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

const hdr = (m: RawMessage): MessageHeader => m.header;

// ---------------------------------------------------------------- protocol

describe('protocol constants', () => {
  test('opcodes, limits and flag bits match the specification', () => {
    assert.equal(OpCode.OP_REPLY, 1);
    assert.equal(OpCode.OP_QUERY, 2004);
    assert.equal(OpCode.OP_COMPRESSED, 2012);
    assert.equal(OpCode.OP_MSG, 2013);
    assert.ok(LEGACY_OPCODES.has(2002) && LEGACY_OPCODES.has(2005) && !LEGACY_OPCODES.has(2013) && !LEGACY_OPCODES.has(2004));
    assert.equal(MAX_MESSAGE_SIZE_BYTES, 48_000_000);
    assert.equal(MAX_BSON_OBJECT_SIZE, 16 * 1024 * 1024);
    assert.equal(MAX_WRITE_BATCH_SIZE, 100_000);
    assert.equal(OpMsgFlag.checksumPresent, 1);
    assert.equal(OpMsgFlag.moreToCome, 2);
    assert.equal(OpMsgFlag.exhaustAllowed, 65536);
    assert.deepEqual(readHeader(header(20, 1, -2, 2013)), { messageLength: 20, requestId: 1, responseTo: -2, opCode: 2013 });
  });
});

// ---------------------------------------------------------------- crc32c

describe('crc32c', () => {
  test('matches the standard check value and known vectors', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
  });

  test('is incremental: crc(b, crc(a)) === crc(a ++ b)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (a, b) => {
        assert.equal(crc32c(b, crc32c(a)), crc32c(Buffer.concat([a, b])));
      }),
    );
  });
});

// ---------------------------------------------------------------- framing

describe('MessageFramer', () => {
  const msgs = [
    message(OpCode.OP_MSG, opMsgBody(0, bodySection({ ping: 1, $db: 'admin' })), 1),
    message(OpCode.OP_MSG, opMsgBody(0, bodySection({ find: 'c', filter: { a: 'x'.repeat(300) }, $db: 't' })), 2),
    message(OpCode.OP_QUERY, Buffer.alloc(0), 3), // framing does not look inside bodies
  ];
  const all = Buffer.concat(msgs);

  test('splits several messages delivered in one chunk', () => {
    const out = new MessageFramer().push(all);
    assert.deepEqual(out.map((m) => m.header.requestId), [1, 2, 3]);
    out.forEach((m, i) => {
      assert.deepEqual(m.message, msgs[i]);
      assert.deepEqual(m.body, msgs[i]!.subarray(HEADER_SIZE));
      assert.equal(m.header.messageLength, msgs[i]!.length);
    });
  });

  test('reassembles messages delivered one byte at a time', () => {
    const f = new MessageFramer();
    const out: RawMessage[] = [];
    for (let i = 0; i < all.length; i++) out.push(...f.push(all.subarray(i, i + 1)));
    assert.deepEqual(out.map((m) => m.message), msgs);
    assert.equal(f.bufferedBytes, 0);
  });

  test('returns nothing until a message is complete, then exactly it', () => {
    const f = new MessageFramer();
    assert.deepEqual(f.push(msgs[0]!.subarray(0, 3)), []);
    assert.deepEqual(f.push(msgs[0]!.subarray(3, 17)), []);
    assert.equal(f.bufferedBytes, 17);
    const out = f.push(Buffer.concat([msgs[0]!.subarray(17), msgs[1]!.subarray(0, 5)]));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.message, msgs[0]);
    assert.equal(f.bufferedBytes, 5);
  });

  test('random chunking yields the same messages (property)', () => {
    const docArb = fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => !k.includes('\0') && !k.startsWith('$')), fc.oneof(fc.integer(), fc.string({ maxLength: 40 })), { maxKeys: 6 });
    fc.assert(
      fc.property(fc.array(docArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (docs, cutsRaw) => {
        const wire = docs.map((d, i) => encodeOpMsg(d, { requestId: i, responseTo: 0 }));
        const stream = Buffer.concat(wire);
        const cuts = [...new Set(cutsRaw.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const f = new MessageFramer();
        const out: RawMessage[] = [];
        let prev = 0;
        for (const c of [...cuts, stream.length]) {
          out.push(...f.push(stream.subarray(prev, c)));
          prev = c;
        }
        assert.equal(out.length, wire.length);
        out.forEach((m, i) => {
          assert.deepEqual(m.message, wire[i]);
          assert.equal(m.header.requestId, i);
          assert.deepEqual(decodeOpMsg(m.body).doc, deserialize(serialize(docs[i]!)));
        });
        assert.equal(f.bufferedBytes, 0);
      }),
      { numRuns: 200 },
    );
  });

  for (const bad of [0, 15, -1, -2147483648]) {
    test(`length ${bad} is a fatal ProtocolError`, () => {
      const f = new MessageFramer();
      expectWireError(() => f.push(header(bad, 1, 0, OpCode.OP_MSG)), 'ProtocolError', 17, true);
      // The stream cannot be resynchronised: the framer stays failed.
      expectWireError(() => f.push(all), 'ProtocolError', 17, true);
    });
  }

  test('a length above MAX_MESSAGE_SIZE_BYTES is fatal as soon as 4 bytes arrive', () => {
    const f = new MessageFramer();
    assert.deepEqual(f.push(Buffer.from([0x01, 0x6c])), []);
    expectWireError(() => f.push(Buffer.from([0xdc, 0x02])), 'ProtocolError', 17, true, /48000000/); // 48_000_001
    const ok = new MessageFramer();
    // Exactly the maximum is allowed (and merely waits for more bytes).
    assert.deepEqual(ok.push(int32(MAX_MESSAGE_SIZE_BYTES)), []);
  });

  test('a minimal 16-byte message (empty body) is framed', () => {
    const m = frameOne(header(16, 9, 0, OpCode.OP_MSG));
    assert.equal(m.body.length, 0);
    assert.equal(hdr(m).requestId, 9);
  });
});

// ---------------------------------------------------------------- OP_MSG decode

describe('decodeOpMsg', () => {
  const body = {
    insert: 'c',
    $db: 'test',
    ordered: true,
    dbl: new Double(1),
    i32: 5,
    i64: Long.fromString('9007199254740993'),
    dec: Decimal128.fromString('1.10'),
  };
  const docs = [
    { _id: new ObjectId(), n: new Double(2), bin: new Binary(Buffer.from([1, 2, 3]), 4), re: new BSONRegExp('^a', 'imx') },
    { _id: 2, s: 'é', arr: [1, new Double(2.5), Long.fromNumber(3)] },
  ];
  const deletes = [{ q: { a: 1 }, limit: 0 }];
  const bytes = message(OpCode.OP_MSG, opMsgBody(0, bodySection(body), sequenceSection('documents', docs), sequenceSection('deletes_', deletes)));

  test('round trip: body + two document sequences (faithful types)', () => {
    const m = frameOne(bytes);
    const msg = decodeOpMsg(m.body, { faithful: true });
    assert.equal(msg.flags, 0);
    assert.equal(msg.moreToCome, false);
    assert.equal(msg.checksumPresent, false);
    assert.deepEqual([...msg.sequences.keys()], ['documents', 'deletes_']);
    assert.equal(msg.sequences.get('documents')!.length, 2);
    // Types survive exactly: re-serializing gives the client's bytes back.
    assert.deepEqual(Buffer.from(serialize(msg.doc)), Buffer.from(serialize(body)));
    assert.ok(msg.doc.dbl instanceof Double && msg.doc.i32 instanceof Int32 && msg.doc.i64 instanceof Long && msg.doc.dec instanceof Decimal128);
    msg.sequences.get('documents')!.forEach((d, i) => assert.deepEqual(Buffer.from(serialize(d)), Buffer.from(serialize(docs[i]!))));
    assert.ok(msg.sequences.get('documents')![0]!.re instanceof BSONRegExp);
    assert.equal(msg.sequences.get('documents')![0]!.re.options, 'imx');
    assert.equal((msg.sequences.get('documents')![0]!.bin as Binary).sub_type, 4);
    // Raw views are the exact client bytes.
    assert.deepEqual(msg.rawDoc, Buffer.from(serialize(body)));
    assert.deepEqual(msg.rawSequences.get('documents'), docs.map((d) => Buffer.from(serialize(d))));
    assert.deepEqual(msg.rawSequences.get('deletes_'), [Buffer.from(serialize(deletes[0]!))]);
  });

  test('default (convenient) mode promotes int32/double to numbers but keeps Long and Decimal128', () => {
    const msg = decodeOpMsg(frameOne(bytes).body);
    assert.equal(msg.doc.dbl, 1);
    assert.equal(msg.doc.i32, 5);
    assert.ok(msg.doc.i64 instanceof Long);
    assert.equal(msg.doc.i64.toString(), '9007199254740993');
    assert.ok(msg.doc.dec instanceof Decimal128);
    assert.deepEqual(msg.sequences.get('deletes_'), [{ q: { a: 1 }, limit: 0 }]);
  });

  test('flag bits: moreToCome, exhaustAllowed and unknown optional bits are accepted', () => {
    const b = opMsgBody(OpMsgFlag.moreToCome | OpMsgFlag.exhaustAllowed | (1 << 20) | (1 << 31), bodySection({ ping: 1 }));
    const msg = decodeOpMsg(b);
    assert.equal(msg.moreToCome, true);
    assert.equal(msg.exhaustAllowed, true);
    assert.equal(msg.flags, (OpMsgFlag.moreToCome | OpMsgFlag.exhaustAllowed | (1 << 20) | (1 << 31)) >>> 0);
  });

  for (const bit of [2, 3, 8, 15]) {
    test(`unknown required flag bit ${bit} is a non-fatal IllegalOpMsgFlag`, () => {
      expectWireError(() => decodeOpMsg(opMsgBody(1 << bit, bodySection({ ping: 1 }))), 'IllegalOpMsgFlag', 223);
    });
  }

  test('checksum: a correct CRC-32C verifies, a wrong one is ChecksumMismatch', () => {
    const inner = opMsgBody(OpMsgFlag.checksumPresent, bodySection({ ping: 1 }), sequenceSection('documents', [{ a: 1 }]));
    const total = HEADER_SIZE + inner.length + 4;
    const withoutCrc = Buffer.concat([header(total, 11, 0, OpCode.OP_MSG), inner]);
    const good = Buffer.concat([withoutCrc, int32(crc32c(withoutCrc) | 0)]);
    const m = frameOne(good);
    const msg = decodeOpMsg(m.body, { header: m.header });
    assert.equal(msg.checksumPresent, true);
    assert.deepEqual(msg.doc, { ping: 1 });
    assert.deepEqual(msg.sequences.get('documents'), [{ a: 1 }]);

    // Corrupt a body byte, the checksum itself, and the header (covered too).
    for (const pos of [HEADER_SIZE + 10, good.length - 1, 5]) {
      const bad = Buffer.from(good);
      bad[pos]! ^= 0x01;
      const bm = frameOne(bad);
      expectWireError(() => decodeOpMsg(bm.body, { header: bm.header }), 'ChecksumMismatch', 288);
    }
    // The checksum covers the header, so decoding without it cannot verify.
    assert.throws(() => decodeOpMsg(m.body), TypeError);
  });

  test('truncated sections are ProtocolError, bad document lengths InvalidBSON', () => {
    const full = opMsgBody(0, bodySection({ ping: 1 }), sequenceSection('documents', [{ a: 1 }, { b: 2 }]));
    // Cut inside the sequence: its declared size no longer fits.
    expectWireError(() => decodeOpMsg(full.subarray(0, full.length - 3)), 'ProtocolError', 17, false, /sequence size/);
    // Cut inside the body document.
    const bodyOnly = opMsgBody(0, bodySection({ ping: 1, x: 'yyyy' }));
    expectWireError(() => decodeOpMsg(bodyOnly.subarray(0, bodyOnly.length - 2)), 'InvalidBSON', 22);
    // Sequence length prefix cut short (fewer than 4 bytes left).
    expectWireError(() => decodeOpMsg(Buffer.concat([opMsgBody(0, bodySection({ ping: 1 })), Buffer.from([1, 9, 0])])), 'ProtocolError', 17);
    // A sequence whose documents do not exactly fill it.
    const seq = sequenceSection('documents', [{ a: 1 }]);
    const shortSeq = Buffer.from(seq);
    shortSeq.writeInt32LE(seq.readInt32LE(1) - 2, 1);
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection({ ping: 1 }), shortSeq, Buffer.from([0, 0]))), 'InvalidBSON', 22);
    // Identifier without its NUL inside the section.
    const noNul = Buffer.concat([Buffer.from([1]), int32(8), Buffer.from('abcd')]);
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection({ ping: 1 }), noNul)), 'ProtocolError', 17, false, /unterminated/);
    // Too short to even hold flags + one section kind.
    expectWireError(() => decodeOpMsg(Buffer.alloc(3)), 'ProtocolError', 17);
  });

  test('malformed BSON content is a non-fatal InvalidBSON', () => {
    // Unknown element type 0x7e.
    const badType = Buffer.from([10, 0, 0, 0, 0x7e, 0x61, 0, 0, 0, 0]);
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection(badType))), 'InvalidBSON', 22);
    // Invalid UTF-8 in a string value.
    const s = Buffer.from(serialize({ s: 'ab' }));
    s[s.length - 4] = 0xff;
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection(s))), 'InvalidBSON', 22);
    // Missing terminating 0x00.
    const t = Buffer.from(serialize({ a: 1 }));
    t[t.length - 1] = 7;
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection(t))), 'InvalidBSON', 22);
    // Length prefix below the BSON minimum.
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection(Buffer.from([4, 0, 0, 0, 0])))), 'InvalidBSON', 22);
    // Bad document inside a sequence.
    const seq = sequenceSection('documents', [{ a: 1 }]);
    seq[seq.length - 8] = 0x7e; // element type byte of `a`
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection({ insert: 'c' }), seq)), 'InvalidBSON', 22, false, /documents/);
  });

  test('zero or two body sections, unknown kinds and duplicate sequences are ProtocolError', () => {
    expectWireError(() => decodeOpMsg(opMsgBody(0, sequenceSection('documents', [{ a: 1 }]))), 'ProtocolError', 17, false, /no body/);
    expectWireError(() => decodeOpMsg(opMsgBody(0)), 'ProtocolError', 17);
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection({ a: 1 }), bodySection({ b: 1 }))), 'ProtocolError', 17, false, /more than one body/);
    expectWireError(() => decodeOpMsg(opMsgBody(0, bodySection({ a: 1 }), Buffer.from([2, 5, 0, 0, 0]))), 'ProtocolError', 17, false, /section kind 2/);
    expectWireError(
      () => decodeOpMsg(opMsgBody(0, bodySection({ a: 1 }), sequenceSection('d', [{}]), sequenceSection('d', [{}]))),
      'ProtocolError',
      17,
      false,
      /duplicate/,
    );
    expectWireError(
      () => decodeOpMsg(opMsgBody(0, bodySection({ insert: 'c', documents: [] }), sequenceSection('documents', [{}]))),
      'ProtocolError',
      17,
      false,
      /both/,
    );
  });

  test('an empty document sequence and a sequence before the body are allowed', () => {
    const msg = decodeOpMsg(opMsgBody(0, sequenceSection('documents', []), bodySection({ insert: 'c' })));
    assert.deepEqual(msg.sequences.get('documents'), []);
    assert.deepEqual(msg.doc, { insert: 'c' });
  });
});

// ---------------------------------------------------------------- OP_MSG encode

describe('encodeOpMsg', () => {
  test('produces a framed OP_MSG that decodes to the same document', () => {
    const doc = { ok: 1, n: new Double(3), l: Long.fromNumber(-5), u: undefined, nested: { a: [1, 'two'] }, 'dotted.key': 1, $dollar: true };
    const bytes = encodeOpMsg(doc, { requestId: 42, responseTo: 17 });
    const m = frameOne(bytes);
    assert.deepEqual(m.header, { messageLength: bytes.length, requestId: 42, responseTo: 17, opCode: OpCode.OP_MSG });
    const msg = decodeOpMsg(m.body, { faithful: true });
    assert.equal(msg.flags, 0);
    // undefined is kept (not dropped): bson writes it as null.
    assert.ok('u' in msg.doc);
    assert.deepEqual(msg.rawDoc, Buffer.from(serialize(doc, { ignoreUndefined: false })));
  });

  test('checksum option appends a verifiable CRC-32C and sets the flag', () => {
    const bytes = encodeOpMsg({ ok: 1 }, { requestId: 1, responseTo: 2, checksum: true, flags: OpMsgFlag.moreToCome });
    const m = frameOne(bytes);
    const msg = decodeOpMsg(m.body, { header: m.header });
    assert.equal(msg.checksumPresent, true);
    assert.equal(msg.moreToCome, true);
    assert.equal(bytes.readUInt32LE(bytes.length - 4), crc32c(bytes.subarray(0, bytes.length - 4)));
    // flags with the checksum bit imply a checksum; checksum:false clears it.
    const implied = frameOne(encodeOpMsg({ ok: 1 }, { requestId: 1, responseTo: 2, flags: 1 }));
    assert.equal(decodeOpMsg(implied.body, { header: implied.header }).checksumPresent, true);
    assert.equal(encodeOpMsg({ ok: 1 }, { requestId: 1, responseTo: 2, flags: 1, checksum: false }).readUInt32LE(HEADER_SIZE), 0);
  });

  test('exhaustAllowed/high flag bits are written unsigned', () => {
    const bytes = encodeOpMsg({ ok: 1 }, { requestId: 1, responseTo: 2, flags: OpMsgFlag.exhaustAllowed | (1 << 31) });
    assert.equal(bytes.readUInt32LE(HEADER_SIZE), (OpMsgFlag.exhaustAllowed | (1 << 31)) >>> 0);
  });

  test('a reply above 16 MiB + 16 KiB is BSONObjectTooLarge', () => {
    const big = { ok: 1, s: 'x'.repeat(MAX_BSON_INTERNAL_SIZE) };
    expectWireError(() => encodeOpMsg(big, { requestId: 1, responseTo: 2 }), 'BSONObjectTooLarge', 10334);
    // Just under the internal limit is fine.
    const fits = { s: 'x'.repeat(MAX_BSON_OBJECT_SIZE) };
    const bytes = encodeOpMsg(fits, { requestId: 1, responseTo: 2 });
    assert.equal(bytes.length, HEADER_SIZE + 5 + serialize(fits).length);
  });

  test('encodeOpMsgRaw frames given BSON bytes untouched and rejects non-documents', () => {
    const raw = Buffer.from(serialize({ ok: 1, x: 'y' }));
    const bytes = encodeOpMsgRaw(raw, { requestId: 3, responseTo: 4 });
    assert.deepEqual(bytes, encodeOpMsg({ ok: 1, x: 'y' }, { requestId: 3, responseTo: 4 }));
    assert.deepEqual(bytes.subarray(HEADER_SIZE + 5), raw);
    expectWireError(() => encodeOpMsgRaw(raw.subarray(0, raw.length - 1), { requestId: 3, responseTo: 4 }), 'InvalidBSON', 22);
  });
});

// ---------------------------------------------------------------- cursor replies

describe('buildCursorReply', () => {
  const docs: Document[] = [
    { _id: 1, a: 'x' },
    { _id: new ObjectId(), n: new Double(1), l: Long.fromNumber(2), nested: { arr: [1, { b: 2 }] } },
    { _id: 'é', d: new Date(0), dec: Decimal128.fromString('3.14') },
  ];
  const raws = (ds: Document[]) => ds.map((d) => Buffer.from(serialize(d)));
  const expected = (key: 'firstBatch' | 'nextBatch', ds: Document[], id: Long, ns: string, extra: Document = {}) =>
    Buffer.from(serialize({ cursor: { [key]: ds, id, ns }, ok: 1, ...extra }));

  const cases: Array<[string, 'firstBatch' | 'nextBatch', Document[], Long, string, Document | undefined]> = [
    ['empty batch', 'firstBatch', [], Long.ZERO, 'test.c', undefined],
    ['three docs', 'firstBatch', docs, Long.fromString('123456789012345'), 'db.coll', undefined],
    ['nextBatch with negative id', 'nextBatch', docs.slice(1), Long.fromNumber(-2), 'db.coll', undefined],
    ['twelve docs (two-digit keys), unicode ns', 'firstBatch', Array.from({ length: 12 }, (_, i) => ({ i })), Long.MAX_VALUE, 'dé.çoll', undefined],
    ['extra fields', 'nextBatch', docs, Long.fromNumber(7), 'a.b', { operationTime: Long.fromNumber(5), note: 'x' }],
  ];
  for (const [name, key, ds, id, ns, extra] of cases) {
    test(`equals serialize() byte for byte: ${name}`, () => {
      const built = buildCursorReply(ns, id, key, raws(ds), extra);
      assert.deepEqual(built, expected(key, ds, id, ns, extra));
      const back = deserialize(built, { promoteValues: false });
      assert.equal(back.cursor.ns, ns);
      assert.equal(back.cursor[key].length, ds.length);
      assert.ok((back.cursor.id as Long).equals(id));
    });
  }

  test('property: any batch of documents matches serialize()', () => {
    const docArb = fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => !k.includes('\0')), fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.boolean()), { maxKeys: 5 });
    fc.assert(
      fc.property(fc.array(docArb, { maxLength: 25 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.string({ maxLength: 20 }), (ds, id, ns) => {
        const long = Long.fromBigInt(id);
        assert.deepEqual(buildCursorReply(ns, long, 'firstBatch', raws(ds)), expected('firstBatch', ds, long, ns));
      }),
      { numRuns: 100 },
    );
  });

  test('encodeCursorReply equals encodeOpMsgRaw(buildCursorReply(...))', () => {
    const opts = { requestId: 5, responseTo: 6 };
    const id = Long.fromNumber(99);
    assert.deepEqual(encodeCursorReply('t.c', id, 'firstBatch', raws(docs), undefined, opts), encodeOpMsgRaw(buildCursorReply('t.c', id, 'firstBatch', raws(docs)), opts));
    const withCrc = encodeCursorReply('t.c', id, 'firstBatch', raws(docs), undefined, { ...opts, checksum: true });
    const m = frameOne(withCrc);
    assert.equal(decodeOpMsg(m.body, { header: m.header }).doc.cursor.firstBatch.length, 3);
  });

  test('rejects entries that are not BSON documents and oversized batches', () => {
    expectWireError(() => buildCursorReply('t.c', Long.ZERO, 'firstBatch', [Buffer.from([9, 0, 0, 0, 0])]), 'InvalidBSON', 22);
    const big = Buffer.from(serialize({ s: 'x'.repeat(9 * 1024 * 1024) }));
    expectWireError(() => buildCursorReply('t.c', Long.ZERO, 'firstBatch', [big, big]), 'BSONObjectTooLarge', 10334);
  });
});

// ---------------------------------------------------------------- OP_QUERY / OP_REPLY

function opQueryBody(flags: number, ns: string, skip: number, ret: number, query: Document, fields?: Document): Buffer {
  return Buffer.concat([
    int32(flags),
    Buffer.from(ns + '\0', 'utf8'),
    int32(skip),
    int32(ret),
    Buffer.from(serialize(query)),
    ...(fields ? [Buffer.from(serialize(fields))] : []),
  ]);
}

describe('OP_QUERY / OP_REPLY', () => {
  test('decodes a plain handshake query', () => {
    const m = frameOne(message(OpCode.OP_QUERY, opQueryBody(4, 'admin.$cmd', 0, -1, { isMaster: 1, helloOk: true, client: { driver: { name: 'x' } } })));
    const q = decodeOpQuery(m.body);
    assert.equal(q.flags, 4);
    assert.equal(q.fullCollectionName, 'admin.$cmd');
    assert.equal(q.databaseName, 'admin');
    assert.equal(q.collectionName, '$cmd');
    assert.equal(q.numberToSkip, 0);
    assert.equal(q.numberToReturn, -1);
    assert.deepEqual(q.query, { isMaster: 1, helloOk: true, client: { driver: { name: 'x' } } });
    assert.equal(q.readPreference, undefined);
    assert.equal(q.returnFieldsSelector, undefined);
  });

  test('unwraps $query/$readPreference and reads returnFieldsSelector', () => {
    const body = opQueryBody(0, 'db.coll', 5, 10, { $query: { hello: 1 }, $readPreference: { mode: 'secondaryPreferred' } }, { a: 1 });
    const q = decodeOpQuery(body);
    assert.deepEqual(q.query, { hello: 1 });
    assert.deepEqual(q.readPreference, { mode: 'secondaryPreferred' });
    assert.deepEqual(q.returnFieldsSelector, { a: 1 });
    assert.equal(q.numberToSkip, 5);
    assert.equal(q.numberToReturn, 10);
    const faithful = decodeOpQuery(body, { faithful: true });
    assert.ok(faithful.query.hello instanceof Int32);
  });

  test('malformed OP_QUERY bodies are non-fatal errors', () => {
    const good = opQueryBody(0, 'admin.$cmd', 0, -1, { hello: 1 });
    expectWireError(() => decodeOpQuery(good.subarray(0, good.length - 1)), 'InvalidBSON', 22);
    expectWireError(() => decodeOpQuery(Buffer.concat([good, Buffer.from([1, 2])])), 'InvalidBSON', 22);
    expectWireError(() => decodeOpQuery(Buffer.concat([int32(0), Buffer.from('admin.$cmd'), Buffer.alloc(12, 1)])), 'ProtocolError', 17);
    expectWireError(() => decodeOpQuery(Buffer.alloc(6)), 'ProtocolError', 17);
  });

  test('encodeOpReply writes the OP_REPLY layout', () => {
    const docs = [{ ismaster: true, maxWireVersion: 21, ok: 1 }, { second: 'doc' }];
    const bytes = encodeOpReply(docs, { requestId: 100, responseTo: 7, flags: 8, cursorId: Long.fromNumber(12345) });
    const m = frameOne(bytes);
    assert.deepEqual(m.header, { messageLength: bytes.length, requestId: 100, responseTo: 7, opCode: OpCode.OP_REPLY });
    assert.equal(m.body.readInt32LE(0), 8);
    assert.equal(m.body.readBigInt64LE(4), 12345n);
    assert.equal(m.body.readInt32LE(12), 0); // startingFrom
    assert.equal(m.body.readInt32LE(16), 2); // numberReturned
    const first = Buffer.from(serialize(docs[0]!));
    assert.deepEqual(deserialize(m.body.subarray(20, 20 + first.length)), docs[0]);
    assert.deepEqual(deserialize(m.body.subarray(20 + first.length)), docs[1]);
    const empty = frameOne(encodeOpReply([{ ok: 1 }], { requestId: 1, responseTo: 2 }));
    assert.equal(empty.body.readInt32LE(0), 0);
    assert.equal(empty.body.readBigInt64LE(4), 0n);
  });
});

// ---------------------------------------------------------------- OP_COMPRESSED

function compressedBody(originalOpcode: number, uncompressedSize: number, compressorId: number, payload: Buffer): Buffer {
  return Buffer.concat([int32(originalOpcode), int32(uncompressedSize), Buffer.from([compressorId]), payload]);
}

describe('OP_COMPRESSED', () => {
  const reply = encodeOpMsg({ ok: 1, text: 'compress me '.repeat(200) }, { requestId: 50, responseTo: 49 });

  for (const id of [2, 0] as const) {
    test(`round trip with compressor ${id}`, () => {
      const wire = encodeCompressed(reply, id, 77, 49);
      const outer = frameOne(wire);
      assert.equal(outer.header.opCode, OpCode.OP_COMPRESSED);
      assert.equal(outer.header.requestId, 77);
      if (id === 2) assert.ok(wire.length < reply.length / 4, 'zlib should shrink a repetitive reply');
      const inner = decodeCompressed(outer);
      assert.equal(inner.compressorId, id);
      assert.equal(inner.originalOpcode, OpCode.OP_MSG);
      assert.equal(inner.uncompressedSize, reply.length - HEADER_SIZE);
      assert.deepEqual(inner.message.header, { messageLength: reply.length, requestId: 77, responseTo: 49, opCode: OpCode.OP_MSG });
      assert.deepEqual(inner.message.body, reply.subarray(HEADER_SIZE));
      assert.equal(decodeOpMsg(inner.message.body).doc.ok, 1);
    });
  }

  test('snappy and zstd are rejected with a non-fatal error naming the supported ones', () => {
    for (const id of [1, 3]) {
      const m = frameOne(message(OpCode.OP_COMPRESSED, compressedBody(OpCode.OP_MSG, 10, id, Buffer.alloc(10))));
      expectWireError(() => decodeCompressed(m), 'ProtocolError', 17, false, /noop.*zlib/);
    }
    assert.throws(() => encodeCompressed(reply, 1, 1, 1), RangeError);
  });

  test('uncompressedSize must match the payload and stay within limits', () => {
    const original = reply.subarray(HEADER_SIZE);
    const z = deflateSync(original);
    const frame = (size: number, id: number, payload: Buffer) => frameOne(message(OpCode.OP_COMPRESSED, compressedBody(OpCode.OP_MSG, size, id, payload)));
    expectWireError(() => decodeCompressed(frame(original.length + 1, 2, z)), 'ProtocolError', 17, false, /declared/);
    expectWireError(() => decodeCompressed(frame(original.length - 1, 2, z)), 'ZLibError', 147);
    expectWireError(() => decodeCompressed(frame(5, 0, Buffer.alloc(6))), 'ProtocolError', 17);
    expectWireError(() => decodeCompressed(frame(MAX_MESSAGE_SIZE_BYTES, 2, z)), 'ProtocolError', 17, false, /out of range/);
    expectWireError(() => decodeCompressed(frame(-1, 2, z)), 'ProtocolError', 17);
    expectWireError(() => decodeCompressed(frame(10, 2, Buffer.from('not zlib data'))), 'ZLibError', 147);
    expectWireError(() => decodeCompressed(frameOne(message(OpCode.OP_COMPRESSED, Buffer.alloc(5)))), 'ProtocolError', 17);
  });

  test('zip bomb: a small declared size stops inflation early', () => {
    const bomb = deflateSync(Buffer.alloc(40 * 1024 * 1024)); // ~40 KB compressed
    assert.ok(bomb.length < 100_000);
    const m = frameOne(message(OpCode.OP_COMPRESSED, compressedBody(OpCode.OP_MSG, 1000, 2, bomb)));
    const t0 = process.hrtime.bigint();
    expectWireError(() => decodeCompressed(m), 'ZLibError', 147);
    assert.ok(process.hrtime.bigint() - t0 < 200_000_000n, 'inflation should stop at maxOutputLength');
  });

  test('OP_COMPRESSED cannot wrap OP_COMPRESSED', () => {
    const m = frameOne(message(OpCode.OP_COMPRESSED, compressedBody(OpCode.OP_COMPRESSED, 0, 0, Buffer.alloc(0))));
    expectWireError(() => decodeCompressed(m), 'ProtocolError', 17, false, /wrap/);
  });
});
