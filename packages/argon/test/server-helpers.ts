import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { MongoClient } from 'mongodb';
import { ArgonServer } from '../src/server/server.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const execFileP = promisify(execFile);

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

/** Runs `argon --server <uri> ...args`; resolves with stdout, stderr and the exit code. */
export async function runCli(uri: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, '--server', uri, ...args], { timeout: 30_000 });
    return { stdout, stderr, code: 0 };
  } catch (err: any) {
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code ?? 1 };
  }
}
