import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { MongoClient } from 'mongodb';
import { ArgonServer } from '../src/server/server.js';

/** A real server on a free port with a fresh data directory, and a connected driver client. */
export async function startServer(): Promise<{ server: ArgonServer; client: MongoClient; uri: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'argon-server-'));
  const server = await ArgonServer.start({ dataDir: dir, port: 0, auth: false, logger: pino({ level: 'silent' }) });
  const uri = await server.uri('main');
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  return {
    server,
    client,
    uri,
    stop: async () => {
      await client.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
