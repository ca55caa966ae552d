import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import type { LocalDataNode } from '../src/block/local.js';
import { PlinthServer } from '../src/server.js';
import { connectArgs, jsonOf, runCli } from './helpers/cli.js';
import { bytesOf, describeEachBackend } from './helpers/s3.js';
import { startPlinth, type PlinthHarness } from './helpers/server.js';

/** `plinth user|costs|health|gc|scrub` end to end: the built bin against a real server. */

interface PublicUser {
  id: string;
  displayName: string;
  accessKey: string;
  admin: boolean;
  secretKey?: string;
}

const DAY = 86_400_000;

function blobFile(h: PlinthHarness, blob: string): string {
  return (h.server.node as LocalDataNode).blobPath(blob);
}

/** Makes a blob look as old as the collector's grace period requires (24 h by default). */
function age(h: PlinthHarness, blob: string): void {
  const old = new Date(Date.now() - 2 * DAY);
  utimesSync(blobFile(h, blob), old, old);
}

function flipByte(h: PlinthHarness, blob: string): void {
  const file = blobFile(h, blob);
  const bytes = readFileSync(file);
  bytes[100]! ^= 0xff;
  writeFileSync(file, bytes);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describeEachBackend('plinth operator commands', (server) => {
  const cli = (...args: string[]) => runCli([...args, ...connectArgs(server().endpoint, server().credentials)]);

  it('user add, list and remove with --json; the new keys work until removed', async () => {
    const { user } = jsonOf<{ user: PublicUser }>(await cli('user', 'add', '--name', 'ana', '--json'));
    assert.equal(user.displayName, 'ana');
    assert.equal(user.admin, false);
    assert.match(user.secretKey!, /^.{40}$/);
    const ana = server().clientFor({ accessKeyId: user.accessKey, secretAccessKey: user.secretKey! });
    await ana.send(new ListBucketsCommand({}));

    const listed = await cli('user', 'list', '--json');
    const { users } = jsonOf<{ users: PublicUser[] }>(listed);
    assert.deepEqual(
      users.find((u) => u.id === user.id),
      { id: user.id, displayName: 'ana', accessKey: user.accessKey, admin: false },
    );
    assert.ok(users.some((u) => u.admin && u.id === server().server.admin.id));
    assert.ok(!listed.stdout.includes(user.secretKey!) && !listed.stdout.includes(server().credentials.secretAccessKey), 'no secrets listed');

    assert.deepEqual(jsonOf(await cli('user', 'remove', user.id, '--json')), { removed: user.id });
    assert.ok(!jsonOf<{ users: PublicUser[] }>(await cli('user', 'list', '--json')).users.some((u) => u.id === user.id));
    await assert.rejects(ana.send(new ListBucketsCommand({})), { name: 'InvalidAccessKeyId' });
  });

  it('user add and list as text: the secret is printed once, by add', async () => {
    const added = await cli('user', 'add', '--name', 'bob');
    assert.equal(added.code, 0, added.stderr);
    const secret = /secret key {2}(\S+)/.exec(added.stdout)?.[1];
    const id = /\(id (\S+)\)/.exec(added.stdout)?.[1];
    assert.ok(secret && id, added.stdout);
    assert.match(added.stdout, /does not show it again/);

    const listed = await cli('user', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    assert.match(header!, /^ID +NAME +ACCESS KEY +ROLE$/);
    assert.ok(rows.some((r) => r.startsWith(id) && /\bbob\b/.test(r) && r.endsWith('user')));
    assert.ok(rows.some((r) => r.startsWith(server().server.admin.id) && r.endsWith('admin')));
    assert.ok(!listed.stdout.includes(secret));
    assert.equal((await cli('user', 'remove', id)).stdout, `Removed user ${id}\n`);
  });

  it('user remove of an unknown id, or of the admin, fails with the S3 code and exit 1', async () => {
    const unknown = await cli('user', 'remove', 'no-such-user');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^plinth: NoSuchEntity: No user has the id 'no-such-user'\./);
    const admin = await cli('user', 'remove', server().server.admin.id, '--json');
    assert.equal(admin.code, 1);
    assert.match(admin.stderr, /InvalidRequest: The admin user cannot be deleted/);
  });

  it('costs: a table with the monthly estimate, JSON for scripts, one bucket or all', async () => {
    const client = server().client;
    await client.send(new CreateBucketCommand({ Bucket: 'billed' }));
    await client.send(new PutObjectCommand({ Bucket: 'billed', Key: 'k', Body: Buffer.alloc(1000, 1) }));
    await bytesOf((await client.send(new GetObjectCommand({ Bucket: 'billed', Key: 'k' }))).Body);

    const report = jsonOf<{ currency: string; buckets: { bucket: string; bytesStored: number; egressBytes: number; estimate: { total: number } }[]; total: { total: number } }>(
      await cli('costs', '--bucket', 'billed', '--json'),
    );
    assert.equal(report.currency, 'USD');
    assert.deepEqual(
      report.buckets.map((b) => [b.bucket, b.bytesStored, b.egressBytes]),
      [['billed', 1000, 1000]],
    );
    assert.ok(report.buckets[0]!.estimate.total > 0 && report.total.total === report.buckets[0]!.estimate.total);

    const table = await cli('costs');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^BUCKET +STORED +GET +PUT +LIST +DELETE +EGRESS +USD\/MONTH\n/);
    assert.match(table.stdout, /\nbilled +1000 B +1 +\d+ +\d+ +\d+ +1000 B +\$0\.\d+\n/);
    assert.match(table.stdout, /Estimate per month: storage \$[\d.]+ \+ requests \$[\d.]+ \+ egress \$[\d.]+ = \$[\d.]+/);

    const missing = await cli('costs', '--bucket', 'never-made');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NoSuchBucket: no cost record for a bucket named 'never-made'/);
  });

  it('health prints /health as indented JSON, and needs no credentials', async () => {
    const run = await runCli(['health', '--endpoint', server().endpoint]);
    assert.equal(run.code, 0, run.stderr);
    const health = JSON.parse(run.stdout) as { status: string; metadata: { backend: string; status: string }; node: { status: string } };
    assert.equal(health.status, 'ok');
    assert.equal(health.metadata.backend, server().server.meta.kind);
    assert.equal(health.node.status, 'up');
    assert.match(run.stdout, /^\{\n {2}"status": "ok",\n/);
    assert.deepEqual(jsonOf<{ status: string }>(await runCli(['health', '--json', '--endpoint', server().endpoint])).status, 'ok');
  });

  it('gc deletes an orphaned blob past the grace period and keeps referenced and young ones', async () => {
    const h = server();
    // What a crash between a blob's rename and its commit leaves: bytes nothing references.
    const orphan = await h.server.node.put(Readable.from([randomBytes(5000)]));
    const young = await h.server.node.put(Readable.from([randomBytes(5000)]));
    const kept = randomBytes(5000);
    await h.client.send(new CreateBucketCommand({ Bucket: 'collected' }));
    await h.client.send(new PutObjectCommand({ Bucket: 'collected', Key: 'kept', Body: kept }));
    age(h, orphan.blob);
    age(h, sha256(kept));

    const { pass, joined, seconds, report } = jsonOf<{ pass: string; joined: boolean; seconds: number; report: Record<string, number> }>(await cli('gc', '--json'));
    assert.equal(pass, 'gc');
    assert.equal(joined, false);
    assert.ok(seconds >= 0);
    for (const count of ['pendingAborted', 'uploadsAborted', 'blobsDeleted', 'tempRemoved', 'errors']) assert.equal(typeof report[count], 'number', count);
    assert.equal(report.errors, 0);
    assert.ok(report.blobsDeleted! >= 1, JSON.stringify(report));
    assert.equal(await h.server.node.has(orphan.blob), false, 'the orphan is gone');
    assert.equal(await h.server.node.has(young.blob), true, 'a young blob may still be committed');
    assert.equal(await h.server.node.has(sha256(kept)), true, 'a referenced blob stays');

    const text = await cli('gc');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Garbage collection done in [\d.]+s: 0 blobs deleted, 0 stale pending versions dropped, 0 stale uploads aborted, 0 temp files removed\n$/);
    assert.match(text.stderr, /^gc: started\n/, 'a plain progress line when stderr is not a terminal');
  });

  it('scrub reports and quarantines a corrupted blob (exit 1), then finds the store clean', async () => {
    const h = server();
    const body = randomBytes(300_000);
    await h.client.send(new CreateBucketCommand({ Bucket: 'scrubbed' }));
    await h.client.send(new PutObjectCommand({ Bucket: 'scrubbed', Key: 'rotten', Body: body }));
    const clean = await cli('scrub', '--json');
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stderr, '', '--json draws no plain progress lines');
    assert.deepEqual(jsonOf<{ report: { corrupt: unknown[] } }>(clean).report.corrupt, []);

    const referenced = sha256(body);
    flipByte(h, referenced);
    const found = await cli('scrub', '--json');
    assert.equal(found.code, 1);
    assert.match(found.stderr, /^plinth: 1 corrupt blob found\n/);
    const { pass, report } = JSON.parse(found.stdout) as { pass: string; report: { scanned: number; bytes: number; quarantined: number; corrupt: { blob: string; referenced: boolean; quarantinedAt: string }[] } };
    assert.equal(pass, 'scrub');
    assert.ok(report.scanned >= 1 && report.bytes >= body.length);
    assert.equal(report.quarantined, 1);
    assert.deepEqual(report.corrupt.map((c) => [c.blob, c.referenced]), [[referenced, true]]);
    assert.ok(existsSync(report.corrupt[0]!.quarantinedAt), 'moved to quarantine');
    assert.equal(await h.server.node.has(referenced), false);

    const unreferenced = await h.server.node.put(Readable.from([randomBytes(2000)]));
    flipByte(h, unreferenced.blob);
    const text = await cli('scrub');
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^Scrubbed \d+ blobs \([\d.]+ \w+\) in [\d.]+s: 1 corrupt \(1 quarantined\), 0 chunk tables rebuilt\n/);
    assert.match(text.stdout, new RegExp(`\\n${unreferenced.blob} +no: unreferenced +/\\S+\\n`));

    const again = await cli('scrub');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /: none corrupt, 0 chunk tables rebuilt\n$/);
    assert.match(again.stderr, /^scrub: started\n/);
  });
});

