import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../storage/store.js';
import { ApiKeyStore, newApiKey, type ApiKeyRecord } from './apikeys.js';
import { CREDENTIALS_FILE, type BootstrapCredentials } from './credentials-file.js';
import { AuditLog, type AuditRecord } from './audit.js';
import { effectiveRole, lowerRole, type Role, type RoleGrant } from './roles.js';
import { unknownUserCredentials, type ScramConversation, type ScramCredentials } from './scram.js';
import { UserStore, type UserRecord } from './users.js';

/** Who is calling: a user signed in with SCRAM, or a user's API key (capped at the key's role). */
export interface Principal {
  user: string;
  db: string;
  roles: RoleGrant[];
  apiKey?: { id: string; role: Role };
}

/** The per-connection (or per-request) side of authentication. */
export interface Caller {
  via: AuditRecord['via'];
  principal: Principal | null;
  /** SCRAM conversations in progress, by conversationId. */
  conversations: Map<number, ScramSession>;
}

export interface ScramSession {
  conversation: ScramConversation;
  /** The database holding the user (the URI's authSource). */
  db: string;
  /** The client asked to skip SCRAM's final empty round trip. */
  skipEmptyExchange: boolean;
}

export function newCaller(via: Caller['via']): Caller {
  return { via, principal: null, conversations: new Map() };
}


/**
 * Users, API keys and the audit log, kept in the store's server-wide tables. With `enabled`
 * false (only when the server is explicitly started so) every caller may do everything.
 */
export class AuthService {
  readonly users: UserStore;
  readonly apiKeys: ApiKeyStore;
  readonly audit: AuditLog;
  /** Keys the salts unknown users are offered; the same across restarts, so those salts are too. */
  private readonly scramSecret: Buffer;
  /** Settles once a newly generated secret is on disk; bootstrap waits for it. */
  private readonly secretSaved: Promise<void>;

  constructor(
    store: Store,
    readonly enabled: boolean,
  ) {
    const flush = () => store.flushed();
    this.users = new UserStore(store.serverTable<UserRecord, string>('users'), flush);
    this.apiKeys = new ApiKeyStore(store.serverTable<ApiKeyRecord, string>('apikeys'), flush);
    this.audit = new AuditLog(store.serverTable<AuditRecord, number>('audit'), flush);
    const secrets = store.serverTable<string, string>('secrets');
    const saved = secrets.get('scram');
    this.scramSecret = saved === undefined ? randomBytes(32) : Buffer.from(saved, 'base64');
    this.secretSaved = saved === undefined ? secrets.put('scram', this.scramSecret.toString('base64')).then(flush) : Promise.resolve();
    // Awaited by bootstrap; until then a failure must not count as an unhandled rejection.
    this.secretSaved.catch(() => undefined);
  }

  /** The made-up SCRAM credentials of a user that does not exist (see unknownUserCredentials). */
  unknownUserScram(db: string, user: string): ScramCredentials {
    return unknownUserCredentials(this.scramSecret, db, user);
  }

  /**
   * With authentication on and no user yet, creates the first admin: from the given password
   * (ARGON_ADMIN_PASSWORD), or with a generated one written to a file only its owner can read.
   * Returns the file's path when one was written. Secrets never go to the log.
   *
   * The file is on disk before the user exists: a crash in between leaves a file for a user that
   * the next start creates anew (with a new file), never a user whose password nobody has.
   */
  async bootstrap(dataDir: string, log: Logger, given?: { user?: string; password?: string }): Promise<string | null> {
    await this.secretSaved;
    if (!this.enabled || this.users.count() > 0) return null;
    const user = given?.user || 'admin';
    const password = given?.password || randomBytes(18).toString('base64url');
    const key = newApiKey();
    const file = given?.password ? null : join(dataDir, CREDENTIALS_FILE);
    if (file) {
      const credentials: BootstrapCredentials = { user, password, apiKey: key };
      writePrivateFile(file, JSON.stringify(credentials, null, 2) + '\n');
    }
    await this.users.create('admin', user, password, [{ role: 'admin', db: 'admin' }]);
    await this.apiKeys.create('bootstrap', `${user}@admin`, 'admin', key);
    if (file) log.warn({ user, file }, 'created the first admin user; its password and an API key are in this file');
    else log.info({ user }, 'created the first admin user from ARGON_ADMIN_PASSWORD');
    return file;
  }

  /** The principal an API key acts as, or null when it is not a valid key of an existing user. */
  principalForKey(key: string): Principal | null {
    const record = this.apiKeys.verify(key);
    if (!record) return null;
    const at = record.owner.lastIndexOf('@');
    const owner = this.users.get(record.owner.slice(at + 1), record.owner.slice(0, at));
    if (!owner) return null;
    return { user: owner.user, db: owner.db, roles: owner.roles, apiKey: { id: record.id, role: record.role } };
  }

  /**
   * The role a caller holds for a command on `db` (server-wide commands run on `admin`). Read
   * from the user's current record, so granted, revoked or dropped roles apply to open
   * connections at once, as in mongod.
   */
  roleOf(principal: Principal | null, db: string, serverWide: boolean): Role | null {
    if (!this.enabled) return 'admin';
    if (!principal) return null;
    const user = this.users.get(principal.db, principal.user);
    if (!user) return null;
    const role = effectiveRole(user.roles, db, serverWide);
    return role && principal.apiKey ? lowerRole(role, principal.apiKey.role) : role;
  }
}

/** Writes `file` readable by its owner only, and durably: it is on disk when this returns. */
function writePrivateFile(file: string, text: string): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    // The mode above applies only to a new file, and through the umask: set it outright, before
    // the secret is written.
    fchmodSync(fd, 0o600);
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // A new file's name lives in its directory: sync that too, or a crash could lose the file.
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function describePrincipal(p: Principal | null): string | null {
  if (!p) return null;
  return p.apiKey ? `apikey:${p.apiKey.id} (${p.user}@${p.db})` : `${p.user}@${p.db}`;
}
