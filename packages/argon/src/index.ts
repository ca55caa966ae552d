export { Store, DEFAULT_BRANCH, type BranchFrom } from './storage/store.js';
export type { WriteTx } from './storage/writer.js';
export * from './storage/types.js';
export { ArgonError, ErrorCodes, type ErrorCodeName } from './errors.js';
export { compareBson, encodeValue } from './storage/keys.js';
export * from './vcs/index.js';
export { ArgonRestClient, ArgonApiError } from './client/rest-client.js';
export type * from './client/types.js';
