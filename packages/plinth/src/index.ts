export { PlinthServer, PLINTH_VERSION, type PlinthOptions } from './server.js';
export { DEFAULT_PRICES, estimate, type Prices, type CostEstimate } from './admin.js';
export type { UserSpec } from './users.js';
export type { Acl, Bucket, CostRecord, MetadataStore, ObjectVersion, User, VersioningState } from './meta/types.js';
export type { DataNode, BlobInfo } from './block/types.js';
export type { GatewayConfig, GatewayContext, Handler, S3Request, S3Response } from './s3/types.js';
export { S3Error, type S3ErrorCode } from './s3/errors.js';
