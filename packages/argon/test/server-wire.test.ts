/**
 * Targeted wire-protocol tests against a live server: compression, the legacy OP_QUERY handshake,
 * moreToCome, checksums, the message size limit, many concurrent connections, cursors and
 * sessions. Raw messages are written over plain TCP sockets and replies parsed by hand.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RawConnection } from './raw-connection.js';
import { Binary, Long, MongoClient, MongoServerError, UUID } from 'mongodb';
import { deserialize, serialize, type Document } from 'bson';
import { startServer } from './server-helpers.js';
import { MessageFramer, type RawMessage } from '../src/wire/framing.js';
import { decodeOpMsg, encodeOpMsg } from '../src/wire/opmsg.js';
import { decodeCompressed, encodeCompressed } from '../src/wire/compression.js';
import { HEADER_SIZE, MAX_MESSAGE_SIZE_BYTES, OpCode, OpMsgFlag } from '../src/wire/protocol.js';
import { crc32c } from '../src/wire/crc32c.js';

let env: Awaited<ReturnType<typeof startServer>>;
let port: number;
before(async () => {
  env = await startServer();
  port = env.server.port;
});
after(async () => {
  await env.stop();
});

// ------------------------------------------------------------------ raw client

let nextRequestId = 1000;

/** A raw TCP connection that keeps every reply. */
class RawConn extends RawConnection {
  readonly replies: RawMessage[] = [];

  protected override onReply(message: RawMessage): void {
    this.replies.push(message);
  }

  /** The reply to `requestId`, or undefined if the connection closed / timed out first. */
  async replyTo(requestId: number, ms = 5000): Promise<RawMessage | undefined> {
    await this.waitFor(() => this.replies.some((r) => r.header.responseTo === requestId), ms);
    return this.replies.find((r) => r.header.responseTo === requestId);
  }
}

/** An OP_MSG built with the wire encoder, plus optional kind-1 sequences and checksum. */
function opMsg(doc: Document, opts: { requestId?: number; flags?: number; sequences?: [string, Document[]][]; checksum?: boolean } = {}): Buffer {
  const requestId = opts.requestId ?? nextRequestId++;
  const flags = (opts.flags ?? 0) & ~OpMsgFlag.checksumPresent;
  const parts = [encodeOpMsg(doc, { requestId, responseTo: 0, flags })];
  for (const [identifier, docs] of opts.sequences ?? []) {
    const payload = Buffer.concat([Buffer.from(identifier + '\0'), ...docs.map((d) => Buffer.from(serialize(d)))]);
    const head = Buffer.alloc(5);
    head[0] = 1;
    head.writeInt32LE(4 + payload.length, 1);
    parts.push(head, payload);
  }
  if (opts.checksum) parts.push(Buffer.alloc(4));
  const msg = Buffer.concat(parts);
  msg.writeInt32LE(msg.length, 0);
  if (opts.checksum) {
    msg.writeUInt32LE((flags | OpMsgFlag.checksumPresent) >>> 0, HEADER_SIZE);
    msg.writeUInt32LE(crc32c(msg.subarray(0, msg.length - 4)), msg.length - 4);
  }
  return msg;
}

/** A legacy OP_QUERY on `ns` (e.g. admin.$cmd). */
function opQuery(ns: string, query: Document, requestId = nextRequestId++): Buffer {
  const nsBytes = Buffer.from(ns + '\0');
  const q = Buffer.from(serialize(query));
  const msg = Buffer.alloc(HEADER_SIZE + 4 + nsBytes.length + 8 + q.length);
  msg.writeInt32LE(msg.length, 0);
  msg.writeInt32LE(requestId, 4);
  msg.writeInt32LE(0, 8);
  msg.writeInt32LE(OpCode.OP_QUERY, 12);
  let o = HEADER_SIZE + 4;
  nsBytes.copy(msg, o);
  o += nsBytes.length;
  msg.writeInt32LE(0, o); // numberToSkip
  msg.writeInt32LE(-1, o + 4); // numberToReturn
  q.copy(msg, o + 8);
  return msg;
}

