// The wire ceiling: a minimal TCP server speaking just enough of the MongoDB wire protocol for
// the official driver, answering every request with a canned reply. It does no command
// parsing beyond the first key of the body and no storage work, so the throughput a client
// reaches against it is the most any server can give that client on this machine: the cost
// left is the driver, the socket round trip, framing and copying the reply.
//
//   hello / isMaster (OP_MSG, or the OP_QUERY handshake)  → a valid standalone hello reply
//   find                                                  → a cursor (id 0) holding one fixed ~1 KiB document
//   anything else                                         → { ok: 1 }
//
// The hello reply carries no topologyVersion, so the driver's monitor polls (every 10 s)
// instead of streaming awaitable hellos at it.
//
// Uses Argon's own wire encoders (packages/argon/dist/src/wire), so a reply is framed exactly
// as Argon frames it.
import net from 'node:net';
import { Long, serialize } from 'bson';
import {
  MessageFramer,
  OpCode,
  OpMsgFlag,
  buildCursorReply,
  encodeOpMsgRaw,
  encodeOpReply,
} from '../../packages/argon/dist/src/wire/index.js';
import { makeDoc } from './docs.mjs';

const HELLO = {
  helloOk: true,
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
  localTime: new Date(),
  logicalSessionTimeoutMinutes: 30,
  connectionId: 1,
  minWireVersion: 0,
  maxWireVersion: 21,
  readOnly: false,
  ok: 1,
};

/** First key of the kind-0 body section of an OP_MSG body, read straight from the bytes. */
function commandName(body) {
  let pos = 4; // flag bits
  while (pos < body.length) {
    const kind = body[pos++];
    if (kind === 0) {
      const keyStart = pos + 5; // int32 document length, element type byte
      const keyEnd = body.indexOf(0, keyStart);
      return keyEnd < 0 ? '' : body.toString('latin1', keyStart, keyEnd);
    }
    if (kind !== 1) return '';
    pos += body.readInt32LE(pos); // skip a document sequence
  }
  return '';
}

/**
 * Starts the ceiling server on a loopback port (0: any free one).
 * @returns {Promise<{ uri: string, port: number, requests: () => number, stop: () => Promise<void> }>}
 */
export async function startWireCeiling({ host = '127.0.0.1', port = 0, document = makeDoc(0), ns = 'ycsb.usertable' } = {}) {
  const helloBytes = serialize({ isWritablePrimary: true, ...HELLO });
  const legacyHello = { ismaster: true, ...HELLO };
  const findBytes = buildCursorReply(ns, Long.ZERO, 'firstBatch', [serialize(document)]);
  const okBytes = serialize({ ok: 1 });
  let requestId = 1;
  let requests = 0;
  const sockets = new Set();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const framer = new MessageFramer();
    socket.on('data', (chunk) => {
      let messages;
      try {
        messages = framer.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const { header, body } of messages) {
        requests++;
        const opts = { requestId: requestId++, responseTo: header.requestId };
        if (header.opCode === OpCode.OP_QUERY) {
          socket.write(encodeOpReply([legacyHello], opts));
        } else if (header.opCode === OpCode.OP_MSG) {
          if ((body.readUInt32LE(0) & OpMsgFlag.moreToCome) !== 0) continue;
          const name = commandName(body);
          const reply = name === 'find' ? findBytes : name === 'hello' || name === 'isMaster' || name === 'ismaster' ? helloBytes : okBytes;
          socket.write(encodeOpMsgRaw(reply, opts));
        } else {
          socket.destroy();
          return;
        }
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    uri: `mongodb://${host}:${actual}/?directConnection=true`,
    port: actual,
    requests: () => requests,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
