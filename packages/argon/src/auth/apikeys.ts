import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from 'lmdb';
import { ArgonError } from '../errors.js';
import type { Role } from './roles.js';

/**
 * API keys for the HTTP interface. A key reads `argon_<id>_<secret>`: the id finds the record,
 * and only a SHA-256 of the secret is stored, so a copy of the data directory grants nothing.
 */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The user that created it; the key acts as this user, with at most this role. */
  owner: string;
  role: Role;
  hash: string;
  created: number;
}

export type ApiKeyInfo = Omit<ApiKeyRecord, 'hash'>;

const KEY_FORMAT = /^argon_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const digest = (secret: string) => createHash('sha256').update(secret).digest();

/** A fresh key, not yet stored: bootstrap writes it to its file before storing it. */
export function newApiKey(): string {
  return `argon_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
}

/** `flush` is the store's: a write's promise resolves at commit, acknowledged only once on disk. */
export class ApiKeyStore {
  constructor(
    private readonly table: Database<ApiKeyRecord, string>,
    private readonly flush: () => Promise<void>,
  ) {}

  /** Returns the key itself: it is shown once and cannot be recovered. */
  async create(name: string, owner: string, role: Role, key = newApiKey()): Promise<{ key: string; info: ApiKeyInfo }> {
    if (name.length === 0) throw new ArgonError('BadValue', 'an API key needs a name');
    const [, id, secret] = KEY_FORMAT.exec(key) ?? [];
    if (!id || !secret) throw new ArgonError('BadValue', 'malformed API key');
    const record: ApiKeyRecord = { id, name, owner, role, hash: digest(secret).toString('base64'), created: Date.now() };
    await this.table.put(id, record);
    await this.flush();
    return { key, info: publicInfo(record) };
  }

  /** The key's record, or null when the key is malformed, unknown or revoked. */
  verify(key: string): ApiKeyRecord | null {
    const match = KEY_FORMAT.exec(key);
    if (!match) return null;
    const record = this.table.get(match[1]!);
    if (!record) return null;
    // Constant time, so response times do not leak how much of a guessed secret matched. A
    // damaged stored hash (wrong length) would make timingSafeEqual throw: refuse it instead.
    const stored = Buffer.from(record.hash, 'base64');
    const given = digest(match[2]!);
    return stored.length === given.length && timingSafeEqual(given, stored) ? record : null;
  }

  list(owner?: string): ApiKeyInfo[] {
    return [...this.table.getRange({}).map(({ value }) => publicInfo(value))].filter((k) => owner === undefined || k.owner === owner);
  }

  get(id: string): ApiKeyInfo | undefined {
    const record = this.table.get(id);
    return record && publicInfo(record);
  }

  async revoke(id: string): Promise<void> {
    if (this.table.get(id) === undefined) throw new ArgonError('NoSuchKey', `no API key with id '${id}'`);
    await this.table.remove(id);
    await this.flush();
  }
}

function publicInfo({ hash: _hash, ...info }: ApiKeyRecord): ApiKeyInfo {
  return info;
}
