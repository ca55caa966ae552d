import type { CommandHandler } from './context.js';
import { hello } from './hello.js';
import * as diag from './diagnostics.js';
import * as ns from './namespaces.js';
import * as crud from './crud.js';
import * as ix from './indexes.js';
import * as cur from './cursor-commands.js';
import * as argon from './argon.js';
import { explain } from './explain.js';
import { aggregate } from './aggregate.js';

export interface CommandSpec {
  handler: CommandHandler;
  /** False only for the handshake and the few commands MongoDB allows before authentication. */
  requiresAuth: boolean;
  /** Runs only against the `admin` database. */
  adminOnly?: boolean;
  /** Writes data: refused on read-only endpoints. */
  writes?: boolean;
  help: string;
}

/**
 * Every command the server knows, sorted by name: this table is the table of contents of the
 * command layer, and `listCommands` serves it.
 */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  aggregate: { handler: aggregate, requiresAuth: true, writes: false, help: 'run an aggregation pipeline' },
  argonBranchCreate: { handler: argon.argonBranchCreate, requiresAuth: true, adminOnly: true, help: 'create a branch (from a branch, at a past time or LSN)' },
  argonBranchDelete: { handler: argon.argonBranchDelete, requiresAuth: true, adminOnly: true, help: 'delete a branch' },
  argonBranchList: { handler: argon.argonBranchList, requiresAuth: true, adminOnly: true, help: 'list branches' },
  argonBranchProtect: { handler: argon.argonBranchProtect, requiresAuth: true, adminOnly: true, help: 'protect a branch (changes only by merge) or lift it' },
  argonBranchRename: { handler: argon.argonBranchRename, requiresAuth: true, adminOnly: true, help: 'rename a branch' },
  argonBranchReset: { handler: argon.argonBranchReset, requiresAuth: true, adminOnly: true, help: "reset a branch to its parent's head or a past point, keeping a backup" },
  argonBranchResume: { handler: argon.argonBranchResume, requiresAuth: true, adminOnly: true, help: "resume a suspended branch endpoint" },
  argonBranchSuspend: { handler: argon.argonBranchSuspend, requiresAuth: true, adminOnly: true, help: "suspend a branch endpoint (its next client resumes it)" },
  argonCommit: { handler: argon.argonCommit, requiresAuth: true, adminOnly: true, help: "name a branch's current state with a message" },
  argonDiff: { handler: argon.argonDiff, requiresAuth: true, adminOnly: true, help: 'documents and fields that differ between two branches' },
  argonEndpoint: { handler: argon.argonEndpoint, requiresAuth: true, adminOnly: true, help: "start a branch's endpoint and return its port" },
  argonEndpoints: { handler: argon.argonEndpoints, requiresAuth: true, adminOnly: true, help: 'running endpoints and their state' },
  argonLog: { handler: argon.argonLog, requiresAuth: true, adminOnly: true, help: "a branch's change log, newest first" },
  argonMerge: { handler: argon.argonMerge, requiresAuth: true, adminOnly: true, help: 'three-way merge of a branch into another (fail, ours, theirs; dry run)' },
  argonRevert: { handler: argon.argonRevert, requiresAuth: true, adminOnly: true, help: 'undo an LSN range of a branch as a new change' },
  argonTagCreate: { handler: argon.argonTagCreate, requiresAuth: true, adminOnly: true, help: 'name a point of a branch (default: main at head)' },
  argonTagDelete: { handler: argon.argonTagDelete, requiresAuth: true, adminOnly: true, help: 'delete a tag' },
  argonTagList: { handler: argon.argonTagList, requiresAuth: true, adminOnly: true, help: 'list tags' },
  buildInfo: { handler: diag.buildInfo, requiresAuth: false, help: 'server version and build details' },
  buildinfo: { handler: diag.buildInfo, requiresAuth: false, help: 'alias of buildInfo' },
  collStats: { handler: ns.collStats, requiresAuth: true, help: 'statistics of one collection' },
  connectionStatus: { handler: diag.connectionStatus, requiresAuth: false, help: 'who this connection is authenticated as' },
  count: { handler: crud.count, requiresAuth: true, help: 'count documents matching a query' },
  create: { handler: ns.create, requiresAuth: true, writes: true, help: 'create a collection' },
  createIndexes: { handler: ix.createIndexes, requiresAuth: true, writes: true, help: 'create indexes on a collection' },
  dbStats: { handler: ns.dbStats, requiresAuth: true, help: 'statistics of one database' },
  delete: { handler: crud.del, requiresAuth: true, writes: true, help: 'delete documents' },
  distinct: { handler: crud.distinct, requiresAuth: true, help: 'distinct values of a field' },
  drop: { handler: ns.drop, requiresAuth: true, writes: true, help: 'drop a collection' },
  dropDatabase: { handler: ns.dropDatabase, requiresAuth: true, writes: true, help: 'drop a database' },
  dropIndexes: { handler: ix.dropIndexes, requiresAuth: true, writes: true, help: 'drop indexes of a collection' },
  endSessions: { handler: diag.endSessions, requiresAuth: false, help: 'end logical sessions' },
  explain: { handler: explain, requiresAuth: true, help: 'how a command would run: the chosen plan' },
  find: { handler: crud.find, requiresAuth: true, help: 'query documents' },
  findAndModify: { handler: crud.findAndModify, requiresAuth: true, writes: true, help: 'update or remove one document and return it' },
  getCmdLineOpts: { handler: diag.getCmdLineOpts, requiresAuth: true, adminOnly: true, help: 'the options the server was started with' },
  getLog: { handler: diag.getLog, requiresAuth: true, adminOnly: true, help: 'recent log lines' },
  getMore: { handler: cur.getMore, requiresAuth: true, help: 'next batch of a cursor' },
  getParameter: { handler: diag.getParameter, requiresAuth: true, adminOnly: true, help: 'server parameters' },
  hello: { handler: (cmd, ctx) => hello(cmd, ctx), requiresAuth: false, help: 'handshake: server role and limits' },
  hostInfo: { handler: diag.hostInfo, requiresAuth: true, help: 'the host the server runs on' },
  insert: { handler: crud.insert, requiresAuth: true, writes: true, help: 'insert documents' },
  isMaster: { handler: (cmd, ctx) => hello(cmd, ctx, true), requiresAuth: false, help: 'legacy handshake' },
  ismaster: { handler: (cmd, ctx) => hello(cmd, ctx, true), requiresAuth: false, help: 'legacy handshake' },
  killCursors: { handler: cur.killCursors, requiresAuth: true, help: 'close cursors' },
  listCollections: { handler: ns.listCollections, requiresAuth: true, help: 'collections of a database' },
  listCommands: { handler: diag.listCommands, requiresAuth: false, help: 'this list' },
  listDatabases: { handler: ns.listDatabases, requiresAuth: true, adminOnly: true, help: 'databases of the branch' },
  listIndexes: { handler: ix.listIndexes, requiresAuth: true, help: 'indexes of a collection' },
  ping: { handler: diag.ping, requiresAuth: false, help: 'check the server answers' },
  renameCollection: { handler: ns.renameCollection, requiresAuth: true, adminOnly: true, writes: true, help: 'rename a collection' },
  serverStatus: { handler: diag.serverStatus, requiresAuth: true, help: 'server counters' },
  update: { handler: crud.update, requiresAuth: true, writes: true, help: 'update documents' },
  whatsmyuri: { handler: diag.whatsmyuri, requiresAuth: false, help: 'the client address as the server sees it' },
};

/** Command names are matched case-sensitively, as mongod does, except the aliases listed above. */
export function lookupCommand(name: string): CommandSpec | undefined {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
}
