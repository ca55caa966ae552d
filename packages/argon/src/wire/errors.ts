/**
 * Errors raised while parsing or producing wire-protocol messages.
 *
 * `ArgonError` (../errors.ts) only knows the codes the storage layer needs, so
 * the protocol-level codes live here. Numbers and names are MongoDB's own
 * (src/mongo/base/error_codes.yml) so drivers react to them as they would to a
 * real server; where errors.ts already defines a code we take it from there so
 * the two tables can never disagree.
 */
import { ErrorCodes } from '../errors.js';

export const WireErrorCodes = {
  BadValue: ErrorCodes.BadValue,
  ProtocolError: 17,
  InvalidBSON: 22,
  ZLibError: 147,
  IllegalOpMsgFlag: 223,
  ChecksumMismatch: 288,
  UnsupportedOpQueryCommand: 352,
  BSONObjectTooLarge: ErrorCodes.BSONObjectTooLarge,
} as const;

export type WireErrorCodeName = keyof typeof WireErrorCodes;

export class WireError extends Error {
  readonly code: number;
  readonly codeName: WireErrorCodeName;
  /**
   * True when the byte stream can no longer be trusted (e.g. a bogus message
   * length: we do not know where the next message starts), so the only safe
   * reaction is to close the connection. A non-fatal error concerns a single,
   * correctly framed message: the server can answer it with an error reply
   * and keep reading.
   */
  readonly fatal: boolean;

  constructor(codeName: WireErrorCodeName, message: string, fatal = false) {
    super(message);
    this.name = 'WireError';
    this.codeName = codeName;
    this.code = WireErrorCodes[codeName];
    this.fatal = fatal;
  }
}
