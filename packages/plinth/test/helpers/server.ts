import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import pino, { type Logger } from 'pino';
import { PlinthServer, type PlinthOptions } from '../../src/server.js';
import type { User } from '../../src/meta/types.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface StartPlinthOptions extends Partial<Omit<PlinthOptions, 'dataDir' | 'logger'>> {
  /** A metadata URL (e.g. from test/helpers/postgres.ts); SQLite in the data directory when absent. */
  metadata?: string;
  /** Reuse a data directory (restart tests); a fresh temporary one otherwise, removed by stop(). */
  dataDir?: string;
  /** Silent unless given, so test output stays readable. */
  logger?: Logger;
}

export interface PlinthHarness {
  server: PlinthServer;
  /** Signed in as the first (admin) user, path-style, no retries so failures surface at once. */
  client: S3Client;
  endpoint: string;
  credentials: Credentials;
  dataDir: string;
  /** An S3 client for these credentials (anonymous when null) against this server. */
  clientFor(credentials: Credentials | null, config?: Partial<S3ClientConfig>): S3Client;
  /** Creates another (non-admin) user and a client signed in as them. */
  addUser(displayName?: string): Promise<{ user: User; client: S3Client; credentials: Credentials }>;
  /** Stops the server, destroys the clients it made and removes a temporary data directory. */
  stop(): Promise<void>;
}

function randomKeys(): { accessKey: string; secretKey: string } {
  return { accessKey: `PT${randomBytes(9).toString('hex').toUpperCase()}`, secretKey: randomBytes(30).toString('base64url') };
}

/** A real Plinth server on a free port with a fresh data directory, and an S3 client for it. */
export async function startPlinth(options: StartPlinthOptions = {}): Promise<PlinthHarness> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'plinth-test-'));
  const admin = options.admin ?? { ...randomKeys(), id: 'admin', displayName: 'admin' };
  const server = await PlinthServer.start({
    ...options,
    dataDir,
    port: options.port ?? 0,
    admin,
    logger: options.logger ?? pino({ level: 'silent' }),
  });
  const endpoint = server.endpoint;
  const clients: S3Client[] = [];
  const clientFor = (credentials: Credentials | null, config: Partial<S3ClientConfig> = {}): S3Client => {
    const client = new S3Client({
      endpoint,
      region: server.region,
      forcePathStyle: true,
      maxAttempts: 1,
      // Anonymous: the SDK skips signing when the signer gives the request back untouched.
      ...(credentials ? { credentials } : { credentials: { accessKeyId: '', secretAccessKey: '' }, signer: { sign: async (request) => request } }),
      ...config,
    });
    clients.push(client);
    return client;
  };
  const credentials = { accessKeyId: admin.accessKey, secretAccessKey: admin.secretKey };
  let users = 0;
  return {
    server,
    client: clientFor(credentials),
    endpoint,
    credentials,
    dataDir,
    clientFor,
    addUser: async (displayName) => {
      users += 1;
      const user: User = { id: `user-${users}-${randomBytes(4).toString('hex')}`, displayName: displayName ?? `user${users}`, ...randomKeys() };
      await server.meta.putUser(user);
      const userCredentials = { accessKeyId: user.accessKey, secretAccessKey: user.secretKey };
      return { user, client: clientFor(userCredentials), credentials: userCredentials };
    },
    stop: async () => {
      for (const client of clients) client.destroy();
      await server.stop();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
