import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startPlinth, type PlinthHarness } from './helpers/server.js';

let plinth: PlinthHarness;
const body = Buffer.alloc(300_000, 7);
const blob = createHash('sha256').update(body).digest('hex');

before(async () => {
  plinth = await startPlinth();
  await plinth.client.send(new CreateBucketCommand({ Bucket: 'monitored' }));
  await plinth.client.send(new PutObjectCommand({ Bucket: 'monitored', Key: 'k', Body: body }));
});

after(async () => {
  await plinth.stop();
});

test('the node monitor keeps node_health current', async () => {
  await plinth.server.monitor.recordHealth();
  const [health] = await plinth.server.meta.nodeHealth();
  assert.equal(health?.node, plinth.server.node.id);
  assert.equal(health?.status, 'up');
  assert.ok(health!.bytesUsed >= body.length, `bytes used ${health!.bytesUsed}`);
  assert.ok(Date.now() - health!.checked.getTime() < 60_000);
});

test('a scheduled scrub finds a rotten blob, reports it as referenced and quarantines it', async () => {
  const clean = await plinth.server.monitor.scrub();
  assert.equal(clean.corrupt.length, 0);
  assert.ok(clean.scanned >= 1);
  const file = join(plinth.dataDir, 'data', 'blobs', blob.slice(0, 2), blob.slice(2, 4), blob);
  const bytes = readFileSync(file);
  bytes[1234] ^= 0xff;
  writeFileSync(file, bytes);
  const report = await plinth.server.monitor.scrub();
  assert.deepEqual(report.corrupt.map((c) => [c.blob, c.referenced]), [[blob, true]]);
  assert.equal(await plinth.server.node.has(blob), false, 'moved out of the blob store');
});
