import type { IncomingHttpHeaders } from 'node:http';
import type { Acl } from '../meta/types.js';
import { cannedAcl, requireOwner } from './access.js';
import { S3Error } from './errors.js';
import { readBody } from './http.js';
import { findVersion, versionHeader, versionIdParam } from './object-read.js';
import type { GatewayContext, Handler, S3Request } from './types.js';
import { asArray, escapeXml, parseXml, S3_NAMESPACE } from './xml.js';

/**
 * ACLs as S3 exchanges them (AccessControlPolicy documents, x-amz-acl and x-amz-grant-*
 * headers), mapped onto what Plinth stores: a canned ACL per bucket and object, plus per-user
 * read/write grants on buckets. Grants that fit neither are NotImplemented rather than silently
 * dropped, so a client never believes it granted something it did not.
 */

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const PERMISSIONS = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'] as const;
type Permission = (typeof PERMISSIONS)[number];

type Grantee = { type: 'user'; id: string } | { type: 'group'; uri: string } | { type: 'email'; email: string };
interface Grant {
  grantee: Grantee;
  permission: Permission;
}

/** An ACL document or grant headers are small; anything larger is not an ACL. */
const MAX_ACL_BYTES = 64 * 1024;

function grantXml(grantee: Grantee, permission: Permission, names: Map<string, string>): string {
  const xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
  const who =
    grantee.type === 'user'
      ? `<Grantee ${xsi} xsi:type="CanonicalUser"><ID>${escapeXml(grantee.id)}</ID><DisplayName>${escapeXml(names.get(grantee.id) ?? grantee.id)}</DisplayName></Grantee>`
      : grantee.type === 'group'
        ? `<Grantee ${xsi} xsi:type="Group"><URI>${escapeXml(grantee.uri)}</URI></Grantee>`
        : `<Grantee ${xsi} xsi:type="AmazonCustomerByEmail"><EmailAddress>${escapeXml(grantee.email)}</EmailAddress></Grantee>`;
  return `<Grant>${who}<Permission>${permission}</Permission></Grant>`;
}

/** The grants S3 lists for a canned ACL, plus Plinth's per-user bucket grants (a write grant lists as READ and WRITE). */
function grantsOf(ownerId: string, acl: Acl, userGrants: Record<string, 'read' | 'write'>): Grant[] {
  const grants: Grant[] = [{ grantee: { type: 'user', id: ownerId }, permission: 'FULL_CONTROL' }];
  const group = (uri: string, permission: Permission) => grants.push({ grantee: { type: 'group', uri }, permission });
  if (acl === 'public-read' || acl === 'public-read-write') group(ALL_USERS, 'READ');
  if (acl === 'public-read-write') group(ALL_USERS, 'WRITE');
  if (acl === 'authenticated-read') group(AUTHENTICATED_USERS, 'READ');
  for (const [id, level] of Object.entries(userGrants).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    grants.push({ grantee: { type: 'user', id }, permission: 'READ' });
    if (level === 'write') grants.push({ grantee: { type: 'user', id }, permission: 'WRITE' });
  }
  return grants;
}

async function displayNames(ctx: GatewayContext): Promise<Map<string, string>> {
  return new Map((await ctx.meta.listUsers()).map((u) => [u.id, u.displayName]));
}

