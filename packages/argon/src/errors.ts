/**
 * Errors carry MongoDB's numeric codes and code names so that the wire layer
 * can hand them to drivers unchanged.
 */
export const ErrorCodes = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  UserNotFound: 11,
  Unauthorized: 13,
  TypeMismatch: 14,
  InvalidLength: 16,
  ProtocolError: 17,
  AuthenticationFailed: 18,
  IllegalOperation: 20,
  InvalidBSON: 22,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  PathNotViable: 28,
  RoleNotFound: 31,
  ConflictingUpdateOperators: 40,
  CursorNotFound: 43,
  NoMatchingDocument: 47,
  NamespaceExists: 48,
  InvalidIdField: 53,
  CommandNotFound: 59,
  ImmutableField: 66,
  CannotCreateIndex: 67,
  IndexAlreadyExists: 68,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  NotImplemented: 238,
  CannotIndexParallelArrays: 171,
  WriteConflict: 112,
  DocumentValidationFailure: 121,
  SnapshotTooOld: 239,
  CursorKilled: 237,
  InvalidResumeToken: 260,
  ChangeStreamFatalError: 280,
  ChangeStreamHistoryLost: 286,
  MechanismUnavailable: 334,
  // mongod: "Unable to lock the lock file … Another mongod instance is already running on the dbpath".
  DBPathInUse: 98,
  DollarPrefixedFieldName: 52,
  // MongoDB's "location" codes, named as mongod names them in replies.
  Location13113: 13113,
  Location15955: 15955,
  Location31250: 31250,
  Location40066: 40066,
  Location31253: 31253,
  Location31254: 31254,
  Location40324: 40324,
  Location40415: 40415,
  Location40601: 40601,
  Location40602: 40602,
  Location40647: 40647,
  Location40674: 40674,
  Location50808: 50808,
  Location50865: 50865,
  Location51091: 51091,
  Location51003: 51003,
  Location51173: 51173,
  Location51174: 51174,
  DuplicateKey: 11000,
  BSONObjectTooLarge: 10334,
  KeyTooLong: 17280,
  // Argon's own codes live above MongoDB's range so they never collide.
  BranchNotFound: 50001,
  BranchExists: 50002,
  InvalidBranchName: 50003,
  BranchHasChildren: 50004,
  StoreClosed: 50005,
  // Not IllegalOperation (20): drivers rewrite that code on writes into a 'retryable writes' message.
  ReadOnlyEndpoint: 50006,
  BranchProtected: 50007,
  /** A merge gate (schema, pipeline or webhook check of the branch) refused the merge. */
  MergeGateFailed: 50008,
  /** A manual merge into the branch is pending: resolve its conflicts or abort it first. */
  MergeInProgress: 50009,
} as const;

export type ErrorCodeName = keyof typeof ErrorCodes;

export class ArgonError extends Error {
  readonly code: number;
  readonly codeName: ErrorCodeName;
  /** Extra fields a MongoDB error reply carries (keyPattern, keyValue, ...). */
  readonly info: Record<string, unknown>;

  constructor(codeName: ErrorCodeName, message: string, info: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ArgonError';
    this.codeName = codeName;
    this.code = ErrorCodes[codeName];
    this.info = info;
  }
}