/** The reply document of an OP_MSG, OP_REPLY or OP_COMPRESSED reply. */
function replyDoc(m: RawMessage): { opCode: number; doc: Document; numberReturned?: number } {
  if (m.header.opCode === OpCode.OP_COMPRESSED) return replyDoc(decodeCompressed(m).message);
  if (m.header.opCode === OpCode.OP_MSG) return { opCode: OpCode.OP_MSG, doc: decodeOpMsg(m.body).doc };
  if (m.header.opCode === OpCode.OP_REPLY) {
    const numberReturned = m.body.readInt32LE(16);
    return { opCode: OpCode.OP_REPLY, doc: deserialize(m.body.subarray(20)), numberReturned };
  }
  throw new Error(`unexpected reply opcode ${m.header.opCode}`);
}

async function rawCommand(conn: RawConn, doc: Document): Promise<Document> {
  const requestId = nextRequestId++;
  conn.send(opMsg(doc, { requestId }));
  const reply = await conn.replyTo(requestId);
  assert.ok(reply, `no reply to ${JSON.stringify(Object.keys(doc))}`);
  return replyDoc(reply).doc;
}

// ------------------------------------------------------------------ a counting TCP proxy

interface Seen {
  fromClient: boolean;
  opCode: number;
  requestId: number;
  responseTo: number;
  /** OP_MSG flags (of the inner message for OP_COMPRESSED). */
  flags?: number;
  innerOpCode?: number;
  compressorId?: number;
}

