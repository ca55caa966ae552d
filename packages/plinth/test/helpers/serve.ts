import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';

/** `plinth serve` as a child process: what the CLI tests and the crash tests run. */

/** The package's bin, as `npx plinth` runs it (from dist/test/helpers, three levels up). */
export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'plinth.cjs');

export interface ServeProcess {
  endpoint: string;
  pid: number;
  /** A client signed in as the admin the process was started with, path-style, no retries. */
  client(): S3Client;
  /** Signals the process unless it has exited; resolves its exit code (null when a signal ended it). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export interface ServeOptions {
  dataDir: string;
  /** postgres://… or sqlite:PATH; SQLite in the data directory when absent. */
  metadata?: string;
  accessKey: string;
  secretKey: string;
}

/** Starts `plinth serve` on a free port and resolves once it logs that it is ready. */
export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  const args = [BIN, 'serve', '--data', options.dataDir, '--port', '0', ...(options.metadata ? ['--metadata', options.metadata] : [])];
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, args, {
    env: { ...process.env, PLINTH_ACCESS_KEY: options.accessKey, PLINTH_SECRET_KEY: options.secretKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let pending = '';
    // Reading every log line to the end also keeps the pipe drained: a full pipe would stall a
    // server that logs synchronously.
    child.stdout.on('data', (d: Buffer) => {
      const lines = (pending + d.toString()).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; endpoint?: string }) : {};
        if (entry.msg === 'Plinth is ready') resolve(entry.endpoint!);
      }
    });
    void exited.then((code) => reject(new Error(`plinth serve exited with ${code} before it was ready: ${stderr}`)));
  });
  const clients: S3Client[] = [];
  void exited.then(() => clients.forEach((c) => c.destroy()));
  return {
    endpoint,
    pid: child.pid!,
    client: () => {
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { accessKeyId: options.accessKey, secretAccessKey: options.secretKey },
        // Killing the server under streaming uploads is what the crash tests do; the SDK would
        // print a warning for each one cut.
        logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
      });
      clients.push(client);
      return client;
    },
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