describe('plinth operator commands: connection and errors', () => {
  let h: PlinthHarness;
  let dir: string;
  before(async () => {
    h = await startPlinth();
    dir = mkdtempSync(join(tmpdir(), 'plinth-cli-'));
  });
  after(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a wrong secret is refused with SignatureDoesNotMatch and exit 1, no secret printed', async () => {
    const run = await runCli(['user', 'list', '--endpoint', h.endpoint, '--access-key', h.credentials.accessKeyId, '--secret-key', 'not-the-secret-key']);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^plinth: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided\./);
    assert.match(run.stderr, /the secret key \(from --access-key\/--secret-key\) is not the one the server has/);
    assert.ok(!run.stderr.includes('not-the-secret-key') && !run.stderr.includes(h.credentials.secretAccessKey));
  });

  it('a user who is not the admin is refused with AccessDenied', async () => {
    const { credentials } = await h.addUser('eve');
    const run = await runCli(['costs', ...connectArgs(h.endpoint, credentials)]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^plinth: AccessDenied: The admin API is only open to the first \(admin\) user\./);
  });

  it('a server that is down gives a readable connection error and exit 1', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const { port } = free.address() as { port: number };
    await new Promise((resolve) => free.close(resolve));
    const endpoint = `http://127.0.0.1:${port}`;
    for (const args of [['user', 'list', ...connectArgs(endpoint, h.credentials)], ['health', '--endpoint', endpoint], ['scrub', ...connectArgs(endpoint, h.credentials)]]) {
      const run = await runCli(args);
      assert.equal(run.code, 1, args.join(' '));
      assert.equal(run.stderr, `plinth: cannot reach Plinth at ${endpoint}: connection refused\n  is \`plinth serve\` running there? (--endpoint, PLINTH_ENDPOINT)\n`);
    }
  });

  it('keys come from the flags, else PLINTH_ACCESS_KEY/PLINTH_SECRET_KEY, else <--data>/credentials.json', async () => {
    const env = { PLINTH_ACCESS_KEY: h.credentials.accessKeyId, PLINTH_SECRET_KEY: h.credentials.secretAccessKey };
    const list = ['user', 'list', '--json', '--endpoint', h.endpoint];
    assert.equal((await runCli(list, env)).code, 0, 'environment');
    const wrongEnv = { ...env, PLINTH_SECRET_KEY: 'wrong-secret-key' };
    assert.match((await runCli(list, wrongEnv)).stderr, /SignatureDoesNotMatch[^]*from PLINTH_ACCESS_KEY\/PLINTH_SECRET_KEY/);
    assert.equal((await runCli([...list, '--secret-key', h.credentials.secretAccessKey, '--access-key', h.credentials.accessKeyId], wrongEnv)).code, 0, 'flags win');

    const data = join(dir, 'elsewhere');
    mkdirSync(data);
    writeFileSync(join(data, 'credentials.json'), JSON.stringify({ accessKey: h.credentials.accessKeyId, secretKey: h.credentials.secretAccessKey }));
    assert.equal((await runCli([...list, '--data', data])).code, 0, '--data');
    mkdirSync(join(dir, '.plinth'));
    writeFileSync(join(dir, '.plinth', 'credentials.json'), JSON.stringify({ accessKey: h.credentials.accessKeyId, secretKey: h.credentials.secretAccessKey }));
    assert.equal((await runCli(list, {}, dir)).code, 0, './.plinth by default');

    const none = await runCli([...list, '--data', join(dir, 'empty')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^plinth: no admin credentials: pass --access-key and --secret-key, set PLINTH_ACCESS_KEY and PLINTH_SECRET_KEY, or point --data at the server's data directory \(there is no .*empty\/credentials\.json\)/);
    assert.match((await runCli([...list, '--access-key', 'AKEY'])).stderr, /give both --access-key and --secret-key, or neither/);
  });

  it('reads the credentials.json a server generated on its first start', async () => {
    const data = join(dir, 'generated');
    const saved = { ...process.env };
    delete process.env.PLINTH_ACCESS_KEY;
    delete process.env.PLINTH_SECRET_KEY;
    const server = await PlinthServer.start({ dataDir: data, port: 0, logger: pino({ level: 'silent' }) });
    process.env = saved;
    try {
      const { users } = jsonOf<{ users: PublicUser[] }>(await runCli(['user', 'list', '--json', '--endpoint', server.endpoint, '--data', data]));
      assert.deepEqual(users.map((u) => [u.accessKey, u.admin]), [[server.admin.accessKey, true]]);
    } finally {
      await server.stop();
    }
  });

  it('refuses a malformed --endpoint before sending anything', async () => {
    const run = await runCli(['health', '--endpoint', 'localhost-9000']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /option '--endpoint <url>' argument 'localhost-9000' is invalid\. a URL such as http:\/\/127\.0\.0\.1:9000/);
  });

  it('--help shows every command, with examples, and --json on each operator command', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    for (const command of ['serve', 'user', 'costs', 'health', 'gc', 'scrub']) assert.match(top.stdout, new RegExp(`\\n  ${command} `));
    assert.match(top.stdout, /Examples:\n {2}\$ plinth serve/);
    for (const command of ['user', 'costs', 'health', 'gc', 'scrub']) assert.match((await runCli([command, '--help'])).stdout, /Examples:\n {2}\$ plinth/, command);
    for (const command of [['user', 'list'], ['user', 'add'], ['user', 'remove'], ['costs'], ['health'], ['gc'], ['scrub']]) {
      assert.match((await runCli([...command, '--help'])).stdout, /--json /, command.join(' '));
    }
  });
});