/** Forwards to the server and records every message crossing it, in both directions. */
async function startProxy(target: number): Promise<{ port: number; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const record = (fromClient: boolean) => {
    const framer = new MessageFramer();
    return (chunk: Buffer) => {
      for (const m of framer.push(chunk)) {
        const s: Seen = { fromClient, opCode: m.header.opCode, requestId: m.header.requestId, responseTo: m.header.responseTo };
        let inner = m;
        if (m.header.opCode === OpCode.OP_COMPRESSED) {
          const d = decodeCompressed(m);
          s.innerOpCode = d.originalOpcode;
          s.compressorId = d.compressorId;
          inner = d.message;
        }
        if (inner.header.opCode === OpCode.OP_MSG) s.flags = inner.body.readUInt32LE(0);
        seen.push(s);
      }
    };
  };
  const proxy = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    sockets.add(client).add(upstream);
    const fromClient = record(true);
    const fromServer = record(false);
    client.on('data', (c: Buffer) => {
      fromClient(c);
      upstream.write(c);
    });
    upstream.on('data', (c: Buffer) => {
      fromServer(c);
      client.write(c);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

// ------------------------------------------------------------------ tests

test('driver with compressors: [zlib] works end to end and really compresses both ways', async () => {
  const proxy = await startProxy(port);
  const client = new MongoClient(`mongodb://127.0.0.1:${proxy.port}/?directConnection=true`, { compressors: ['zlib'], serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
    const c = client.db('wire').collection<any>('zlib');
    const docs = Array.from({ length: 200 }, (_, i) => ({ _id: i, text: 'compress me '.repeat(20), i }));
    await c.insertMany(docs);
    const back = await c.find({}).sort({ _id: 1 }).batchSize(50).toArray();
    assert.deepEqual(back, docs);
    assert.equal(await c.countDocuments({ i: { $gte: 100 } }), 100);

    const requests = proxy.seen.filter((s) => s.fromClient && s.opCode === OpCode.OP_COMPRESSED);
    const replies = proxy.seen.filter((s) => !s.fromClient && s.opCode === OpCode.OP_COMPRESSED);
    assert.ok(requests.length >= 4, `the driver sent ${requests.length} OP_COMPRESSED requests`);
    assert.ok(replies.length >= 4, `the server sent ${replies.length} OP_COMPRESSED replies`);
    for (const s of [...requests, ...replies]) {
      assert.equal(s.innerOpCode, OpCode.OP_MSG);
      assert.equal(s.compressorId, 2, 'zlib');
    }
    // Every compressed request is answered compressed.
    const compressedReplyTo = new Set(replies.map((s) => s.responseTo));
    for (const r of requests) if (((r.flags ?? 0) & OpMsgFlag.moreToCome) === 0) assert.ok(compressedReplyTo.has(r.requestId));
    // The handshake itself is never compressed.
    const handshake = proxy.seen.find((s) => s.fromClient);
    assert.notEqual(handshake?.opCode, OpCode.OP_COMPRESSED);
  } finally {
    await client.close();
    await proxy.close();
  }
});

test('a compressed request from a client that did not negotiate is still answered (noop and zlib)', async () => {
  const conn = await RawConn.open(port);
  try {
    for (const compressorId of [0, 2]) {
      const requestId = nextRequestId++;
      conn.send(encodeCompressed(opMsg({ ping: 1, $db: 'admin' }, { requestId }), compressorId, requestId, 0));
      const reply = await conn.replyTo(requestId);
      assert.ok(reply);
      assert.equal(reply.header.opCode, OpCode.OP_COMPRESSED, 'answered with the same compressor (as mongod, noop too)');
      assert.equal(decodeCompressed(reply).compressorId, compressorId);
      assert.deepEqual(replyDoc(reply).doc, { ok: 1 });
    }
  } finally {
    conn.close();
  }
});

test('a corrupt OP_COMPRESSED payload gets an error reply; wrapping an opcode the server does not speak closes', async () => {
  const compressed = (originalOpcode: number, compressorId: number, uncompressedSize: number, payload: Buffer, requestId: number) => {
    const msg = Buffer.alloc(HEADER_SIZE + 9 + payload.length);
    msg.writeInt32LE(msg.length, 0);
    msg.writeInt32LE(requestId, 4);
    msg.writeInt32LE(OpCode.OP_COMPRESSED, 12);
    msg.writeInt32LE(originalOpcode, HEADER_SIZE);
    msg.writeInt32LE(uncompressedSize, HEADER_SIZE + 4);
    msg[HEADER_SIZE + 8] = compressorId;
    payload.copy(msg, HEADER_SIZE + 9);
    return msg;
  };
  const conn = await RawConn.open(port);
  try {
    const cases: [number, number, number, Buffer, number, number][] = [
      // originalOpcode, compressor, size, payload, expected code, expected reply opcode
      [OpCode.OP_MSG, 2, 50, Buffer.from('definitely not zlib'), 147, OpCode.OP_MSG],
      [OpCode.OP_MSG, 1, 50, Buffer.from('snappy?'), 17, OpCode.OP_MSG],
      [OpCode.OP_MSG, 0, 99, Buffer.alloc(10), 17, OpCode.OP_MSG],
      [OpCode.OP_QUERY, 2, 50, Buffer.from('garbage'), 147, OpCode.OP_REPLY],
      [OpCode.OP_COMPRESSED, 0, 0, Buffer.alloc(0), 17, OpCode.OP_MSG],
    ];
    for (const [originalOpcode, compressorId, size, payload, code, replyOpcode] of cases) {
      const requestId = nextRequestId++;
      conn.send(compressed(originalOpcode, compressorId, size, payload, requestId));
      const reply = await conn.replyTo(requestId);
      assert.ok(reply, `a reply for compressor ${compressorId}`);
      const { opCode, doc } = replyDoc(reply);
      assert.equal(opCode, replyOpcode);
      assert.equal(doc.ok, 0);
      assert.equal(doc.code, code, doc.errmsg);
    }
    assert.deepEqual(await rawCommand(conn, { ping: 1, $db: 'admin' }), { ok: 1 });
    // OP_INSERT (removed from MongoDB) inside OP_COMPRESSED is treated as OP_INSERT: closed.
    conn.send(compressed(OpCode.OP_INSERT, 0, 4, Buffer.alloc(4), nextRequestId++));
    assert.ok(await conn.waitClosed(), 'closed');
    assert.deepEqual(await env.client.db('admin').command({ ping: 1 }), { ok: 1 });
  } finally {
    conn.close();
  }
});

test('legacy OP_QUERY hello/isMaster on admin.$cmd is answered with OP_REPLY', async () => {
  const conn = await RawConn.open(port);
  try {
    for (const query of [{ isMaster: 1 }, { ismaster: 1, helloOk: true, client: { driver: { name: 'raw', version: '0' } } }, { hello: 1 }, { $query: { isMaster: 1 }, $readPreference: { mode: 'primary' } }]) {
      const requestId = nextRequestId++;
      conn.send(opQuery('admin.$cmd', query, requestId));
      const reply = await conn.replyTo(requestId);
      assert.ok(reply, 'got a reply');
      assert.equal(reply.header.opCode, OpCode.OP_REPLY);
      assert.equal(reply.header.responseTo, requestId);
      assert.equal(reply.header.messageLength, reply.message.length);
      const { doc, numberReturned } = replyDoc(reply);
      assert.equal(numberReturned, 1);
      assert.equal(reply.body.readInt32LE(0) & 2, 0, 'no QueryFailure flag');
      assert.equal(doc.ok, 1);
      assert.equal(doc.maxWireVersion, 21);
      assert.equal(doc.maxMessageSizeBytes, MAX_MESSAGE_SIZE_BYTES);
      assert.ok(doc.ismaster === true || doc.isWritablePrimary === true);
    }
    // A non-command OP_QUERY is refused with an error document, not a dropped connection.
    const requestId = nextRequestId++;
    conn.send(opQuery('db.coll', { x: 1 }, requestId));
    const reply = await conn.replyTo(requestId);
    assert.ok(reply);
    assert.equal(reply.header.opCode, OpCode.OP_REPLY);
    const { doc } = replyDoc(reply);
    assert.equal(doc.ok, 0);
    assert.equal(typeof doc.code, 'number');
    // The same connection then speaks OP_MSG.
    assert.deepEqual(await rawCommand(conn, { ping: 1, $db: 'admin' }), { ok: 1 });
  } finally {
    conn.close();
  }
});

test('moreToCome: an unacknowledged insert gets no reply and its document lands', async () => {
  // Raw: the insert with moreToCome gets no reply; the next request's reply is the first one.
  const conn = await RawConn.open(port);
  try {
    const insertId = nextRequestId++;
    conn.send(opMsg({ insert: 'w0raw', $db: 'wire' }, { requestId: insertId, flags: OpMsgFlag.moreToCome, sequences: [['documents', [{ _id: 'raw-w0' }]]] }));
    const pingId = nextRequestId++;
    conn.send(opMsg({ ping: 1, $db: 'admin' }, { requestId: pingId }));
    const reply = await conn.replyTo(pingId);
    assert.ok(reply);
    assert.equal(conn.replies.length, 1, 'only the ping was answered');
    assert.equal(conn.replies[0]!.header.responseTo, pingId);
    assert.deepEqual(await env.client.db('wire').collection<any>('w0raw').findOne({ _id: 'raw-w0' }), { _id: 'raw-w0' });
  } finally {
    conn.close();
  }

  // The driver's w:0 insert, watched through a proxy.
  const proxy = await startProxy(port);
  const client = new MongoClient(`mongodb://127.0.0.1:${proxy.port}/?directConnection=true`, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
    const c = client.db('wire').collection<any>('w0');
    await c.insertOne({ _id: 'driver-w0', v: 1 }, { writeConcern: { w: 0 } });
    let found: any = null;
    for (let i = 0; i < 100 && !found; i++) {
      found = await c.findOne({ _id: 'driver-w0' });
      if (!found) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(found, { _id: 'driver-w0', v: 1 });
    const unacked = proxy.seen.filter((s) => s.fromClient && ((s.flags ?? 0) & OpMsgFlag.moreToCome) !== 0);
    assert.equal(unacked.length, 1, 'the driver sent exactly one moreToCome message');
    assert.ok(!proxy.seen.some((s) => !s.fromClient && s.responseTo === unacked[0]!.requestId), 'and the server did not answer it');
  } finally {
    await client.close();
    await proxy.close();
  }
});

test('checksum flag: a correct CRC-32C is accepted, a wrong one rejected, the connection stays usable', async () => {
  const conn = await RawConn.open(port);
  try {
    const good = nextRequestId++;
    conn.send(opMsg({ insert: 'crc', $db: 'wire' }, { requestId: good, checksum: true, sequences: [['documents', [{ _id: 'crc-ok' }]]] }));
    const goodReply = await conn.replyTo(good);
    assert.ok(goodReply);
    assert.deepEqual(replyDoc(goodReply).doc, { n: 1, ok: 1 });

    const bad = nextRequestId++;
    const msg = opMsg({ insert: 'crc', $db: 'wire' }, { requestId: bad, checksum: true, sequences: [['documents', [{ _id: 'crc-bad' }]]] });
    msg[msg.length - 1]! ^= 0x40;
    conn.send(msg);
    const badReply = await conn.replyTo(bad);
    assert.ok(badReply);
    const { opCode, doc } = replyDoc(badReply);
    assert.equal(opCode, OpCode.OP_MSG);
    assert.equal(doc.ok, 0);
    assert.equal(doc.code, 288);
    assert.equal(doc.codeName, 'ChecksumMismatch');

    // A flipped payload byte under a once-correct checksum is caught too.
    const flipped = nextRequestId++;
    const msg2 = opMsg({ insert: 'crc', $db: 'wire' }, { requestId: flipped, checksum: true, sequences: [['documents', [{ _id: 'crc-flip' }]]] });
    msg2[msg2.length - 8]! ^= 0x01;
    conn.send(msg2);
    const flippedReply = await conn.replyTo(flipped);
    assert.ok(flippedReply);
    assert.equal(replyDoc(flippedReply).doc.code, 288);

    assert.deepEqual(await rawCommand(conn, { ping: 1, $db: 'admin' }), { ok: 1 });
    const ids = (await env.client.db('wire').collection<any>('crc').find({}).toArray()).map((d) => d._id);
    assert.deepEqual(ids, ['crc-ok']);
  } finally {
    conn.close();
  }
});

test('a message over maxMessageSizeBytes closes only that connection', async () => {
  const victim = await RawConn.open(port);
  const bystander = await RawConn.open(port);
  try {
    assert.deepEqual(await rawCommand(bystander, { ping: 1, $db: 'admin' }), { ok: 1 });
    // Declared length one byte over the limit, followed by some real bytes.
    const head = Buffer.alloc(HEADER_SIZE);
    head.writeInt32LE(MAX_MESSAGE_SIZE_BYTES + 1, 0);
    head.writeInt32LE(nextRequestId++, 4);
    head.writeInt32LE(OpCode.OP_MSG, 12);
    victim.send(Buffer.concat([head, Buffer.alloc(64 * 1024, 0x61)]));
    assert.ok(await victim.waitClosed(5000), 'the server closed the oversized connection');
    assert.equal(victim.replies.length, 0);

    // A real 49 MB write on another connection is cut off early, too.
    const big = await RawConn.open(port);
    const bigMsg = Buffer.alloc(49_000_000);
    bigMsg.writeInt32LE(bigMsg.length, 0);
    bigMsg.writeInt32LE(OpCode.OP_MSG, 12);
    big.send(bigMsg);
    assert.ok(await big.waitClosed(5000));
    big.close();

    assert.deepEqual(await rawCommand(bystander, { ping: 1, $db: 'admin' }), { ok: 1 });
    assert.equal(bystander.closed, false);
    assert.deepEqual(await env.client.db('admin').command({ ping: 1 }), { ok: 1 });
  } finally {
    victim.close();
    bystander.close();
  }
});

test('a message just under the limit with a too-large document is refused with an error, not a crash', async () => {
  const conn = await RawConn.open(port);
  try {
    // 17 MB body document: above the 16 MiB + 16 KiB internal limit, inside a framed message.
    const requestId = nextRequestId++;
    const docLen = 17 * 1024 * 1024;
    const msg = Buffer.alloc(HEADER_SIZE + 5 + docLen);
    msg.writeInt32LE(msg.length, 0);
    msg.writeInt32LE(requestId, 4);
    msg.writeInt32LE(OpCode.OP_MSG, 12);
    msg.writeInt32LE(docLen, HEADER_SIZE + 5);
    conn.send(msg);
    const reply = await conn.replyTo(requestId, 10_000);
    assert.ok(reply);
    const { doc } = replyDoc(reply);
    assert.equal(doc.ok, 0);
    assert.equal(doc.code, 10334);
    assert.deepEqual(await rawCommand(conn, { ping: 1, $db: 'admin' }), { ok: 1 });
  } finally {
    conn.close();
  }
});

test('50 concurrent driver connections insert and read in parallel without interference', async () => {
  const clients = Array.from({ length: 50 }, () => new MongoClient(env.uri, { maxPoolSize: 2, serverSelectionTimeoutMS: 10_000 }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(
      clients.map(async (client, k) => {
        const own = client.db('conc').collection<any>(`c${k}`);
        const shared = client.db('conc').collection<any>('shared');
        for (let round = 0; round < 4; round++) {
          const docs = Array.from({ length: 5 }, (_, i) => ({ _id: `${k}-${round}-${i}`, k, round, i }));
          const [a, b] = await Promise.all([own.insertMany(docs), shared.insertMany(docs.map((d) => ({ ...d, _id: `s${d._id}` })))]);
          assert.equal(a.insertedCount, 5);
          assert.equal(b.insertedCount, 5);
          const mine = await own.find({ round }).sort({ i: 1 }).toArray();
          assert.deepEqual(mine, docs);
          const inShared = await shared.find({ k, round }).sort({ i: 1 }).toArray();
          assert.deepEqual(inShared.map((d) => d._id), docs.map((d) => `s${d._id}`));
        }
        assert.equal(await own.countDocuments({}), 20);
      }),
    );
    assert.equal(await env.client.db('conc').collection('shared').countDocuments({}), 50 * 20);
    const names = (await env.client.db('conc').listCollections().toArray()).map((c) => c.name);
    assert.equal(names.length, 51);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

test(
  'driver heartbeats succeed and never clear the pool',
  async () => {
    const client = new MongoClient(env.uri, { serverSelectionTimeoutMS: 5000, heartbeatFrequencyMS: 500 });
    const failures: string[] = [];
    let cleared = 0;
    client.on('serverHeartbeatFailed', (e) => failures.push(String(e.failure?.message)));
    client.on('connectionPoolCleared', () => cleared++);
    try {
      await client.connect();
      const t0 = Date.now();
      while (Date.now() - t0 < 1200) await client.db('admin').command({ ping: 1 });
      assert.deepEqual(failures, []);
      assert.equal(cleared, 0);
    } finally {
      await client.close();
    }
  },
);

test(
  'insert rejects documents entries that are not documents',
  async () => {
    const db = env.client.db('wire');
    for (const bad of [1, 'xy', null, [5], new Long(3)]) {
      await assert.rejects(db.command({ insert: 'notdocs', documents: [bad] }), (err: MongoServerError) => err.code === 14, `documents: [${String(bad)}]`);
    }
    assert.equal(await db.collection('notdocs').countDocuments({}), 0);
  },
);

test('getMore after killCursors is CursorNotFound (43)', async () => {
  const db = env.client.db('wire');
  await db.collection<any>('cur').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i })));
  const first = await db.command({ find: 'cur', filter: {}, batchSize: 3 }, { promoteLongs: false });
  const id = first.cursor.id as Long;
  assert.ok(Long.isLong(id) && !id.isZero(), 'a cursor stays open');
  assert.equal(first.cursor.firstBatch.length, 3);
  const more = await db.command({ getMore: id, collection: 'cur', batchSize: 2 }, { promoteLongs: false });
  assert.deepEqual(more.cursor.nextBatch, [{ _id: 3 }, { _id: 4 }]);
  const killed = await db.command({ killCursors: 'cur', cursors: [id] }, { promoteLongs: false });
  assert.equal(killed.cursorsKilled.length, 1);
  assert.ok(killed.cursorsKilled[0].equals(id));
  await assert.rejects(db.command({ getMore: id, collection: 'cur' }), (err: MongoServerError) => {
    assert.equal(err.code, 43);
    assert.equal(err.codeName, 'CursorNotFound');
    return true;
  });
  const again = await db.command({ killCursors: 'cur', cursors: [id] });
  assert.equal(again.cursorsNotFound.length, 1);
  // A never-issued id is CursorNotFound too, and the driver's own cursor close path works.
  await assert.rejects(db.command({ getMore: Long.fromNumber(123456789), collection: 'cur' }), (err: MongoServerError) => err.code === 43);
  const cursor = db.collection<any>('cur').find({}).batchSize(2);
  await cursor.next();
  await cursor.close();
});

test('lsid sessions are accepted and endSessions is ok', async () => {
  const c = env.client.db('wire').collection<any>('sess');
  const session = env.client.startSession();
  try {
    await c.insertOne({ _id: 'in-session' }, { session });
    assert.deepEqual(await c.find({}, { session }).toArray(), [{ _id: 'in-session' }]);
    await c.updateOne({ _id: 'in-session' }, { $set: { v: 2 } }, { session });
    assert.deepEqual(await c.findOne({ _id: 'in-session' }, { session }), { _id: 'in-session', v: 2 });
  } finally {
    await session.endSession();
  }
  const id = new UUID();
  const r = await env.client.db('admin').command({ endSessions: [{ id }] });
  assert.equal(r.ok, 1);

  // Raw commands carrying an lsid (and txnNumber-free) are accepted too.
  const conn = await RawConn.open(port);
  try {
    const lsid = { id: new Binary(Buffer.alloc(16, 7), 4) };
    const requestId = nextRequestId++;
    conn.send(opMsg({ insert: 'sess', lsid, $db: 'wire' }, { requestId, sequences: [['documents', [{ _id: 'raw-lsid' }]]] }));
    const reply = await conn.replyTo(requestId);
    assert.ok(reply);
    assert.deepEqual(replyDoc(reply).doc, { n: 1, ok: 1 });
    const find = await rawCommand(conn, { find: 'sess', filter: { _id: 'raw-lsid' }, lsid, $db: 'wire' });
    assert.deepEqual(find.cursor.firstBatch, [{ _id: 'raw-lsid' }]);
    assert.equal((await rawCommand(conn, { endSessions: [lsid], $db: 'admin' })).ok, 1);
  } finally {
    conn.close();
  }
});

test('pipelining: thousands of requests in one write are answered in order', async () => {
  const conn = await RawConn.open(port);
  try {
    const ids = Array.from({ length: 3000 }, () => nextRequestId++);
    conn.send(Buffer.concat(ids.map((requestId, i) => (i % 2 ? opMsg({ ping: 1, $db: 'admin' }, { requestId }) : opMsg({ find: 'nothing', filter: {}, $db: 'wire' }, { requestId })))));
    assert.ok(await conn.waitFor(() => conn.replies.length === ids.length, 20_000), `got ${conn.replies.length} replies`);
    assert.deepEqual(conn.replies.map((r) => r.header.responseTo), ids);
    for (const r of conn.replies) assert.equal(replyDoc(r).doc.ok, 1);
  } finally {
    conn.close();
  }
});

test('a client that sends without reading is throttled, and catches up once it reads', async () => {
  const conn = await RawConn.open(port);
  try {
    // ~2000 find replies of ~20 KB each (~40 MB) that the client does not read at first.
    await env.client.db('wire').collection<any>('fat').insertOne({ _id: 1, blob: 'x'.repeat(20_000) });
    conn.socket.pause();
    const ids = Array.from({ length: 2000 }, () => nextRequestId++);
    conn.send(Buffer.concat(ids.map((requestId) => opMsg({ find: 'fat', filter: {}, $db: 'wire' }, { requestId }))));
    await new Promise((r) => setTimeout(r, 500));
    // The server stops reading (and so stops producing replies) while its send buffer is full,
    // instead of queueing all 40 MB of replies in memory.
    const sockets = [...((env.server as unknown as { connections: Set<net.Socket> }).connections)];
    const buffered = Math.max(...sockets.map((s) => s.writableLength));
    assert.ok(buffered < 16 * 1024 * 1024, `server buffered ${buffered} bytes for a client that does not read`);
    // Meanwhile the server serves others.
    assert.deepEqual(await env.client.db('admin').command({ ping: 1 }), { ok: 1 });
    conn.socket.resume();
    assert.ok(await conn.waitFor(() => conn.replies.length === ids.length, 20_000), `got ${conn.replies.length} replies`);
    assert.deepEqual(conn.replies.map((r) => r.header.responseTo), ids);
  } finally {
    conn.close();
  }
});
