import type { Role } from '../auth/roles.js';
import type { CommandHandler } from './context.js';
import { hello } from './hello.js';
import * as diag from './diagnostics.js';
import * as ns from './namespaces.js';
import * as crud from './crud.js';
import * as ix from './indexes.js';
import * as cur from './cursor-commands.js';
import * as argon from './argon.js';
import * as history from './history.js';
import * as merges from './merges.js';
import { explain } from './explain.js';
import { aggregate } from './aggregate.js';
import * as sasl from './sasl.js';
import * as users from './users.js';
import * as security from './security.js';

export interface CommandSpec {
  handler: CommandHandler;
  /**
   * The least role that may run it; 'none' only for the handshake and the few commands MongoDB
   * allows before authentication.
   */
  role: Role | 'none';
  /** A version-control or security operation: recorded in the audit log with its outcome. */
  audit?: boolean;
  /** Runs only against the `admin` database. */
  adminOnly?: boolean;
  /** On a protected branch (named by the command's value) it needs the admin role. */
  adminOnProtected?: boolean;
  /** Writes data: refused on read-only endpoints. */
  writes?: boolean;
  help: string;
}

/**
 * Every command the server knows, sorted by name: this table is the table of contents of the
 * command layer, and `listCommands` serves it.
 */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  aggregate: { handler: aggregate, role: 'viewer', writes: false, help: 'run an aggregation pipeline' },
  argonApiKeyCreate: { handler: security.argonApiKeyCreate, role: 'viewer', audit: true, adminOnly: true, help: 'create an API key for the HTTP interface (shown once)' },
  argonApiKeyList: { handler: security.argonApiKeyList, role: 'viewer', adminOnly: true, help: "the caller's API keys (an admin's: everyone's)" },
  argonApiKeyRevoke: { handler: security.argonApiKeyRevoke, role: 'viewer', audit: true, adminOnly: true, help: 'revoke an API key' },
  argonAudit: { handler: security.argonAudit, role: 'admin', adminOnly: true, help: 'the audit log of version-control and security operations' },
  argonBranchCreate: { handler: argon.argonBranchCreate, role: 'developer', audit: true, adminOnly: true, help: 'create a branch (from a branch, at a past time or LSN)' },
  argonBranchDelete: { handler: argon.argonBranchDelete, role: 'developer', audit: true, adminOnProtected: true, adminOnly: true, help: 'delete a branch' },
  argonBranchList: { handler: argon.argonBranchList, role: 'viewer', audit: true, adminOnly: true, help: 'list branches' },
  argonBranchProtect: { handler: argon.argonBranchProtect, role: 'admin', audit: true, adminOnly: true, help: 'protect a branch (changes only by merge) or lift it' },
  argonBranchRename: { handler: argon.argonBranchRename, role: 'developer', audit: true, adminOnProtected: true, adminOnly: true, help: 'rename a branch' },
  argonBranchReset: { handler: argon.argonBranchReset, role: 'developer', audit: true, adminOnProtected: true, adminOnly: true, help: "reset a branch to its parent's head or a past point, keeping a backup" },
  argonBranchResume: { handler: argon.argonBranchResume, role: 'developer', audit: true, adminOnly: true, help: "resume a suspended branch endpoint" },
  argonBranchSuspend: { handler: argon.argonBranchSuspend, role: 'developer', audit: true, adminOnly: true, help: "suspend a branch endpoint (its next client resumes it)" },
  argonCommit: { handler: argon.argonCommit, role: 'developer', audit: true, adminOnly: true, help: "name a branch's current state with a message" },
  argonConflictsList: { handler: merges.argonConflictsList, role: 'viewer', audit: true, adminOnly: true, help: 'the pending manual merge into a branch and its conflicts' },
  argonConflictsResolve: { handler: merges.argonConflictsResolve, role: 'developer', audit: true, adminOnly: true, help: 'resolve a conflict of a pending manual merge (the last one completes it)' },
  argonDiff: { handler: argon.argonDiff, role: 'viewer', audit: true, adminOnly: true, help: 'documents and fields that differ between two branches' },
  argonEndpoint: { handler: argon.argonEndpoint, role: 'viewer', audit: true, adminOnly: true, help: "start a branch's endpoint and return its port" },
  argonEndpoints: { handler: argon.argonEndpoints, role: 'viewer', audit: true, adminOnly: true, help: 'running endpoints and their state' },
  argonGateDelete: { handler: merges.argonGateDelete, role: 'admin', audit: true, adminOnly: true, help: 'remove a merge gate of a branch' },
  argonGateList: { handler: merges.argonGateList, role: 'viewer', audit: true, adminOnly: true, help: 'the merge gates of a branch' },
  argonGateSet: { handler: merges.argonGateSet, role: 'admin', audit: true, adminOnly: true, help: 'add or replace a merge gate (jsonSchema, pipeline, webhook) of a branch' },
  argonHistory: { handler: history.argonHistory, role: 'viewer', audit: true, adminOnly: true, help: 'every version of one document: LSN, time, author, operation, content' },
  argonLog: { handler: history.argonLog, role: 'viewer', audit: true, adminOnly: true, help: "a branch's change log, newest first" },
  argonMerge: { handler: argon.argonMerge, role: 'developer', audit: true, adminOnly: true, help: 'three-way merge of a branch into another (fail, ours, theirs, manual; dry run)' },
  argonMergeAbort: { handler: merges.argonMergeAbort, role: 'developer', audit: true, adminOnly: true, help: 'abort the pending manual merge into a branch' },
  argonMergeList: { handler: merges.argonMergeList, role: 'viewer', audit: true, adminOnly: true, help: 'merges into a branch, newest first, with their gate reports' },
  argonRevert: { handler: argon.argonRevert, role: 'developer', audit: true, adminOnly: true, help: 'undo an LSN range of a branch as a new change' },
  argonTagCreate: { handler: argon.argonTagCreate, role: 'developer', audit: true, adminOnly: true, help: 'name a point of a branch (default: main at head)' },
  argonTagDelete: { handler: argon.argonTagDelete, role: 'developer', audit: true, adminOnly: true, help: 'delete a tag' },
  argonTagList: { handler: argon.argonTagList, role: 'viewer', audit: true, adminOnly: true, help: 'list tags' },
  buildInfo: { handler: diag.buildInfo, role: 'none', help: 'server version and build details' },
  buildinfo: { handler: diag.buildInfo, role: 'none', help: 'alias of buildInfo' },
  collMod: { handler: ns.collMod, role: 'developer', writes: true, help: "change a collection's validator, validationLevel or validationAction" },
  collStats: { handler: ns.collStats, role: 'viewer', help: 'statistics of one collection' },
  connectionStatus: { handler: diag.connectionStatus, role: 'none', help: 'who this connection is authenticated as' },
  count: { handler: crud.count, role: 'viewer', help: 'count documents matching a query' },
  create: { handler: ns.create, role: 'developer', writes: true, help: 'create a collection' },
  createIndexes: { handler: ix.createIndexes, role: 'developer', writes: true, help: 'create indexes on a collection' },
  createUser: { handler: users.createUser, role: 'admin', audit: true, help: 'create a user (SCRAM-SHA-256)' },
  dbStats: { handler: ns.dbStats, role: 'viewer', help: 'statistics of one database' },
  delete: { handler: crud.del, role: 'developer', writes: true, help: 'delete documents' },
  distinct: { handler: crud.distinct, role: 'viewer', help: 'distinct values of a field' },
  drop: { handler: ns.drop, role: 'developer', writes: true, help: 'drop a collection' },
  dropDatabase: { handler: ns.dropDatabase, role: 'developer', writes: true, help: 'drop a database' },
  dropIndexes: { handler: ix.dropIndexes, role: 'developer', writes: true, help: 'drop indexes of a collection' },
  dropUser: { handler: users.dropUser, role: 'admin', audit: true, help: 'remove a user' },
  endSessions: { handler: diag.endSessions, role: 'none', help: 'end logical sessions' },
  explain: { handler: explain, role: 'viewer', help: 'how a command would run: the chosen plan' },
  find: { handler: crud.find, role: 'viewer', help: 'query documents' },
  findAndModify: { handler: crud.findAndModify, role: 'developer', writes: true, help: 'update or remove one document and return it' },
  getCmdLineOpts: { handler: diag.getCmdLineOpts, role: 'admin', adminOnly: true, help: 'the options the server was started with' },
  getLog: { handler: diag.getLog, role: 'admin', adminOnly: true, help: 'recent log lines' },
  getMore: { handler: cur.getMore, role: 'viewer', help: 'next batch of a cursor' },
  getParameter: { handler: diag.getParameter, role: 'admin', adminOnly: true, help: 'server parameters' },
  grantRolesToUser: { handler: users.grantRolesToUser, role: 'admin', audit: true, help: 'grant roles to a user' },
  hello: { handler: (cmd, ctx) => hello(cmd, ctx), role: 'none', help: 'handshake: server role and limits' },
  hostInfo: { handler: diag.hostInfo, role: 'viewer', help: 'the host the server runs on' },
  insert: { handler: crud.insert, role: 'developer', writes: true, help: 'insert documents' },
  isMaster: { handler: (cmd, ctx) => hello(cmd, ctx, true), role: 'none', help: 'legacy handshake' },
  ismaster: { handler: (cmd, ctx) => hello(cmd, ctx, true), role: 'none', help: 'legacy handshake' },
  killCursors: { handler: cur.killCursors, role: 'viewer', help: 'close cursors' },
  listCollections: { handler: ns.listCollections, role: 'viewer', help: 'collections of a database' },
  listCommands: { handler: diag.listCommands, role: 'none', help: 'this list' },
  listDatabases: { handler: ns.listDatabases, role: 'viewer', adminOnly: true, help: 'databases of the branch' },
  listIndexes: { handler: ix.listIndexes, role: 'viewer', help: 'indexes of a collection' },
  ping: { handler: diag.ping, role: 'none', help: 'check the server answers' },
  renameCollection: { handler: ns.renameCollection, role: 'developer', adminOnly: true, writes: true, help: 'rename a collection' },
  revokeRolesFromUser: { handler: users.revokeRolesFromUser, role: 'admin', audit: true, help: 'revoke roles from a user' },
  saslContinue: { handler: sasl.saslContinue, role: 'none', help: 'next step of a SASL authentication' },
  saslStart: { handler: sasl.saslStart, role: 'none', help: 'start a SASL (SCRAM-SHA-256) authentication' },
  serverStatus: { handler: diag.serverStatus, role: 'viewer', help: 'server counters' },
  update: { handler: crud.update, role: 'developer', writes: true, help: 'update documents' },
  updateUser: { handler: users.updateUser, role: 'admin', audit: true, help: "change a user's password, roles or custom data" },
  usersInfo: { handler: users.usersInfo, role: 'viewer', help: 'users and their roles (others than oneself: admin)' },
  whatsmyuri: { handler: diag.whatsmyuri, role: 'none', help: 'the client address as the server sees it' },
};

/** Command names are matched case-sensitively, as mongod does, except the aliases listed above. */
export function lookupCommand(name: string): CommandSpec | undefined {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
}
