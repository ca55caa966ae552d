import { Binary, type Document } from 'bson';
import { authenticationFailed, ScramConversation } from '../auth/scram.js';
import { ArgonError } from '../errors.js';
import type { CommandContext } from './context.js';
import { stringArg } from './values.js';

/** SCRAM-SHA-256 over `saslStart`/`saslContinue`, as drivers run it against mongod. */

const MECHANISM = 'SCRAM-SHA-256';
let nextConversationId = 1;

function payloadText(cmd: Document): string {
  const payload = cmd.payload;
  if (payload instanceof Binary) return Buffer.from(payload.buffer).toString('utf8');
  if (typeof payload === 'string') return Buffer.from(payload, 'base64').toString('utf8');
  throw new ArgonError('BadValue', "'payload' must be binary data");
}

const binary = (text: string) => new Binary(Buffer.from(text, 'utf8'));

/** `{saslStart: 1, mechanism, payload}` on the user's database (the URI's authSource). */
export function saslStart(cmd: Document, ctx: CommandContext): Document {
  if (!ctx.server.auth.enabled) throw new ArgonError('AuthenticationFailed', 'Authentication is not enabled on this server');
  const mechanism = stringArg(cmd, 'mechanism');
  if (mechanism !== MECHANISM) {
    throw new ArgonError('MechanismUnavailable', `Received authentication for mechanism ${mechanism} which is not enabled`);
  }
  const auth = ctx.server.auth;
  const conversation = new ScramConversation(
    payloadText(cmd),
    (user) => auth.users.get(ctx.db, user)?.scram ?? null,
    (user) => auth.unknownUserScram(ctx.db, user),
  );
  const conversationId = nextConversationId++;
  ctx.caller.conversations.clear();
  ctx.caller.conversations.set(conversationId, { conversation, db: ctx.db, skipEmptyExchange: cmd.options?.skipEmptyExchange === true });
  return { conversationId, done: false, payload: binary(conversation.first().reply), ok: 1 };
}

export function saslContinue(cmd: Document, ctx: CommandContext): Document {
  const conversationId = Number(cmd.conversationId);
  const session = ctx.caller.conversations.get(conversationId);
  if (!session) throw new ArgonError('ProtocolError', 'No SASL session state found');
  const { conversation } = session;
  if (conversation.authenticated) {
    ctx.caller.conversations.delete(conversationId);
    return { conversationId, done: true, payload: binary(''), ok: 1 };
  }
  let reply: string;
  try {
    reply = conversation.final(payloadText(cmd)).reply;
  } catch (err) {
    ctx.caller.conversations.delete(conversationId);
    throw err;
  }
  const user = ctx.server.auth.users.get(session.db, conversation.user);
  if (!user) throw authenticationFailed();
  ctx.caller.principal = { user: user.user, db: user.db, roles: user.roles };
  const done = session.skipEmptyExchange;
  if (done) ctx.caller.conversations.delete(conversationId);
  return { conversationId, done, payload: binary(reply), ok: 1 };
}

/**
 * hello's `speculativeAuthenticate`: the first SCRAM step rides on the handshake, saving a round
 * trip. A failure leaves the field out and the driver authenticates the ordinary way.
 */
export function speculativeAuthenticate(cmd: Document, ctx: CommandContext): Document | undefined {
  const spec = cmd.speculativeAuthenticate as Document | undefined;
  if (!spec || spec.saslStart === undefined || typeof spec.db !== 'string') return undefined;
  try {
    return saslStart(spec, { ...ctx, db: spec.db });
  } catch {
    return undefined;
  }
}

export function saslSupportedMechs(cmd: Document, ctx: CommandContext): Document {
  // Listed for any user name, known or not, so the handshake does not reveal which exist.
  return ctx.server.auth.enabled && typeof cmd.saslSupportedMechs === 'string' ? { saslSupportedMechs: [MECHANISM] } : {};
}
