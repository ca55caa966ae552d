import os from 'node:os';
import type { Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { CommandContext } from './context.js';
import { MAX_BSON_OBJECT_SIZE } from './hello.js';

/** The MongoDB version whose behaviour Argon matches (see docs/compatibility.md). */
export const COMPATIBLE_VERSION = '7.0.0';

export function ping(): Document {
  return { ok: 1 };
}

export function buildInfo(_cmd: Document, ctx: CommandContext): Document {
  return {
    version: COMPATIBLE_VERSION,
    gitVersion: 'argon',
    argonVersion: ctx.server.version,
    versionArray: [7, 0, 0, 0],
    javascriptEngine: 'none',
    sysInfo: 'deprecated',
    allocator: 'system',
    storageEngines: ['argon'],
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    modules: [],
    openssl: { running: 'disabled' },
    buildEnvironment: { target_os: process.platform, target_arch: process.arch },
    ok: 1,
  };
}

export function hostInfo(): Document {
  return {
    system: {
      currentTime: new Date(),
      hostname: os.hostname(),
      cpuAddrSize: 64,
      memSizeMB: Math.round(os.totalmem() / 1024 / 1024),
      numCores: os.cpus().length,
      cpuArch: process.arch,
    },
    os: { type: os.type(), name: os.platform(), version: os.release() },
    extra: { nodeVersion: process.version },
    ok: 1,
  };
}

export function serverStatus(_cmd: Document, ctx: CommandContext): Document {
  const mem = process.memoryUsage();
  const uptimeMs = Date.now() - ctx.server.startedAt.getTime();
  return {
    host: ctx.server.host,
    version: COMPATIBLE_VERSION,
    process: 'argon',
    pid: process.pid,
    uptime: Math.floor(uptimeMs / 1000),
    uptimeMillis: uptimeMs,
    localTime: new Date(),
    connections: { current: ctx.server.connections(), available: 1_000_000 },
    mem: { bits: 64, resident: Math.round(mem.rss / 1024 / 1024), virtual: Math.round(mem.rss / 1024 / 1024) },
    metrics: { cursor: { open: { total: ctx.cursors.size } } },
    storageEngine: { name: 'argon', supportsCommittedReads: true, persistent: true },
    argon: { branch: ctx.branch, headLsn: ctx.store.headLsn },
    ok: 1,
  };
}

export function getParameter(cmd: Document): Document {
  const known: Document = {
    featureCompatibilityVersion: { version: '7.0' },
    authenticationMechanisms: ['SCRAM-SHA-256'],
    logLevel: 0,
    maxBSONDepth: 100,
  };
  if (cmd.getParameter === '*' || (typeof cmd.getParameter === 'object' && cmd.getParameter !== null && (cmd.getParameter as Document).allParameters)) {
    return { ...known, ok: 1 };
  }
  const asked = Object.keys(cmd).filter((k) => k !== 'getParameter' && !k.startsWith('$') && k !== 'lsid');
  const out: Document = {};
  for (const name of asked) if (name in known) out[name] = known[name];
  if (asked.length > 0 && Object.keys(out).length === 0) throw new ArgonError('InvalidOptions', 'no option found to get');
  return { ...out, ok: 1 };
}

export function getCmdLineOpts(): Document {
  return { argv: process.argv.slice(1), parsed: {}, ok: 1 };
}

export function getLog(cmd: Document): Document {
  if (cmd.getLog === '*') return { names: ['global', 'startupWarnings'], ok: 1 };
  if (cmd.getLog !== 'global' && cmd.getLog !== 'startupWarnings') {
    throw new ArgonError('BadValue', `No log named '${String(cmd.getLog)}'`);
  }
  return { totalLinesWritten: 0, log: [], ok: 1 };
}

export function connectionStatus(_cmd: Document, ctx: CommandContext): Document {
  const p = ctx.caller.principal;
  return { authInfo: { authenticatedUsers: p ? [{ user: p.user, db: p.db }] : [], authenticatedUserRoles: p ? p.roles : [] }, ok: 1 };
}

export function whatsmyuri(_cmd: Document, ctx: CommandContext): Document {
  return { you: ctx.connection.remoteAddress, ok: 1 };
}

export function endSessions(): Document {
  return { ok: 1 };
}

export async function listCommands(): Promise<Document> {
  // Imported lazily: the registry imports this module.
  const { COMMANDS } = await import('./registry.js');
  const commands: Document = {};
  for (const [name, spec] of Object.entries(COMMANDS)) {
    commands[name] = { help: spec.help, requiresAuth: spec.role !== 'none', minimumRole: spec.role, adminOnly: !!spec.adminOnly, secondaryOk: true };
  }
  return { commands, ok: 1 };
}
