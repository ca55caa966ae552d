import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketAclCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  type Grant,
  type S3Client,
} from '@aws-sdk/client-s3';
import { metadataBackends, stopTestPostgres, type MetadataTestEnv } from './helpers/postgres.js';
import { rejectsWith } from './helpers/s3.js';
import { startPlinth, type PlinthHarness } from './helpers/server.js';
import { errorCode, rawRequest, sign } from './helpers/sigv4.js';

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

/** Grants as `who:PERMISSION` strings, sorted, for readable comparisons. */
function grantList(grants: Grant[] | undefined): string[] {
  return (grants ?? []).map((g) => `${g.Grantee?.ID ?? g.Grantee?.URI}:${g.Permission}`).sort();
}

after(stopTestPostgres);

for (const backend of metadataBackends()) {
  describe(`buckets (${backend.name})`, () => {
    let env: MetadataTestEnv;
    let h: PlinthHarness;
    let s3: S3Client;
    let other: Awaited<ReturnType<PlinthHarness['addUser']>>;
    let adminId: string;

    before(async () => {
      env = await backend.open();
      h = await startPlinth({ metadata: env.url, dataDir: env.dataDir });
      s3 = h.client;
      other = await h.addUser('other');
      adminId = h.server.admin.id;
    });
    after(async () => {
      await h.stop();
      await env.cleanup();
    });

    /** A signed raw request, for names the SDK would refuse to build a URL for. */
    const raw = (method: string, target: string, body?: string) => {
      const [path, query] = target.split('?') as [string, string | undefined];
      const params = query === undefined ? [] : query.split('&').map((p) => [p, ''] as [string, string]);
      const payloadHash = createHash('sha256').update(body ?? '').digest('hex');
      const signed = sign({ method, path, query: params, host: `127.0.0.1:${h.server.port}`, payloadHash, keys: h.credentials });
      return rawRequest(h.server.port, method, signed.target, signed.headers, body);
    };

    it('creates, lists, heads and deletes a bucket', async () => {
      const created = await s3.send(new CreateBucketCommand({ Bucket: 'lifecycle' }));
      assert.equal(created.Location, '/lifecycle');
      const head = await s3.send(new HeadBucketCommand({ Bucket: 'lifecycle' }));
      assert.equal(head.BucketRegion, 'us-east-1');
      const list = await s3.send(new ListBucketsCommand({}));
      assert.deepEqual(list.Owner, { ID: adminId, DisplayName: 'admin' });
      assert.ok(list.Buckets?.some((b) => b.Name === 'lifecycle' && b.CreationDate instanceof Date));
      await s3.send(new DeleteBucketCommand({ Bucket: 'lifecycle' }));
      await rejectsWith(s3.send(new HeadBucketCommand({ Bucket: 'lifecycle' })), 'NotFound', 404);
      await rejectsWith(s3.send(new DeleteBucketCommand({ Bucket: 'lifecycle' })), 'NoSuchBucket', 404);
    });

    it('lists only the caller’s buckets, with prefix and pages', async () => {
      for (const name of ['page-a', 'page-b', 'page-c']) await s3.send(new CreateBucketCommand({ Bucket: name }));
      await other.client.send(new CreateBucketCommand({ Bucket: 'page-theirs' }));
      const first = await s3.send(new ListBucketsCommand({ Prefix: 'page-', MaxBuckets: 2 }));
      assert.deepEqual(first.Buckets?.map((b) => b.Name), ['page-a', 'page-b']);
      assert.ok(first.ContinuationToken);
      const second = await s3.send(new ListBucketsCommand({ Prefix: 'page-', MaxBuckets: 2, ContinuationToken: first.ContinuationToken }));
      assert.deepEqual(second.Buckets?.map((b) => b.Name), ['page-c']);
      assert.equal(second.ContinuationToken, undefined);
      const theirs = await other.client.send(new ListBucketsCommand({}));
      assert.deepEqual(theirs.Buckets?.map((b) => b.Name), ['page-theirs']);
      await rejectsWith(h.clientFor(null).send(new ListBucketsCommand({})), 'AccessDenied', 403);
    });

    it('tells an existing bucket of yours from one of someone else', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'taken' }));
      await rejectsWith(s3.send(new CreateBucketCommand({ Bucket: 'taken' })), 'BucketAlreadyOwnedByYou', 409);
      await rejectsWith(other.client.send(new CreateBucketCommand({ Bucket: 'taken' })), 'BucketAlreadyExists', 409);
      await rejectsWith(h.clientFor(null).send(new CreateBucketCommand({ Bucket: 'anon-bucket' })), 'AccessDenied', 403);
    });

    it('enforces the bucket naming rules and the reserved names', async () => {
      for (const name of ['ab', 'a'.repeat(64), 'Upper', 'under_score', '-dash', 'dot.', 'two..dots', '192.168.1.2', 'xn--punycode', 'sthree-x', 'name-s3alias', 'name--ol-s3', 'health', 'metrics']) {
        const res = await raw('PUT', `/${encodeURIComponent(name)}`);
        assert.equal(res.status, 400, name);
        assert.equal(errorCode(res.body), 'InvalidBucketName', name);
      }
      for (const name of ['abc', 'a'.repeat(63), 'with.dots.ok', 'with-dash-9']) {
        assert.equal((await raw('PUT', `/${name}`)).status, 200, name);
      }
    });

    it('accepts its own region as a location constraint and refuses another', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'located', CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as never } }));
      await rejectsWith(s3.send(new CreateBucketCommand({ Bucket: 'misplaced', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })), 'InvalidLocationConstraint', 400);
      const location = await s3.send(new GetBucketLocationCommand({ Bucket: 'located' }));
      assert.equal(location.LocationConstraint ?? '', '', 'us-east-1 is answered as an empty constraint');
    });

    it('refuses to delete a bucket that holds objects', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'full' }));
      await s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'thing', Body: 'x' }));
      await rejectsWith(s3.send(new DeleteBucketCommand({ Bucket: 'full' })), 'BucketNotEmpty', 409);
      await s3.send(new DeleteObjectCommand({ Bucket: 'full', Key: 'thing' }));
      await s3.send(new DeleteBucketCommand({ Bucket: 'full' }));
    });

    it('gets and puts the versioning state', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'versioned' }));
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'versioned' }))).Status, undefined);
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'versioned', VersioningConfiguration: { Status: 'Enabled' } }));
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'versioned' }))).Status, 'Enabled');
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'versioned', VersioningConfiguration: { Status: 'Suspended' } }));
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'versioned' }))).Status, 'Suspended');
      await rejectsWith(s3.send(new PutBucketVersioningCommand({ Bucket: 'versioned', VersioningConfiguration: { Status: 'Paused' as never } })), 'IllegalVersioningConfigurationException', 400);
      const res = await raw('PUT', '/versioned?versioning', '<VersioningConfiguration><Status>Enabled');
      assert.equal(errorCode(res.body), 'MalformedXML');
      await rejectsWith(other.client.send(new GetBucketVersioningCommand({ Bucket: 'versioned' })), 'AccessDenied', 403);
      await rejectsWith(other.client.send(new PutBucketVersioningCommand({ Bucket: 'versioned', VersioningConfiguration: { Status: 'Enabled' } })), 'AccessDenied', 403);
    });

    describe('ACLs', () => {
      before(() => s3.send(new CreateBucketCommand({ Bucket: 'acl-bucket' })));

      it('renders a new bucket as private: the owner with FULL_CONTROL', async () => {
        const acl = await s3.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' }));
        assert.deepEqual(acl.Owner, { ID: adminId, DisplayName: 'admin' });
        assert.deepEqual(grantList(acl.Grants), [`${adminId}:FULL_CONTROL`]);
        assert.equal(acl.Grants![0]!.Grantee!.Type, 'CanonicalUser');
      });

      it('renders canned ACLs as S3 does', async () => {
        await s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', ACL: 'public-read' }));
        assert.deepEqual(grantList((await s3.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' }))).Grants), [`${adminId}:FULL_CONTROL`, `${ALL_USERS}:READ`]);
        await s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', ACL: 'public-read-write' }));
        assert.deepEqual(grantList((await s3.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' }))).Grants), [`${adminId}:FULL_CONTROL`, `${ALL_USERS}:READ`, `${ALL_USERS}:WRITE`]);
        await s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', ACL: 'authenticated-read' }));
        const acl = await s3.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' }));
        assert.deepEqual(grantList(acl.Grants), [`${adminId}:FULL_CONTROL`, `${AUTHENTICATED}:READ`]);
        assert.equal(acl.Grants!.find((g) => g.Grantee?.URI)!.Grantee!.Type, 'Group');
      });

      it('authenticated-read lets any signed-in user list (bucket) or read (object), not anonymous ones', async () => {
        // The bucket is authenticated-read from the test before.
        await s3.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'memo', Body: 'for members', ACL: 'authenticated-read' }));
        await s3.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'draft', Body: 'mine' }));
        assert.deepEqual((await other.client.send(new ListObjectsV2Command({ Bucket: 'acl-bucket' }))).Contents?.map((o) => o.Key), ['draft', 'memo']);
        await rejectsWith(h.clientFor(null).send(new ListObjectsV2Command({ Bucket: 'acl-bucket' })), 'AccessDenied', 403);
        assert.equal(await (await other.client.send(new GetObjectCommand({ Bucket: 'acl-bucket', Key: 'memo' }))).Body!.transformToString(), 'for members');
        await rejectsWith(other.client.send(new GetObjectCommand({ Bucket: 'acl-bucket', Key: 'draft' })), 'AccessDenied', 403);
        await rejectsWith(h.clientFor(null).send(new GetObjectCommand({ Bucket: 'acl-bucket', Key: 'memo' })), 'AccessDenied', 403);
        await rejectsWith(other.client.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'x', Body: 'x' })), 'AccessDenied', 403);
        await s3.send(new DeleteObjectCommand({ Bucket: 'acl-bucket', Key: 'draft' }));
      });

      it('grants one user read, then write, through an AccessControlPolicy document', async () => {
        await s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', ACL: 'private' }));
        await rejectsWith(other.client.send(new ListObjectsV2Command({ Bucket: 'acl-bucket' })), 'AccessDenied', 403);
        const owner = { ID: adminId };
        const self: Grant = { Grantee: { Type: 'CanonicalUser', ID: adminId }, Permission: 'FULL_CONTROL' };
        await s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', AccessControlPolicy: { Owner: owner, Grants: [self, { Grantee: { Type: 'CanonicalUser', ID: other.user.id }, Permission: 'READ' }] } }));
        assert.equal((await other.client.send(new ListObjectsV2Command({ Bucket: 'acl-bucket' }))).KeyCount, 1);
        await rejectsWith(other.client.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'x', Body: 'x' })), 'AccessDenied', 403);
        const acl = await s3.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' }));
        assert.deepEqual(grantList(acl.Grants), [`${adminId}:FULL_CONTROL`, `${other.user.id}:READ`]);
        assert.equal(acl.Grants!.find((g) => g.Grantee?.ID === other.user.id)!.Grantee!.DisplayName, 'other');

        await s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', GrantWrite: `id="${other.user.id}"` }));
        await other.client.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'from-other', Body: 'hi' }));
        assert.deepEqual(grantList((await s3.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' }))).Grants), [`${adminId}:FULL_CONTROL`, `${other.user.id}:READ`, `${other.user.id}:WRITE`]);
      });

      it('refuses what it cannot store, an unknown grantee and a non-owner', async () => {
        await rejectsWith(s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', GrantRead: 'emailAddress="someone@example.com"' })), 'NotImplemented', 501);
        await rejectsWith(s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', GrantRead: 'id="no-such-user"' })), 'InvalidArgument', 400);
        await rejectsWith(s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', ACL: 'private', GrantRead: `id="${other.user.id}"` })), 'InvalidRequest', 400);
        await rejectsWith(s3.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', ACL: 'bogus' as never })), 'InvalidArgument', 400);
        await rejectsWith(other.client.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' })), 'AccessDenied', 403);
        await rejectsWith(other.client.send(new PutBucketAclCommand({ Bucket: 'acl-bucket', ACL: 'public-read' })), 'AccessDenied', 403);
        const res = await raw('PUT', '/acl-bucket?acl', '<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>');
        assert.equal(errorCode(res.body), 'MalformedACLError');
      });

      it('creates a bucket with a canned ACL', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'born-public', ACL: 'public-read' }));
        assert.deepEqual(grantList((await s3.send(new GetBucketAclCommand({ Bucket: 'born-public' }))).Grants), [`${adminId}:FULL_CONTROL`, `${ALL_USERS}:READ`]);
      });

      it('object ACLs: a public-read object in a private bucket, then private again', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'objects-acl' }));
        await s3.send(new PutObjectCommand({ Bucket: 'objects-acl', Key: 'poster', Body: 'look', ACL: 'public-read' }));
        await s3.send(new PutObjectCommand({ Bucket: 'objects-acl', Key: 'diary', Body: 'secret' }));
        const anonymous = h.clientFor(null);
        assert.equal(await (await anonymous.send(new GetObjectCommand({ Bucket: 'objects-acl', Key: 'poster' }))).Body!.transformToString(), 'look');
        await rejectsWith(anonymous.send(new GetObjectCommand({ Bucket: 'objects-acl', Key: 'diary' })), 'AccessDenied', 403);
        await rejectsWith(anonymous.send(new ListObjectsV2Command({ Bucket: 'objects-acl' })), 'AccessDenied', 403);
        const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'objects-acl', Key: 'poster' }));
        assert.deepEqual(grantList(acl.Grants), [`${adminId}:FULL_CONTROL`, `${ALL_USERS}:READ`]);

        await s3.send(new PutObjectAclCommand({ Bucket: 'objects-acl', Key: 'poster', ACL: 'private' }));
        await rejectsWith(anonymous.send(new GetObjectCommand({ Bucket: 'objects-acl', Key: 'poster' })), 'AccessDenied', 403);
        assert.deepEqual(grantList((await s3.send(new GetObjectAclCommand({ Bucket: 'objects-acl', Key: 'poster' }))).Grants), [`${adminId}:FULL_CONTROL`]);
        await rejectsWith(s3.send(new PutObjectAclCommand({ Bucket: 'objects-acl', Key: 'poster', GrantRead: `id="${other.user.id}"` })), 'NotImplemented', 501);
        await rejectsWith(other.client.send(new GetObjectAclCommand({ Bucket: 'objects-acl', Key: 'poster' })), 'AccessDenied', 403);
        await rejectsWith(s3.send(new GetObjectAclCommand({ Bucket: 'objects-acl', Key: 'missing' })), 'NoSuchKey', 404);
      });
    });
  });
}
