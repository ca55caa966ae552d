import type { Document } from 'bson';
import type { CommandContext } from './context.js';
import { saslSupportedMechs, speculativeAuthenticate } from './sasl.js';

/** Wire versions of MongoDB 7.0: drivers refuse servers outside the range they support. */
export const MIN_WIRE_VERSION = 0;
export const MAX_WIRE_VERSION = 21;
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
export const MAX_MESSAGE_SIZE_BYTES = 48_000_000;
export const MAX_WRITE_BATCH_SIZE = 100_000;
export const SESSION_TIMEOUT_MINUTES = 30;

// No topologyVersion: with one, drivers switch to streaming (exhaust) hello monitoring, which
// needs moreToCome replies that Argon does not send; without it they poll, as with older servers.

/** `hello` and the legacy `isMaster`: a standalone, writable server. */
export function hello(cmd: Document, ctx: CommandContext, legacy = false): Document {
  if (cmd.client) ctx.connection.clientMetadata = cmd.client as Document;
  const speculative = speculativeAuthenticate(cmd, ctx);
  return {
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    helloOk: true,
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE_BYTES,
    maxWriteBatchSize: MAX_WRITE_BATCH_SIZE,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: SESSION_TIMEOUT_MINUTES,
    connectionId: ctx.connection.id,
    minWireVersion: MIN_WIRE_VERSION,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ...(Array.isArray(cmd.compression) && cmd.compression.includes('zlib') ? { compression: ['zlib'] } : {}),
    ...saslSupportedMechs(cmd, ctx),
    ...(speculative ? { speculativeAuthenticate: speculative } : {}),
    argon: { branch: ctx.branch },
    ok: 1,
  };
}
