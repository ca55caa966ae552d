/**
 * Fuzzes a live server over raw TCP (127.0.0.1 only) with random and mutated wire messages, then
 * checks that it still serves, that known data is untouched, and that nothing crashed.
 *
 * Cases come in three families:
 * - framed: the length prefix is right, the content is bad (or mutated). Sent on long-lived
 *   connections, often many per write, each batch followed by a `ping` sentinel. Every reply must
 *   answer a request of ours and be OP_MSG/OP_REPLY; for the deliberately malformed ones it must
 *   be ok: 0 with a MongoDB error code. The connection may only close after a case that allows
 *   it (an opcode the server does not speak).
 * - unframeable: an impossible length prefix. The server must close that socket (and only it).
 * - loose: random bytes, desynchronising lengths, partial messages. Sent, then half-closed; the
 *   server must close the socket and whatever it answered must be well formed.
 *
 * Set ARGON_FUZZ_SEED to replay a run; the seed is printed as a test diagnostic.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawConnection } from './raw-connection.js';
import { inspect } from 'node:util';
import { deflateSync } from 'node:zlib';
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, deserialize, serialize, type Document } from 'bson';
import { startServer } from './server-helpers.js';
import type { RawMessage } from '../src/wire/framing.js';
import { decodeOpMsg, encodeOpMsg } from '../src/wire/opmsg.js';
import { decodeOpQuery } from '../src/wire/opquery.js';
import { decodeCompressed, encodeCompressed } from '../src/wire/compression.js';
import { HEADER_SIZE, MAX_MESSAGE_SIZE_BYTES, OpCode, OpMsgFlag } from '../src/wire/protocol.js';
import { crc32c } from '../src/wire/crc32c.js';
import { mulberry32 } from './helpers/random.js';

const SEED = Number(process.env.ARGON_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Wall-clock budget of the fuzzing phase; remaining cases are skipped if it runs out. */
const BUDGET_MS = 20_000;
const FIXTURE_DB = 'fixture';
const SINK_DB = 'sink';

let env: Awaited<ReturnType<typeof startServer>>;
let port: number;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

