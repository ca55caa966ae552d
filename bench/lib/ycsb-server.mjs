// Child-process entry of the YCSB benchmark: runs one server so that it has an event loop
// (and, on a 2-core machine, roughly a core) of its own instead of sharing the benchmark
// clients' loop.
//
//   node bench/lib/ycsb-server.mjs argon <dataDir>   Argon on a free loopback port
//   node bench/lib/ycsb-server.mjs ceiling           the canned-reply wire ceiling server
//
// Prints one JSON line {"uri": ...} on stdout once listening; stops the server and exits when
// stdin closes (or on SIGTERM/SIGINT). Start it with startServerChild() from ycsb-core.mjs.
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { startWireCeiling } from './wire-ceiling.mjs';

/** Starts Argon in this process; returns { uri, stop }. */
export async function startArgon(dataDir) {
  const { ArgonServer } = await import('../../packages/argon/dist/src/server/server.js');
  const server = await ArgonServer.start({ dataDir, port: 0, auth: false, logger: pino({ level: 'silent' }) });
  return { uri: await server.uri('main'), stop: () => server.stop() };
}

async function main() {
  const [kind, dataDir] = process.argv.slice(2);
  let server;
  if (kind === 'argon') {
    if (!dataDir) throw new Error('usage: ycsb-server.mjs argon <dataDir>');
    server = await startArgon(dataDir);
  } else if (kind === 'ceiling') {
    server = await startWireCeiling();
  } else {
    throw new Error(`unknown server kind '${kind}' (argon or ceiling)`);
  }
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await server.stop();
    } finally {
      process.exit(0); // a normal exit, so --cpu-prof writes its profile
    }
  };
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdout.write(`${JSON.stringify({ uri: server.uri })}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`ycsb-server: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
