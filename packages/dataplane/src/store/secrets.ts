import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Run } from '../types.js';
import type { DataStore, SecretInfo } from './types.js';

/**
 * Secrets at rest: AES-256-GCM under a master key kept outside the database, a random 12-byte
 * nonce per write, and `environment` + `name` as additional authenticated data, so a ciphertext
 * copied to another name or environment fails to decrypt. Values go in through the API and out
 * only to the tasks that list them (SecretVault.source); nothing here logs a key or a value.
 */

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const MASTER_KEY_FILE = 'master.key';
export const MASTER_KEY_ENV = 'DATAPLANE_MASTER_KEY';

export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

/** A key given as text (DATAPLANE_MASTER_KEY): 64 hex digits or base64 of 32 bytes, nothing else. */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(t) || /^[A-Za-z0-9_-]{43}$/.test(t)) {
    const key = Buffer.from(t, t.includes('+') || t.includes('/') || t.endsWith('=') ? 'base64' : 'base64url');
    if (key.length === KEY_BYTES) return key;
  }
  // The message never quotes the value: it may be a real key mistyped.
  throw new MasterKeyError(`${MASTER_KEY_ENV} must be 32 bytes as 64 hex digits or as base64 (44 characters); the value given (${t.length} characters) is neither. Generate one with: openssl rand -base64 32`);
}

/**
 * The master key: DATAPLANE_MASTER_KEY when set, else `<dataDir>/master.key`, created on first
 * start (mode 0600, written and fsynced before use). A key file of the wrong size is refused.
 */
export function loadMasterKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): { key: Buffer; source: 'env' | 'file'; created: boolean } {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { key: parseMasterKey(fromEnv), source: 'env', created: false };
  const file = join(dataDir, MASTER_KEY_FILE);
  const key = randomBytes(KEY_BYTES);
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const existing = readFileSync(file);
    if (existing.length !== KEY_BYTES) throw new MasterKeyError(`${file} holds ${existing.length} bytes, not a ${KEY_BYTES}-byte key: restore it from a backup (secrets encrypted under it cannot be read otherwise)`);
    return { key: existing, source: 'file', created: false };
  }
  try {
    writeSync(fd, key);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // The directory entry too, so the key survives a crash that keeps the secrets it encrypted.
  try {
    const dir = openSync(dataDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Some platforms cannot fsync a directory.
  }
  return { key, source: 'file', created: true };
}

const aad = (environment: string, name: string) => Buffer.from(JSON.stringify([environment, name]), 'utf8');

/** Ciphertext (with the GCM tag appended) and a fresh nonce. */
export function encryptSecret(key: Buffer, environment: string, name: string, value: string): { ciphertext: Buffer; nonce: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(environment, name));
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext, nonce };
}

/** Throws when the ciphertext, nonce, key, environment or name is not the one it was written with. */
export function decryptSecret(key: Buffer, environment: string, name: string, ciphertext: Buffer, nonce: Buffer): string {
  if (ciphertext.length < TAG_BYTES || nonce.length !== NONCE_BYTES) throw new Error(`secret '${name}' (environment '${environment}') is malformed`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(environment, name));
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
    return Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error(`secret '${name}' (environment '${environment}') cannot be decrypted: the master key differs from the one it was written with, or the stored value was altered`);
  }
}

/** The secrets store: the DataStore's ciphertexts and the master key. */
export class SecretVault {
  constructor(
    private readonly store: DataStore,
    private readonly key: Buffer,
  ) {
    if (key.length !== KEY_BYTES) throw new MasterKeyError(`the master key must be ${KEY_BYTES} bytes`);
  }

  async put(environment: string, name: string, value: string): Promise<{ created: boolean }> {
    const { ciphertext, nonce } = encryptSecret(this.key, environment, name, value);
    return this.store.putSecret(environment, name, ciphertext, nonce);
  }

  delete(environment: string, name: string): Promise<boolean> {
    return this.store.deleteSecret(environment, name);
  }

  list(environment?: string): Promise<SecretInfo[]> {
    return this.store.listSecrets(environment);
  }

  /** Values of `names` in `environment`; throws naming every one that does not exist. */
  async values(environment: string, names: string[]): Promise<Record<string, string>> {
    const rows = await this.store.getSecretCiphertexts(environment, names);
    const found = new Map(rows.map((r) => [r.name, r]));
    const missing = names.filter((n) => !found.has(n));
    if (missing.length > 0) {
      const list = missing.map((n) => `'${n}'`).join(', ');
      throw new Error(`no secret ${list} in environment '${environment}' (create it with: dataplane secret set ${missing[0]} --environment ${environment})`);
    }
    const values: Record<string, string> = {};
    for (const n of names) {
      const r = found.get(n)!;
      values[n] = decryptSecret(this.key, environment, n, r.ciphertext, r.nonce);
    }
    return values;
  }

  /** The engine's SecretSource: the run's environment, the names the task lists. */
  readonly source = (names: string[], run: Run): Promise<Record<string, string>> => this.values(run.environment, names);
}
