import type { Document } from 'mongodb';

export const DEFAULT_SERVER = 'mongodb://127.0.0.1:27017/?directConnection=true';

/** Runs admin commands against the running server's main endpoint. */
export async function withServer<T>(uri: string, fn: (admin: (cmd: Document) => Promise<Document>) => Promise<T>): Promise<T> {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 3000 });
  try {
    await client.connect();
    return await fn((cmd) => client.db('admin').command(cmd));
  } finally {
    await client.close();
  }
}
