import { createHash, randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { MetadataStore, User } from './meta/types.js';

/**
 * Plinth's users: the first one (the admin) comes from PLINTH_ACCESS_KEY/PLINTH_SECRET_KEY, or
 * from a key pair generated on first start and kept in `<dataDir>/credentials.json`; more come
 * from a `--users` file or the admin API. Secret keys are never logged.
 */

export interface UserSpec {
  accessKey: string;
  secretKey: string;
  id?: string;
  displayName?: string;
}

export const CREDENTIALS_FILE = 'credentials.json';

/** Access keys as AWS shapes them (20 upper-case characters), secrets 40 characters of base64. */
export function generateKeys(): { accessKey: string; secretKey: string } {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const accessKey = `PL${[...randomBytes(18)].map((b) => alphabet[b % 32]).join('')}`;
  return { accessKey, secretKey: randomBytes(30).toString('base64') };
}

/**
 * A stable canonical id for a user given none: the same access key always maps to the same id,
 * so restarting with the same environment finds the same owner for its buckets.
 */
function defaultId(accessKey: string): string {
  return createHash('sha256').update(`plinth-user:${accessKey}`).digest('hex');
}

export function toUser(spec: UserSpec, where: string): User {
  const { accessKey, secretKey } = spec;
  if (typeof accessKey !== 'string' || !/^[A-Za-z0-9._+=-]{3,128}$/.test(accessKey)) throw new Error(`${where}: accessKey must be 3-128 characters of letters, digits and ._+=-`);
  if (typeof secretKey !== 'string' || secretKey.length < 8 || secretKey.length > 256) throw new Error(`${where}: secretKey must be 8-256 characters`);
  if (spec.id !== undefined && (typeof spec.id !== 'string' || spec.id === '')) throw new Error(`${where}: id must be a non-empty string`);
  if (spec.displayName !== undefined && typeof spec.displayName !== 'string') throw new Error(`${where}: displayName must be a string`);
  return { accessKey, secretKey, id: spec.id ?? defaultId(accessKey), displayName: spec.displayName ?? accessKey };
}

async function readUsersFile(path: string): Promise<User[]> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${path}: expected a JSON array of {accessKey, secretKey, id, displayName}`);
  return parsed.map((spec, i) => toUser(spec as UserSpec, `${path}[${i}]`));
}

/** The saved admin keys, or null when there is no such file (the CLI reads them here too). */
export async function readCredentials(path: string): Promise<UserSpec | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as UserSpec;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface UsersOptions {
  /** The admin's keys; PLINTH_ACCESS_KEY/PLINTH_SECRET_KEY (+ PLINTH_USER_ID, PLINTH_DISPLAY_NAME) when absent. */
  admin?: UserSpec;
  usersFile?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Makes sure the admin and the users file's users exist in the metadata store. Returns the admin
 * and, when its keys were generated or read back from there, the credentials file.
 */
export async function bootstrapUsers(meta: MetadataStore, dataDir: string, log: Logger, options: UsersOptions = {}): Promise<{ admin: User; credentialsFile: string | null }> {
  const env = options.env ?? process.env;
  let spec = options.admin;
  let credentialsFile: string | null = null;
  if (!spec && (env.PLINTH_ACCESS_KEY !== undefined || env.PLINTH_SECRET_KEY !== undefined)) {
    if (!env.PLINTH_ACCESS_KEY || !env.PLINTH_SECRET_KEY) throw new Error('set both PLINTH_ACCESS_KEY and PLINTH_SECRET_KEY, or neither');
    spec = { accessKey: env.PLINTH_ACCESS_KEY, secretKey: env.PLINTH_SECRET_KEY, id: env.PLINTH_USER_ID, displayName: env.PLINTH_DISPLAY_NAME ?? 'admin' };
  }
  if (!spec) {
    credentialsFile = join(dataDir, CREDENTIALS_FILE);
    spec = (await readCredentials(credentialsFile)) ?? undefined;
    if (!spec) {
      spec = { ...generateKeys(), id: env.PLINTH_USER_ID, displayName: env.PLINTH_DISPLAY_NAME ?? 'admin' };
      const admin = toUser(spec, 'generated credentials');
      await writeFile(credentialsFile, `${JSON.stringify(admin, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      log.info({ file: credentialsFile, accessKey: admin.accessKey }, 'generated the admin key pair (secret in the credentials file)');
    }
    // Tighten a file a user may have copied in with looser permissions.
    await chmod(credentialsFile, 0o600);
  }
  const admin = toUser({ displayName: 'admin', ...spec }, credentialsFile ?? 'admin credentials');
  await meta.putUser(admin);
  if (options.usersFile) {
    const users = await readUsersFile(options.usersFile);
    for (const user of users) await meta.putUser(user);
    log.info({ file: options.usersFile, users: users.map((u) => u.accessKey) }, 'users loaded');
  }
  return { admin, credentialsFile };
}

/** A user as the admin API shows it: never the secret, except once when it is created. */
export function publicUser(user: User, adminId: string): Record<string, unknown> {
  return { id: user.id, displayName: user.displayName, accessKey: user.accessKey, admin: user.id === adminId };
}
