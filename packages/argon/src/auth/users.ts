import { randomUUID } from 'node:crypto';
import type { Database } from 'lmdb';
import { ArgonError } from '../errors.js';
import type { RoleGrant } from './roles.js';
import { deriveCredentials, type ScramCredentials } from './scram.js';

export interface UserRecord {
  user: string;
  db: string;
  userId: string;
  roles: RoleGrant[];
  scram: ScramCredentials;
  customData?: Record<string, unknown>;
  created: number;
}

/**
 * Users of the whole server (not versioned per branch), keyed `db.user` as mongod names them.
 * `flush` is the store's: a write's promise resolves at commit, and a change is acknowledged
 * only once it is on disk.
 */
export class UserStore {
  constructor(
    private readonly table: Database<UserRecord, string>,
    private readonly flush: () => Promise<void>,
  ) {}

  get(db: string, user: string): UserRecord | undefined {
    return this.table.get(`${db}.${user}`);
  }

  list(db?: string): UserRecord[] {
    const all = [...this.table.getRange({}).map(({ value }) => value)];
    return db === undefined ? all : all.filter((u) => u.db === db);
  }

  count(): number {
    return this.table.getKeysCount();
  }

  async create(db: string, user: string, password: string, roles: RoleGrant[], customData?: Record<string, unknown>): Promise<UserRecord> {
    if (user.length === 0) throw new ArgonError('BadValue', 'the user name must not be empty');
    if (password.length === 0) throw new ArgonError('BadValue', 'the password must not be empty');
    const record: UserRecord = { user, db, userId: randomUUID(), roles, scram: await deriveCredentials(password), customData, created: Date.now() };
    const key = `${db}.${user}`;
    const added = await this.table.ifNoExists(key, () => {
      this.table.put(key, record);
    });
    if (!added) throw new ArgonError('Location51003', `User "${user}@${db}" already exists`);
    await this.flush();
    return record;
  }

  async update(db: string, user: string, change: { password?: string; roles?: RoleGrant[]; customData?: Record<string, unknown> }): Promise<UserRecord> {
    const scram = change.password === undefined ? undefined : await deriveCredentials(change.password);
    // Read after the (slow) derivation, so a concurrent change to the other fields is not undone.
    const current = this.get(db, user);
    if (!current) throw userNotFound(db, user);
    const next: UserRecord = {
      ...current,
      ...(scram ? { scram } : {}),
      ...(change.roles !== undefined ? { roles: change.roles } : {}),
      ...(change.customData !== undefined ? { customData: change.customData } : {}),
    };
    await this.table.put(`${db}.${user}`, next);
    await this.flush();
    return next;
  }

  async drop(db: string, user: string): Promise<void> {
    if (this.get(db, user) === undefined) throw userNotFound(db, user);
    await this.table.remove(`${db}.${user}`);
    await this.flush();
  }
}

export function userNotFound(db: string, user: string): ArgonError {
  return new ArgonError('UserNotFound', `User '${user}@${db}' not found`);
}
