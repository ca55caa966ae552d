import type { Document } from 'bson';
import type { AuthService, Caller } from '../auth/service.js';
import type { Store } from '../storage/store.js';
import type { ReadPoint } from '../storage/types.js';
import type { CursorManager } from './cursors.js';

/** What a command handler can see: the store, the branch its endpoint serves, and the connection. */
export interface CommandContext {
  store: Store;
  /** The branch this endpoint writes (time-travel endpoints are read-only). */
  branch: string;
  /** Where this endpoint reads: the branch's head, or a pinned past point. */
  point: ReadPoint | string;
  /** The database named by `$db`. */
  db: string;
  cursors: CursorManager;
  connection: ConnectionInfo;
  /** Who is calling (null principal until authenticated) and through which interface. */
  caller: Caller;
  server: ServerInfo;
}

export interface ConnectionInfo {
  id: number;
  remoteAddress: string;
  localPort: number;
  clientMetadata?: Document;
}

export interface ServerInfo {
  startedAt: Date;
  host: string;
  version: string;
  auth: AuthService;
  /** Starts (if needed) the endpoint of a branch and returns its port. */
  endpointFor(branch: string): Promise<number>;
  /** Suspends or resumes a running endpoint. */
  setSuspended(ref: string, suspended: boolean): Document;
  endpoints(): Document[];
  /** Closes the endpoints serving a branch (and its time-travel points): the branch is gone or renamed. */
  closeEndpoints(branch: string): Promise<void>;
  connections(): number;
}

/** A reply already serialized to BSON (cursor batches spliced from stored bytes). */
export interface RawReply {
  raw: Buffer;
}

export type CommandResult = Document | RawReply;

export type CommandHandler = (cmd: Document, ctx: CommandContext) => CommandResult | Promise<CommandResult>;

export function isRawReply(r: CommandResult): r is RawReply {
  return (r as RawReply).raw instanceof Buffer;
}
