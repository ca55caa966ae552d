import type { Document } from 'bson';
import type { CommandContext } from './context.js';
import { stringArg } from './values.js';

/** `{argonEndpoint: 'dev'}`: starts (if needed) the endpoint of a branch and returns its address. */
export async function argonEndpoint(cmd: Document, ctx: CommandContext): Promise<Document> {
  const branch = stringArg(cmd, 'argonEndpoint');
  const port = await ctx.server.endpointFor(branch);
  return { branch, port, ok: 1 };
}