before(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  env = await startServer();
  port = env.server.port;
});
after(async () => {
  await env.stop();
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

// ------------------------------------------------------------------ randomness

const rand = mulberry32(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const chance = (p: number) => rand() < p;
function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(0, 255);
  return b;
}
function randomString(): string {
  const alphabet = 'abcxyz019 _-.$é漢\u0000';
  let s = '';
  for (let i = int(0, 12); i > 0; i--) s += pick([...alphabet]);
  return s.replace(/\u0000/g, '');
}
function randomValue(depth = 0): unknown {
  switch (int(0, depth > 2 ? 7 : 9)) {
    case 0: return int(-1000, 1000);
    case 1: return new Double(rand() * 1e6);
    case 2: return randomString();
    case 3: return chance(0.5);
    case 4: return null;
    case 5: return Long.fromNumber(int(-1e9, 1e9));
    case 6: return new ObjectId();
    case 7: return pick([new Date(int(0, 2e12)), Decimal128.fromString('1.5'), new Binary(randomBytes(int(0, 8))), new Timestamp({ t: 1, i: 2 })]);
    case 8: return Array.from({ length: int(0, 4) }, () => randomValue(depth + 1));
    default: {
      const d: Document = {};
      for (let i = int(0, 4); i > 0; i--) d[`k${i}${randomString()}`.replace(/^\$/, '_')] = randomValue(depth + 1);
      return d;
    }
  }
}
function randomDoc(): Document {
  const d: Document = { _id: chance(0.5) ? new ObjectId() : int(0, 1e9) };
  for (let i = int(0, 5); i > 0; i--) d[`f${i}`] = randomValue();
  return d;
}

// ------------------------------------------------------------------ message building

let nextRequestId = 1;

function sequenceSection(identifier: string, docs: Document[]): Buffer {
  const payload = Buffer.concat([Buffer.from(identifier + '\0'), ...docs.map((d) => Buffer.from(serialize(d)))]);
  const head = Buffer.alloc(5);
  head[0] = 1;
  head.writeInt32LE(4 + payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Header + flags + sections [+ CRC], with the length (and CRC) fixed up. */
function frame(opCode: number, requestId: number, body: Buffer, checksum = false): Buffer {
  const msg = Buffer.concat([Buffer.alloc(HEADER_SIZE), body, checksum ? Buffer.alloc(4) : Buffer.alloc(0)]);
  msg.writeInt32LE(msg.length, 0);
  msg.writeInt32LE(requestId, 4);
  msg.writeInt32LE(0, 8);
  msg.writeInt32LE(opCode, 12);
  if (checksum) msg.writeUInt32LE(crc32c(msg.subarray(0, msg.length - 4)), msg.length - 4);
  return msg;
}

/** OP_MSG via the wire encoder, with optional document sequences appended. */
function opMsg(doc: Document, requestId: number, opts: { flags?: number; sequences?: [string, Document[]][]; checksum?: boolean } = {}): Buffer {
  const encoded = encodeOpMsg(doc, { requestId, responseTo: 0, flags: (opts.flags ?? 0) & ~OpMsgFlag.checksumPresent });
  const body = Buffer.concat([encoded.subarray(HEADER_SIZE), ...(opts.sequences ?? []).map(([id, docs]) => sequenceSection(id, docs))]);
  if (opts.checksum) body.writeUInt32LE((body.readUInt32LE(0) | OpMsgFlag.checksumPresent) >>> 0, 0);
  return frame(OpCode.OP_MSG, requestId, body, opts.checksum);
}

function opQuery(ns: string, query: Document, requestId: number): Buffer {
  const nsBytes = Buffer.from(ns + '\0');
  const fixed = Buffer.alloc(8);
  fixed.writeInt32LE(-1, 4);
  return frame(OpCode.OP_QUERY, requestId, Buffer.concat([Buffer.alloc(4), nsBytes, fixed, Buffer.from(serialize(query))]));
}

/** A well-formed insert/find/ping aimed at the sink database. */
function validOpMsg(requestId: number, flags = 0): Buffer {
  switch (int(0, 3)) {
    case 0:
      return opMsg({ insert: 'junk', ordered: chance(0.5), $db: SINK_DB }, requestId, { flags, sequences: [['documents', Array.from({ length: int(1, 4) }, randomDoc)]] });
    case 1:
      return opMsg({ insert: 'junk', documents: Array.from({ length: int(1, 3) }, randomDoc), $db: SINK_DB }, requestId, { flags });
    case 2:
      return opMsg({ find: 'junk', filter: chance(0.5) ? {} : { f1: randomValue() }, limit: int(0, 5), batchSize: int(0, 5), $db: SINK_DB }, requestId, { flags });
    default:
      return opMsg({ ping: 1, $db: 'admin' }, requestId, { flags });
  }
}

// ------------------------------------------------------------------ cases

type Expect = 'error' | 'any';

interface FramedCase {
  what: string;
  bytes: Buffer;
  requestId: number;
  /** 'error': any reply must be ok: 0 with a code; 'any': ok 1, or ok 0 with a code. */
  expect: Expect;
  /** Error codes allowed for an 'error' reply (any positive code if absent). */
  codes?: readonly number[];
  /** The server may close the connection after this message (an opcode it does not speak). */
  allowClose?: boolean;
}

const WIRE_CODES = [2, 17, 22, 147, 223, 288, 10334] as const;

/** Flips 1-4 random bits, never in the 16-byte header: the message stays framed. */
function flipBody(msg: Buffer): Buffer {
  const out = Buffer.from(msg);
  for (let i = int(1, 4); i > 0; i--) {
    const at = int(HEADER_SIZE, out.length - 1);
    out[at] = out[at]! ^ (1 << int(0, 7));
  }
  return out;
}

/** Keeps the first `n` bytes and re-frames them. */
function truncateTo(msg: Buffer, n: number): Buffer {
  const out = Buffer.from(msg.subarray(0, Math.max(HEADER_SIZE, n)));
  out.writeInt32LE(out.length, 0);
  return out;
}

/** Offset of the body document inside an OP_MSG built by opMsg (header, flags, kind byte). */
const BODY_DOC = HEADER_SIZE + 5;

function framedCase(): FramedCase {
  const requestId = nextRequestId++;
  const r = int(0, 99);
  if (r < 30) {
    return { what: 'bit flips', bytes: flipBody(validOpMsg(requestId)), requestId, expect: 'any' };
  }
  if (r < 38) {
    const msg = validOpMsg(requestId);
    return { what: 'truncation', bytes: truncateTo(msg, int(HEADER_SIZE, msg.length - 1)), requestId, expect: 'any' };
  }
  if (r < 58) {
    const msg = opMsg({ insert: 'junk', $db: SINK_DB }, requestId, { sequences: [['documents', [{ _id: 1, s: 'abcd', n: 5 }]]] });
    const bodyLen = msg.readInt32LE(BODY_DOC);
    const seqDoc = msg.length - Buffer.from(serialize({ _id: 1, s: 'abcd', n: 5 })).length;
    const variant = int(0, 9);
    const out = Buffer.from(msg);
    let codes: readonly number[] = WIRE_CODES;
    let what = 'bad BSON';
    switch (variant) {
      case 0: // unknown element type in the body
        out[BODY_DOC + 4] = 0x7e;
        what = 'bad BSON: element type 0x7e';
        codes = [22];
        break;
      case 1: // body document not NUL-terminated
        out[BODY_DOC + bodyLen - 1] = 0x01;
        what = 'bad BSON: unterminated body';
        codes = [22];
        break;
      case 2: // body length prefix points past the message
        out.writeInt32LE(out.length, BODY_DOC);
        what = 'bad BSON: body length too large';
        break;
      case 3: // body length prefix too small
        out.writeInt32LE(int(-5, 4), BODY_DOC);
        what = 'bad BSON: body length too small';
        break;
      case 4: { // invalid UTF-8 inside a sequence document's string
        const at = out.indexOf(Buffer.from('abcd'), seqDoc);
        out[at] = 0xff;
        out[at + 1] = 0xfe;
        what = 'bad BSON: invalid UTF-8 in a sequence document';
        codes = [22];
        break;
      }
      case 5: // unknown type inside a sequence document
        out[seqDoc + 4] = 0x42;
        what = 'bad BSON: element type 0x42 in a sequence document';
        codes = [22];
        break;
      case 6: // sequence size past the end
        out.writeInt32LE(out.length, BODY_DOC + bodyLen + 1);
        what = 'sequence size too large';
        codes = [17];
        break;
      case 7: // sequence size below the minimum
        out.writeInt32LE(int(-100, 4), BODY_DOC + bodyLen + 1);
        what = 'sequence size too small';
        codes = [17];
        break;
      case 8: // string length inside an element lies
        out.writeInt32LE(0x7fffffff, out.indexOf(Buffer.from('abcd'), seqDoc) - 4);
        what = 'bad BSON: string length';
        codes = [22];
        break;
      default: // the sequence document's own length is inconsistent
        out.writeInt32LE(out.readInt32LE(seqDoc) + int(1, 50), seqDoc);
        what = 'bad BSON: sequence document length';
        break;
    }
    return { what, bytes: out, requestId, expect: 'error', codes };
  }
  if (r < 64) {
    const kind = int(2, 255);
    const body = Buffer.concat([Buffer.alloc(4), Buffer.from([kind]), randomBytes(int(0, 40))]);
    const withBody = chance(0.5) ? Buffer.concat([opMsg({ ping: 1, $db: 'admin' }, 0).subarray(HEADER_SIZE), Buffer.from([kind]), randomBytes(int(0, 40))]) : body;
    return { what: `section kind ${kind}`, bytes: frame(OpCode.OP_MSG, requestId, withBody), requestId, expect: 'error', codes: [17, 22] };
  }
  if (r < 68) {
    const variant = int(0, 3);
    const ping = opMsg({ ping: 1, $db: 'admin' }, 0).subarray(HEADER_SIZE);
    const bodies = [
      Buffer.alloc(int(0, 4)), // shorter than flags + one section
      Buffer.alloc(4), // flags only
      Buffer.concat([ping, ping.subarray(4)]), // two body sections
      (() => { const b = Buffer.from(ping); b.writeUInt32LE(1 << int(2, 15), 0); return b; })(), // unknown required flag
    ];
    return { what: `structural OP_MSG error ${variant}`, bytes: frame(OpCode.OP_MSG, requestId, bodies[variant]!), requestId, expect: 'error', codes: [17, 223] };
  }
  if (r < 74) {
    const msg = opMsg({ ping: 1, $db: 'admin' }, requestId, { checksum: true });
    if (chance(0.3)) return { what: 'checksum ok', bytes: msg, requestId, expect: 'any' };
    const at = chance(0.5) ? msg.length - int(1, 4) : int(HEADER_SIZE + 4, msg.length - 5);
    msg[at] = msg[at]! ^ (1 << int(0, 7));
    return { what: 'checksum wrong', bytes: msg, requestId, expect: 'error', codes: [288] };
  }
  if (r < 86) {
    // OP_COMPRESSED: garbage payloads, lying sizes, unknown compressors, and valid ones.
    const inner = validOpMsg(requestId);
    const variant = int(0, 5);
    const head = Buffer.alloc(9);
    head.writeInt32LE(OpCode.OP_MSG, 0);
    if (variant === 0) {
      // a proper zlib-compressed valid message
      return { what: 'compressed valid', bytes: encodeCompressed(inner, 2, requestId, 0), requestId, expect: 'any' };
    }
    if (variant === 1) {
      // compressed, then bit flips in the compressed bytes
      return { what: 'compressed + flips', bytes: flipBody(encodeCompressed(inner, pick([0, 2]), requestId, 0)), requestId, expect: 'any', allowClose: true };
    }
    if (variant === 2) {
      head.writeInt32LE(int(0, 5000), 4);
      head[8] = pick([0, 1, 2, 3, int(4, 255)]);
      return { what: `compressed garbage (compressor ${head[8]})`, bytes: frame(OpCode.OP_COMPRESSED, requestId, Buffer.concat([head, randomBytes(int(0, 200))])), requestId, expect: 'error', codes: [17, 22, 147, 223] };
    }
    if (variant === 3) {
      const payload = deflateSync(inner.subarray(HEADER_SIZE));
      head.writeInt32LE(inner.length - HEADER_SIZE + pick([-1, 1, 1000, -1000, MAX_MESSAGE_SIZE_BYTES, -5]), 4);
      head[8] = 2;
      return { what: 'compressed size lie', bytes: frame(OpCode.OP_COMPRESSED, requestId, Buffer.concat([head, payload])), requestId, expect: 'error', codes: [17, 147] };
    }
    if (variant === 4) {
      // zlib bomb: a tiny payload inflating far beyond the declared size
      const payload = deflateSync(Buffer.alloc(2_000_000));
      head.writeInt32LE(100, 4);
      head[8] = 2;
      return { what: 'compressed bomb', bytes: frame(OpCode.OP_COMPRESSED, requestId, Buffer.concat([head, payload])), requestId, expect: 'error', codes: [17, 147] };
    }
    // too short, or wrapping another OP_COMPRESSED
    const body = chance(0.5) ? randomBytes(int(0, 8)) : (() => { const h = Buffer.alloc(9); h.writeInt32LE(OpCode.OP_COMPRESSED, 0); return h; })();
    return { what: 'compressed malformed header', bytes: frame(OpCode.OP_COMPRESSED, requestId, body), requestId, expect: 'error', codes: [17] };
  }
  if (r < 92) {
    const q = opQuery('admin.$cmd', { isMaster: 1, client: { application: { name: randomString() } } }, requestId);
    if (chance(0.4)) return { what: 'OP_QUERY hello + flips', bytes: flipBody(q), requestId, expect: 'any' };
    return { what: 'OP_QUERY garbage', bytes: frame(OpCode.OP_QUERY, requestId, randomBytes(int(0, 60))), requestId, expect: 'error', codes: [17, 22, 10334] };
  }
  if (r < 96) {
    // Random body under a valid frame and a speakable opcode.
    const opCode = pick([OpCode.OP_MSG, OpCode.OP_QUERY]);
    return { what: `random body, opcode ${opCode}`, bytes: frame(opCode, requestId, randomBytes(int(0, 200))), requestId, expect: 'any' };
  }
  // Opcodes the server does not speak: legacy, reply, or unknown.
  const opCode = pick([OpCode.OP_REPLY, 2001, 2002, 2003, 2005, 2006, 2007, 0, -1, int(3, 100000)]);
  return { what: `opcode ${opCode}`, bytes: frame(opCode, requestId, validOpMsg(0).subarray(HEADER_SIZE)), requestId, expect: 'any', allowClose: true };
}

/**
 * Namespaces the framed prefix of `bytes` could legitimately write to, decoded exactly as the
 * server decodes them (message by message, stopping at the first unframeable length).
 */
function namespacesOf(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at + 4 <= bytes.length; ) {
    const len = bytes.readInt32LE(at);
    if (len < HEADER_SIZE || len > MAX_MESSAGE_SIZE_BYTES || at + len > bytes.length) break;
    const message = bytes.subarray(at, at + len);
    at += len;
    try {
      let m: RawMessage = {
        header: { messageLength: len, requestId: message.readInt32LE(4), responseTo: message.readInt32LE(8), opCode: message.readInt32LE(12) },
        body: message.subarray(HEADER_SIZE),
        message,
      };
      if (m.header.opCode === OpCode.OP_COMPRESSED) m = decodeCompressed(m).message;
      let doc: Document;
      if (m.header.opCode === OpCode.OP_MSG) doc = decodeOpMsg(m.body, { header: m.header, faithful: true }).doc;
      else if (m.header.opCode === OpCode.OP_QUERY) {
        const q = decodeOpQuery(m.body);
        doc = { ...q.query, $db: q.fullCollectionName.replace(/\.\$cmd$/, '') };
      } else continue;
      const first = Object.values(doc)[0];
      if (typeof doc.$db === 'string') out.push(`${doc.$db}.${typeof first === 'string' ? first : ''}`);
    } catch {
      // not decodable: the server cannot act on it either
    }
  }
  return out;
}

/** The command a message carries, for failure messages (base64 when it does not decode). */
function describe(bytes: Buffer): string {
  try {
    const header = { messageLength: bytes.length, requestId: bytes.readInt32LE(4), responseTo: 0, opCode: bytes.readInt32LE(12) };
    let m: RawMessage = { header, body: bytes.subarray(HEADER_SIZE), message: bytes };
    if (header.opCode === OpCode.OP_COMPRESSED) m = decodeCompressed(m).message;
    if (m.header.opCode === OpCode.OP_MSG) {
      const msg = decodeOpMsg(m.body, { header: m.header });
      return inspect({ flags: msg.flags, doc: msg.doc, sequences: Object.fromEntries(msg.sequences) }, { depth: 6, breakLength: Infinity });
    }
  } catch {
    // fall through
  }
  return bytes.toString('base64');
}

// ------------------------------------------------------------------ raw connections

interface Reply {
  header: RawMessage['header'];
  opCode: number;
  doc?: Document;
  problem?: string;
}

function parseReply(m: RawMessage): Reply {
  try {
    let inner = m;
    if (m.header.opCode === OpCode.OP_COMPRESSED) inner = decodeCompressed(m).message;
    if (inner.header.opCode === OpCode.OP_MSG) return { header: m.header, opCode: OpCode.OP_MSG, doc: decodeOpMsg(inner.body).doc };
    if (inner.header.opCode === OpCode.OP_REPLY) {
      const n = inner.body.readInt32LE(16);
      if (n !== 1) return { header: m.header, opCode: 1, problem: `OP_REPLY with ${n} documents` };
      return { header: m.header, opCode: OpCode.OP_REPLY, doc: deserialize(inner.body.subarray(20)) };
    }
    return { header: m.header, opCode: inner.header.opCode, problem: `reply opcode ${inner.header.opCode}` };
  } catch (err) {
    return { header: m.header, opCode: m.header.opCode, problem: `unparseable reply: ${(err as Error).message}` };
  }
}

class Conn extends RawConnection {
  readonly replies: Reply[] = [];

  protected override onReply(message: RawMessage): void {
    this.replies.push(parseReply(message));
  }

  protected override onUnframeable(err: Error): void {
    this.replies.push({ header: { messageLength: 0, requestId: 0, responseTo: -1, opCode: 0 }, opCode: 0, problem: `server sent an unframeable stream: ${err.message}` });
  }
}

/** Checks one reply against what its request allows; returns a problem description or null. */
function checkReply(reply: Reply, c: FramedCase | undefined, sentinel: number): string | null {
  if (reply.problem) return reply.problem;
  if (reply.header.responseTo === sentinel) return reply.doc?.ok === 1 ? null : `sentinel ping failed: ${JSON.stringify(reply.doc)}`;
  if (!c) return `reply to unknown request ${reply.header.responseTo}`;
  const doc = reply.doc!;
  const isError = doc.ok === 0 && Number.isInteger(doc.code) && doc.code > 0 && typeof doc.codeName === 'string' && typeof doc.errmsg === 'string';
  if (c.expect === 'error') {
    if (!isError) return `${c.what}: expected an error reply, got ${JSON.stringify(doc)}`;
    if (c.codes && !c.codes.includes(doc.code)) return `${c.what}: error code ${doc.code} (${doc.codeName}: ${doc.errmsg}) not in ${c.codes.join(',')}`;
  } else if (doc.ok !== 1 && !isError) {
    return `${c.what}: reply neither ok nor a coded error: ${JSON.stringify(doc)}`;
  }
  return null;
}

interface Stats {
  messages: number;
  replies: number;
  errorCodes: Map<string, number>;
  closes: number;
  problems: string[];
  internalErrors: string[];
  namespaces: Set<string>;
}

/**
 * Writes `cases` (all in one write when `pipelined`) plus a sentinel ping on `conn` and checks
 * every reply up to the sentinel's. Returns the connection, or a fresh one if it was closed.
 */
async function runBatch(conn: Conn, cases: FramedCase[], pipelined: boolean, stats: Stats): Promise<Conn> {
  const byId = new Map(cases.map((c) => [c.requestId, c]));
  const sentinel = nextRequestId++;
  const start = conn.replies.length;
  if (pipelined) conn.socket.write(Buffer.concat([...cases.map((c) => c.bytes), opMsg({ ping: 1, $db: 'admin' }, sentinel)]));
  else {
    for (const c of cases) conn.socket.write(c.bytes);
    conn.socket.write(opMsg({ ping: 1, $db: 'admin' }, sentinel));
  }
  for (const c of cases) for (const ns of namespacesOf(c.bytes)) stats.namespaces.add(ns);
  stats.messages += cases.length + 1;
  const answered = await conn.waitFor(() => conn.replies.slice(start).some((r) => r.header.responseTo === sentinel), 10_000);
  for (const reply of conn.replies.slice(start)) {
    stats.replies++;
    const c = byId.get(reply.header.responseTo);
    const problem = checkReply(reply, c, sentinel);
    if (problem) stats.problems.push(`seed ${SEED}: ${problem}`);
    if (reply.doc && reply.doc.ok === 0) {
      const key = `${reply.doc.code} ${reply.doc.codeName}`;
      stats.errorCodes.set(key, (stats.errorCodes.get(key) ?? 0) + 1);
      if (reply.doc.code === 1) stats.internalErrors.push(`${c?.what}: ${reply.doc.errmsg} <- ${c ? describe(c.bytes) : '?'}`);
    }
  }
  if (answered) return conn;
  if (!conn.closed) {
    stats.problems.push(`seed ${SEED}: no sentinel reply within 10 s after ${cases.map((c) => c.what).join(', ')}`);
  } else if (!cases.some((c) => c.allowClose)) {
    stats.problems.push(`seed ${SEED}: server closed the connection after ${cases.map((c) => c.what).join(', ')}`);
  }
  stats.closes++;
  conn.socket.destroy();
  return Conn.open(port);
}

/** Sends bytes on a fresh connection; if `halfClose`, ends our side. Waits for the server to close. */
async function looseSend(bytes: Buffer, halfClose: boolean, stats: Stats): Promise<{ closed: boolean; conn: Conn }> {
  const conn = await Conn.open(port);
  for (const ns of namespacesOf(bytes)) stats.namespaces.add(ns);
  conn.socket.write(bytes);
  if (halfClose) conn.socket.end();
  stats.messages++;
  const closed = await conn.waitFor(() => conn.closed, 3000);
  for (const r of conn.replies) {
    stats.replies++;
    const doc = r.doc;
    if (r.problem) stats.problems.push(`seed ${SEED}: loose: ${r.problem}`);
    else if (!doc || !(doc.ok === 1 || (doc.ok === 0 && Number.isInteger(doc.code) && doc.code > 0))) stats.problems.push(`seed ${SEED}: loose: bad reply ${JSON.stringify(doc)}`);
  }
  conn.socket.destroy();
  return { closed, conn };
}

// ------------------------------------------------------------------ the test

async function snapshot(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const { databases } = await env.client.db('admin').admin().listDatabases();
  for (const { name } of databases) {
    out.set(name, (await env.client.db(name).listCollections().toArray()).map((c) => c.name).sort());
  }
  return out;
}

test('the server survives random and mutated wire messages', async (t) => {
  t.diagnostic(`seed ${SEED} (replay with ARGON_FUZZ_SEED=${SEED})`);
  const started = Date.now();
  const timeLeft = () => BUDGET_MS - (Date.now() - started);

  // Known data, written through the driver before any fuzzing.
  const known = env.client.db(FIXTURE_DB).collection<any>('known');
  const fixture: Document[] = [
    { _id: 1, name: 'alpha', n: new Int32(1), d: new Double(2.5), l: Long.fromString('9007199254740993'), tags: ['x', 'y'] },
    { _id: 'two', nested: { a: { b: [1, { c: 'deep' }] } }, when: new Date(1_700_000_000_000), bin: new Binary(Buffer.from('argon')) },
    { _id: new ObjectId('65f000000000000000000001'), dec: Decimal128.fromString('12.340'), nul: null, empty: {}, arr: [] },
    ...Array.from({ length: 50 }, (_, i) => ({ _id: 100 + i, i, s: `row ${i}` })),
  ];
  await known.insertMany(fixture);
  await known.createIndex({ name: 1 }, { unique: true, sparse: true });
  await env.client.db(SINK_DB).collection<any>('junk').insertOne({ _id: 'seed' });
  const readKnown = () => known.find({}, { promoteValues: false, promoteLongs: false }).sort({ _id: 1 }).toArray();
  const before = await readKnown();
  const beforeNamespaces = await snapshot();

  const stats: Stats = { messages: 0, replies: 0, errorCodes: new Map(), closes: 0, problems: [], internalErrors: [], namespaces: new Set() };

  // 1. Framed cases: 6 workers, alternating single messages and pipelined batches.
  const TOTAL_FRAMED = 2400;
  let framedLeft = TOTAL_FRAMED;
  const worker = async () => {
    let conn = await Conn.open(port);
    let round = 0;
    while (framedLeft > 0 && timeLeft() > 0) {
      const pipelined = round++ % 4 === 3;
      const size = Math.min(framedLeft, pipelined ? int(20, 120) : int(1, 3));
      framedLeft -= size;
      const cases = Array.from({ length: size }, framedCase);
      // Cases that may close the connection go last, so the others still get checked.
      cases.sort((a, b) => Number(!!a.allowClose) - Number(!!b.allowClose));
      conn = await runBatch(conn, cases, pipelined, stats);
    }
    conn.socket.destroy();
  };
  await Promise.all(Array.from({ length: 6 }, worker));

  // 2. Unframeable: impossible lengths must close that socket only.
  const bystander = await Conn.open(port);
  const unframeable: Buffer[] = [];
  for (let i = 0; i < 120; i++) {
    const head = Buffer.alloc(HEADER_SIZE);
    const len = pick([int(-(2 ** 31), -1), int(0, HEADER_SIZE - 1), MAX_MESSAGE_SIZE_BYTES + 1, int(MAX_MESSAGE_SIZE_BYTES + 1, 2 ** 31 - 1), 0x7fffffff]);
    head.writeInt32LE(len, 0);
    head.writeInt32LE(OpCode.OP_MSG, 12);
    // Sometimes after a valid message, in the same write, or split into a 1-3 byte prefix.
    const prefix = chance(0.3) ? opMsg({ ping: 1, $db: 'admin' }, nextRequestId++) : Buffer.alloc(0);
    unframeable.push(Buffer.concat([prefix, head, randomBytes(int(0, 64))]));
  }
  for (let i = 0; i < unframeable.length && timeLeft() > 0; i += 20) {
    const results = await Promise.all(unframeable.slice(i, i + 20).map((b) => looseSend(b, false, stats)));
    for (const [k, r] of results.entries()) if (!r.closed) stats.problems.push(`seed ${SEED}: unframeable stream #${i + k} was not closed by the server`);
  }
  const bysId = nextRequestId++;
  bystander.socket.write(opMsg({ ping: 1, $db: 'admin' }, bysId));
  assert.ok(await bystander.waitFor(() => bystander.replies.some((r) => r.header.responseTo === bysId), 5000), 'a bystander connection is unaffected');
  bystander.socket.destroy();

  // 3. Loose: random bytes, desynchronising lengths, lengths larger than what follows. Half-closed.
  const loose: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    const v = int(0, 3);
    if (v === 0) loose.push(randomBytes(int(1, 2048)));
    else if (v === 1) {
      const msg = validOpMsg(nextRequestId++);
      msg.writeInt32LE(Math.max(HEADER_SIZE, msg.length - int(1, 40)), 0); // too small: desync
      loose.push(msg);
    } else if (v === 2) {
      const msg = validOpMsg(nextRequestId++);
      msg.writeInt32LE(msg.length + int(1, 100_000), 0); // too large: the server waits for more
      loose.push(msg);
    } else {
      const msgs = Array.from({ length: int(2, 10) }, () => validOpMsg(nextRequestId++));
      loose.push(Buffer.concat(msgs).subarray(0, int(1, msgs.reduce((n, m) => n + m.length, 0)))); // cut anywhere
    }
  }
  for (let i = 0; i < loose.length && timeLeft() > 0; i += 25) {
    const results = await Promise.all(loose.slice(i, i + 25).map((b) => looseSend(b, true, stats)));
    for (const [k, r] of results.entries()) if (!r.closed) stats.problems.push(`seed ${SEED}: half-closed loose stream #${i + k} stayed open`);
  }

  // 4. Slowloris: partial messages trickled byte by byte, then dropped.
  const slow = await Promise.all(Array.from({ length: 16 }, () => Conn.open(port)));
  const partial = opMsg({ insert: 'junk', $db: SINK_DB }, nextRequestId++, { sequences: [['documents', [randomDoc()]]] });
  for (let b = 0; b < 24; b++) {
    for (const s of slow) s.socket.write(partial.subarray(b, b + 1));
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(await env.client.db('admin').command({ ping: 1 }), { ok: 1 }, 'others are served while slow clients trickle');
  for (const s of slow) {
    assert.equal(s.replies.length, 0);
    s.socket.destroy();
  }
  stats.messages += slow.length;

  // ---------------------------------------------------------------- afterwards
  t.diagnostic(`${stats.messages} messages, ${stats.replies} replies, ${stats.closes} framed connections closed, ${Date.now() - started} ms`);
  t.diagnostic(`error replies: ${[...stats.errorCodes].map(([k, n]) => `${k} x${n}`).join('; ')}`);

  // A new connection still answers, and so does the original driver client.
  const fresh = await Conn.open(port);
  const pingId = nextRequestId++;
  fresh.socket.write(opMsg({ ping: 1, $db: 'admin' }, pingId));
  assert.ok(await fresh.waitFor(() => fresh.replies.some((r) => r.header.responseTo === pingId && r.doc?.ok === 1), 5000), 'ping on a new connection');
  fresh.socket.destroy();
  assert.deepEqual(await env.client.db('admin').command({ ping: 1 }), { ok: 1 }, 'ping on the original driver client');

  // Known data intact and unchanged.
  assert.deepEqual(await readKnown(), before);
  assert.deepEqual(
    (await known.listIndexes().toArray()).map((i) => i.name),
    ['_id_', 'name_1'],
  );

  // Nothing appeared except where deliberately well-formed (or well-formed-after-mutation) writes went.
  const afterNamespaces = await snapshot();
  for (const [db, colls] of afterNamespaces) {
    for (const coll of colls) {
      const existed = beforeNamespaces.get(db)?.includes(coll) ?? false;
      const explained = stats.namespaces.has(`${db}.${coll}`);
      assert.ok(existed || explained, `seed ${SEED}: collection ${db}.${coll} appeared from no well-formed write`);
    }
  }
  assert.deepEqual(afterNamespaces.get(FIXTURE_DB), ['known']);

  assert.deepEqual(stats.problems.slice(0, 20), [], `${stats.problems.length} protocol problems`);
  assert.deepEqual(stats.internalErrors.slice(0, 20), [], 'InternalError (code 1) replies: unhandled exceptions turned into errors');
  assert.deepEqual(uncaught, [], 'no uncaught exceptions or unhandled rejections');
  assert.ok(stats.messages >= 2500, `sent ${stats.messages} messages`);
});