/** An AccessControlPolicy document, as GetBucketAcl and GetObjectAcl answer. */
export async function aclDocument(ctx: GatewayContext, ownerId: string, acl: Acl, userGrants: Record<string, 'read' | 'write'> = {}): Promise<string> {
  const names = await displayNames(ctx);
  const owner = `<Owner><ID>${escapeXml(ownerId)}</ID><DisplayName>${escapeXml(names.get(ownerId) ?? ownerId)}</DisplayName></Owner>`;
  const list = grantsOf(ownerId, acl, userGrants)
    .map((g) => grantXml(g.grantee, g.permission, names))
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="${S3_NAMESPACE}">${owner}<AccessControlList>${list}</AccessControlList></AccessControlPolicy>`;
}

const GRANT_HEADERS: Record<string, Permission> = {
  'x-amz-grant-full-control': 'FULL_CONTROL',
  'x-amz-grant-read': 'READ',
  'x-amz-grant-write': 'WRITE',
  'x-amz-grant-read-acp': 'READ_ACP',
  'x-amz-grant-write-acp': 'WRITE_ACP',
};

/** `x-amz-grant-read: id="…", uri="http://acs…/AllUsers"` and friends; undefined when none is sent. */
function headerGrants(headers: IncomingHttpHeaders): Grant[] | undefined {
  const grants: Grant[] = [];
  let any = false;
  for (const [name, permission] of Object.entries(GRANT_HEADERS)) {
    const value = headers[name];
    if (value === undefined) continue;
    any = true;
    const text = Array.isArray(value) ? value.join(',') : value;
    for (const item of text.split(',')) {
      if (item.trim() === '') continue;
      const match = /^\s*(id|uri|emailAddress)\s*=\s*"?([^"]*)"?\s*$/i.exec(item);
      if (!match) throw new S3Error('InvalidArgument', `Invalid grant in ${name}: ${item.trim()}`, { ArgumentName: name, ArgumentValue: text });
      const kind = match[1]!.toLowerCase();
      const grantee: Grantee = kind === 'id' ? { type: 'user', id: match[2]! } : kind === 'uri' ? { type: 'group', uri: match[2]! } : { type: 'email', email: match[2]! };
      grants.push({ grantee, permission });
    }
  }
  return any ? grants : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim() : undefined;
}

function documentGrants(body: string): { ownerId?: string; grants: Grant[] } {
  const doc = parseXml(body, 'AccessControlPolicy');
  const owner = doc.Owner as Record<string, unknown> | undefined;
  const list = doc.AccessControlList as Record<string, unknown> | undefined;
  if (list === undefined) throw new S3Error('MalformedACLError');
  const grants = asArray(list.Grant as Record<string, unknown> | Record<string, unknown>[] | undefined).map((g): Grant => {
    const grantee = g.Grantee as Record<string, unknown> | undefined;
    const permission = text(g.Permission) as Permission | undefined;
    if (!grantee || !permission || !PERMISSIONS.includes(permission)) throw new S3Error('MalformedACLError');
    // The parser drops attributes (xsi:type), so the grantee's kind is read from its element.
    const id = text(grantee.ID);
    const uri = text(grantee.URI);
    const email = text(grantee.EmailAddress);
    if (id) return { grantee: { type: 'user', id }, permission };
    if (uri) return { grantee: { type: 'group', uri }, permission };
    if (email) return { grantee: { type: 'email', email }, permission };
    throw new S3Error('MalformedACLError');
  });
  return { ownerId: text(owner?.ID), grants };
}

export interface AclSetting {
  acl: Acl;
  grants: Record<string, 'read' | 'write'>;
}

/** Reduces S3 grants to a canned ACL and per-user grants, refusing what that cannot express. */
async function reduceGrants(ctx: GatewayContext, ownerId: string, grants: Grant[], resource: 'bucket' | 'object'): Promise<AclSetting> {
  let publicRead = false;
  let publicWrite = false;
  let authenticatedRead = false;
  const users: Record<string, 'read' | 'write'> = {};
  let known: Set<string> | undefined;
  for (const { grantee, permission } of grants) {
    if (permission === 'READ_ACP' || permission === 'WRITE_ACP') {
      if (grantee.type === 'user' && grantee.id === ownerId) continue;
      throw new S3Error('NotImplemented', `${permission} grants are not supported: only a resource's owner reads and changes its ACL.`);
    }
    if (grantee.type === 'email') throw new S3Error('NotImplemented', 'Grants by e-mail address are not supported; grant by canonical user id.');
    if (grantee.type === 'group') {
      const reads = permission === 'READ' || permission === 'FULL_CONTROL';
      const writes = permission === 'WRITE' || permission === 'FULL_CONTROL';
      if (grantee.uri === ALL_USERS) {
        publicRead ||= reads;
        publicWrite ||= writes;
      } else if (grantee.uri === AUTHENTICATED_USERS && !writes) {
        authenticatedRead = true;
      } else {
        throw new S3Error('NotImplemented', `Grants of ${permission} to the group ${grantee.uri} are not supported.`);
      }
      continue;
    }
    if (grantee.id === ownerId) continue;
    if (resource === 'object') throw new S3Error('NotImplemented', 'Grants to individual users are supported on buckets, not on objects.');
    known ??= new Set((await ctx.meta.listUsers()).map((u) => u.id));
    if (!known.has(grantee.id)) throw new S3Error('InvalidArgument', 'Invalid id', { ArgumentName: 'CanonicalUser/ID', ArgumentValue: grantee.id });
    users[grantee.id] = permission === 'READ' && users[grantee.id] !== 'write' ? 'read' : 'write';
  }
  if (publicWrite && !publicRead) throw new S3Error('NotImplemented', 'Public write access without public read access is not supported.');
  const acl: Acl = publicWrite ? 'public-read-write' : publicRead ? 'public-read' : authenticatedRead ? 'authenticated-read' : 'private';
  return { acl, grants: users };
}

