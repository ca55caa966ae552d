import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverLogger as commonServerLogger } from '@argon/common/logger';
import type { Logger } from 'pino';
import { CREDENTIALS_FILE } from '../auth/credentials-file.js';
import { shellQuote } from './format.js';
import { DEFAULT_SERVER } from './server-client.js';

/** `argon serve` logs as every server of the platform does (see @argon/common/logger). */
export { logTransport } from '@argon/common/logger';

export const serverLogger = (): Logger => commonServerLogger('argon');

export interface ReadyInfo {
  /** The main endpoint's connection string, without credentials. */
  uri: string;
  auth: boolean;
  /** --data as given, and resolved. */
  data: string;
  dataDir: string;
  /** The file the server wrote its first admin to on this start (ArgonServer.credentialsFile). */
  credentialsFile: string | null;
}

/**
 * The "ready" line: how to connect. With authentication on, the bare URI fails ("requires
 * authentication"), so the line says who the admin is, where the generated credentials are and
 * which command prints a URI that signs in. It never carries a password or an API key: logs are
 * copied, shipped and kept far longer than a terminal's scrollback.
 */
export function readyMessage(info: ReadyInfo): { fields: Record<string, unknown>; msg: string } {
  const fields: Record<string, unknown> = { data: info.dataDir, uri: info.uri, auth: info.auth };
  if (!info.auth) return { fields, msg: `Argon is ready (no authentication): npx mongosh "${info.uri}"` };
  // The CLI finds this server and its credentials file by the same defaults; say so when they differ.
  const args = [...(info.data === '.argon' ? [] : ['--data', shellQuote(info.data)]), ...(info.uri === DEFAULT_SERVER ? [] : ['--server', shellQuote(info.uri)])];
  const connect = ['npx argon', ...args, 'connect main'].join(' ');
  // Written on this start, or still there from the first one: the CLI reads it either way.
  const saved = join(info.dataDir, CREDENTIALS_FILE);
  const file = info.credentialsFile ?? (existsSync(saved) ? saved : null);
  const admin = adminUser(file);
  Object.assign(fields, { admin, credentialsFile: file ?? undefined, connect });
  const who = file
    ? `sign in as ${admin ? `'${admin}'` : 'its first admin'} (password and API key in ${file})`
    : `sign in as a user of the server${admin ? `, e.g. '${admin}'` : ''} (the CLI reads ARGON_USER and ARGON_PASSWORD)`;
  return { fields, msg: `Argon is ready on ${info.uri} with authentication: ${who}; \`${connect}\` prints a URI that signs in: npx mongosh "$(${connect})"` };
}

/** Who the first admin is: from its credentials file (its user name only), or the name ARGON_ADMIN_USER gave it. */
function adminUser(file: string | null): string | undefined {
  if (file) {
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { user?: string }).user;
    } catch {
      return undefined;
    }
  }
  return process.env.ARGON_ADMIN_PASSWORD ? process.env.ARGON_ADMIN_USER || 'admin' : undefined;
}
