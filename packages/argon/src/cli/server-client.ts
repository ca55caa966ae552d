import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Document } from 'bson';
import { CREDENTIALS_FILE, type BootstrapCredentials } from '../auth/credentials-file.js';
import { plainTarget, WireClient } from './wire-client.js';

export const DEFAULT_SERVER = 'mongodb://127.0.0.1:27017/?directConnection=true';

/**
 * Runs admin commands against the running server's main endpoint: through the CLI's own wire
 * client when the URI is one it speaks (it starts much faster), else through the driver.
 */
export async function withServer<T>(uri: string, fn: (admin: (cmd: Document) => Promise<Document>) => Promise<T>): Promise<T> {
  const target = plainTarget(uri);
  if (target) {
    const wire = await WireClient.open(target);
    try {
      return await fn((cmd) => wire.command(cmd));
    } finally {
      wire.close();
    }
  }
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 3000 });
  try {
    await client.connect();
    return await fn((cmd) => client.db('admin').command(cmd));
  } finally {
    await client.close();
  }
}

/**
 * Adds credentials to a URI that has none: ARGON_USER and ARGON_PASSWORD, else the first-admin
 * file a local server wrote into its data directory. A URI with a user name is left as it is.
 */
export function withCredentials(uri: string, dataDir: string): string {
  const url = new URL(uri);
  if (url.username) return uri;
  let user = process.env.ARGON_USER;
  let password = process.env.ARGON_PASSWORD;
  if (!user || password === undefined) {
    try {
      const saved = JSON.parse(readFileSync(join(dataDir, CREDENTIALS_FILE), 'utf8')) as BootstrapCredentials;
      ({ user, password } = saved);
    } catch {
      return uri;
    }
  }
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString();
}