/**
 * What a CreateBucket asks for through headers only (its body is the location configuration):
 * x-amz-acl or x-amz-grant-*, never both, as S3 requires.
 */
export async function aclFromHeaders(ctx: GatewayContext, headers: IncomingHttpHeaders, ownerId: string, resource: 'bucket' | 'object'): Promise<AclSetting | undefined> {
  const canned = cannedAcl(headers);
  const fromHeaders = headerGrants(headers);
  if (canned !== undefined && fromHeaders !== undefined) throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  if (canned !== undefined) return { acl: canned, grants: {} };
  return fromHeaders === undefined ? undefined : reduceGrants(ctx, ownerId, fromHeaders, resource);
}

/** A PutBucketAcl/PutObjectAcl request: a canned ACL, grant headers, or an AccessControlPolicy body. */
export async function aclFromRequest(req: S3Request, ctx: GatewayContext, ownerId: string, resource: 'bucket' | 'object'): Promise<AclSetting> {
  const fromHeaders = await aclFromHeaders(ctx, req.headers, ownerId, resource);
  const body = await readBody(req.body, MAX_ACL_BYTES);
  if (fromHeaders !== undefined) {
    if (body.trim() !== '') throw new S3Error('UnexpectedContent', 'An ACL is given either in headers or as a document, not both.');
    return fromHeaders;
  }
  if (body.trim() === '') throw new S3Error('MalformedACLError', 'An ACL must be given as x-amz-acl, x-amz-grant-* headers or an AccessControlPolicy document.');
  const doc = documentGrants(body);
  if (doc.ownerId !== undefined && doc.ownerId !== ownerId) throw new S3Error('AccessDenied', 'The Owner in the ACL is not the resource owner.');
  return reduceGrants(ctx, ownerId, doc.grants, resource);
}

export const getObjectAcl: Handler = async (req, ctx) => {
  const { bucket, version } = await findVersion(req, ctx, { bucket: req.bucket!, key: req.key!, versionId: versionIdParam(req.query) }, 'read');
  await requireOwner(req, ctx, bucket, version);
  await ctx.meta.addCost(bucket.name, { get: 1 });
  return { headers: versionHeader(bucket, version.versionId), body: await aclDocument(ctx, version.ownerId, version.acl) };
};

export const putObjectAcl: Handler = async (req, ctx) => {
  const { bucket, version } = await findVersion(req, ctx, { bucket: req.bucket!, key: req.key!, versionId: versionIdParam(req.query) }, 'read');
  await requireOwner(req, ctx, bucket, version);
  const { acl } = await aclFromRequest(req, ctx, version.ownerId, 'object');
  await ctx.meta.updateObject(bucket.name, version.key, version.versionId, { acl });
  await ctx.meta.addCost(bucket.name, { put: 1 });
  return { headers: versionHeader(bucket, version.versionId) };
};
