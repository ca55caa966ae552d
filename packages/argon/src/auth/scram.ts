import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ArgonError } from '../errors.js';

/**
 * SCRAM-SHA-256 (RFC 5802 / RFC 7677) as MongoDB speaks it in saslStart/saslContinue. The server
 * keeps only the salted keys, never the password.
 */

export interface ScramCredentials {
  iterations: number;
  /** Base64, as the server-first message carries them. */
  salt: string;
  storedKey: string;
  serverKey: string;
}

/** mongod's default for SCRAM-SHA-256. */
export const SCRAM_ITERATIONS = 15_000;
/** Bytes of a user's random salt. */
export const SALT_BYTES = 28;

// PBKDF2 takes milliseconds: run it on libuv's thread pool, never on the event loop.
const pbkdf2Async = promisify(pbkdf2);

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/**
 * SASLprep (RFC 4013), as drivers apply it before hashing: non-ASCII spaces map to a space,
 * "commonly mapped to nothing" characters are dropped, then NFKC. Prohibited characters are
 * refused rather than silently hashed differently from the client.
 */
export function saslPrep(password: string): string {
  const mapped = password.replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ').replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '');
  const normalized = mapped.normalize('NFKC');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001F\u007F\u0080-\u009F\uFFF9-\uFFFD\uE000-\uF8FF]/.test(normalized)) {
    throw new ArgonError('BadValue', 'the password contains characters SASLprep prohibits');
  }
  return normalized;
}

export async function deriveCredentials(password: string, iterations = SCRAM_ITERATIONS, salt = randomBytes(SALT_BYTES)): Promise<ScramCredentials> {
  const salted = await pbkdf2Async(saslPrep(password), salt, iterations, 32, 'sha256');
  return {
    iterations,
    salt: salt.toString('base64'),
    storedKey: sha256(hmac(salted, 'Client Key')).toString('base64'),
    serverKey: hmac(salted, 'Server Key').toString('base64'),
  };
}

/**
 * What an unknown user is offered: a salt that stays the same for the same name (a fresh one each
 * time would tell unknown users from real ones) and cannot be predicted without the server's
 * secret, with a real user's length and iteration count. No PBKDF2: the keys are random, so the
 * proof fails anyway, and attempts for made-up names cost the server nothing.
 */
export function unknownUserCredentials(serverSecret: Buffer, db: string, user: string): ScramCredentials {
  return {
    iterations: SCRAM_ITERATIONS,
    salt: createHmac('sha256', serverSecret).update(`${db}.${user}`).digest().subarray(0, SALT_BYTES).toString('base64'),
    storedKey: randomBytes(32).toString('base64'),
    serverKey: randomBytes(32).toString('base64'),
  };
}

/** `a=b,c=d` attribute lists of SCRAM messages. */
function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) map.set(part[0]!, part.slice(2));
  }
  return map;
}

function protocolError(message: string): ArgonError {
  return new ArgonError('ProtocolError', `SCRAM-SHA-256: ${message}`);
}

/** `=2C` and `=3D` are how SCRAM escapes `,` and `=` in user names. */
function unescapeName(name: string): string {
  if (/=(?!2C|3D)/.test(name)) throw protocolError('invalid escape in the user name');
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** The outcome of the first message: the user it names and the server's reply. */
export interface ScramStep {
  reply: string;
  done: boolean;
}

/**
 * One authentication conversation. `lookup` returns null for an unknown user: the conversation
 * then runs on `unknown`'s made-up credentials and fails at the proof, so replies do not reveal
 * which user names exist.
 */
export class ScramConversation {
  readonly user: string;
  private readonly gs2Header: string;
  private readonly clientFirstBare: string;
  private readonly serverFirst: string;
  private readonly nonce: string;
  private readonly credentials: ScramCredentials;
  private readonly known: boolean;
  private serverSignature: string | null = null;

  constructor(clientFirst: string, lookup: (user: string) => ScramCredentials | null, unknown: (user: string) => ScramCredentials) {
    const comma = clientFirst.indexOf(',', clientFirst.indexOf(',') + 1);
    if (!/^[ny],[^,]*,/.test(clientFirst) || comma < 0) throw protocolError('malformed client-first message');
    this.gs2Header = clientFirst.slice(0, comma + 1);
    if (this.gs2Header.slice(2, -1) !== '') throw protocolError('authorization identities are not supported');
    this.clientFirstBare = clientFirst.slice(comma + 1);
    const attrs = attributes(this.clientFirstBare);
    const name = attrs.get('n');
    const clientNonce = attrs.get('r');
    if (!name || !clientNonce) throw protocolError('the client-first message lacks n= or r=');
    this.user = unescapeName(name);
    const found = lookup(this.user);
    this.known = found !== null;
    this.credentials = found ?? unknown(this.user);
    this.nonce = clientNonce + randomBytes(24).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.credentials.salt},i=${this.credentials.iterations}`;
  }

  first(): ScramStep {
    return { reply: this.serverFirst, done: false };
  }

  /** Checks the client's proof; returns the server signature the client verifies in turn. */
  final(clientFinal: string): ScramStep {
    if (this.serverSignature !== null) return { reply: '', done: true };
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw protocolError('the client-final message lacks a proof');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs.get('r') !== this.nonce) throw protocolError('the nonce does not match');
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64')) throw protocolError('channel binding does not match');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(this.credentials.storedKey, 'base64');
    const signature = hmac(storedKey, authMessage);
    if (proof.length !== signature.length) throw authenticationFailed();
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(sha256(clientKey), storedKey) || !this.known) throw authenticationFailed();
    this.serverSignature = hmac(Buffer.from(this.credentials.serverKey, 'base64'), authMessage).toString('base64');
    return { reply: `v=${this.serverSignature}`, done: false };
  }

  get authenticated(): boolean {
    return this.serverSignature !== null;
  }
}

/** mongod's message: it never says whether the user or the password was wrong. */
export function authenticationFailed(): ArgonError {
  return new ArgonError('AuthenticationFailed', 'Authentication failed.');
}
