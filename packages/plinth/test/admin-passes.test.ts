import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { passStream, scrubPass, type MaintenancePass } from '../src/admin-passes.js';
import { startPlinth, type Credentials, type PlinthHarness } from './helpers/server.js';
import { EMPTY_SHA256, rawRequest, sign } from './helpers/sigv4.js';

/** The admin API's gc and scrub streams (admin-passes.ts): records, joining, failures, hang-ups. */

type Record_ = { type: string } & Record<string, unknown>;

async function recordsOf(stream: Readable): Promise<Record_[]> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  assert.ok(text.endsWith('\n'), 'whole lines');
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record_);
}

/** A pass whose progress and end the test drives. */
function controlledPass() {
  let finish!: (report: object) => void;
  let fail!: (err: Error) => void;
  const state: { running?: { startedAt: Date; progress: { done: number } } } = {};
  let runs = 0;
  const result = new Promise<object>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  }).finally(() => (state.running = undefined));
  const pass: MaintenancePass = {
    run: () => {
      if (!state.running) runs++;
      state.running ??= { startedAt: new Date(), progress: { done: 0 } };
      return result;
    },
    inProgress: () => state.running,
  };
  return { pass, state, finish, fail, runs: () => runs };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('maintenance pass streams', () => {
  it('start, progress while it runs, then the report', async () => {
    const p = controlledPass();
    const records = recordsOf(passStream('gc', p.pass, 5));
    await tick(20);
    p.state.running!.progress.done = 3;
    await tick(20);
    p.finish({ blobsDeleted: 3 });
    const all = await records;
    assert.deepEqual(all[0], { type: 'start', pass: 'gc', startedAt: p.state.running?.startedAt.toISOString() ?? all[0]!.startedAt, joined: false });
    const progress = all.filter((r) => r.type === 'progress');
    assert.ok(progress.length >= 2, `${progress.length} progress records`);
    assert.ok(progress.every((r) => typeof r.elapsedSeconds === 'number'));
    assert.equal(progress.at(-1)!.done, 3);
    const last = all.at(-1)!;
    assert.equal(last.type, 'report');
    assert.deepEqual(last.report, { blobsDeleted: 3 });
  });

  it('a request during a pass joins it: one run, its start time, its report', async () => {
    const p = controlledPass();
    const first = recordsOf(passStream('scrub', p.pass, 5));
    const second = recordsOf(passStream('scrub', p.pass, 5));
    p.finish({ scanned: 1 });
    const [a, b] = await Promise.all([first, second]);
    assert.equal(p.runs(), 1);
    assert.equal(a[0]!.joined, false);
    assert.equal(b[0]!.joined, true);
    assert.equal(b[0]!.startedAt, a[0]!.startedAt);
    assert.deepEqual(a.at(-1)!.report, b.at(-1)!.report);
  });

  it('a failed pass ends the stream with an error record carrying its code', async () => {
    const p = controlledPass();
    const records = recordsOf(passStream('scrub', p.pass, 5));
    p.fail(Object.assign(new Error('the node is gone'), { code: 'NoSuchBlob' }));
    assert.deepEqual((await records).at(-1), { type: 'error', code: 'NoSuchBlob', message: 'the node is gone' });
  });

  it('a client that hangs up stops its stream, not the pass', async () => {
    const p = controlledPass();
    const stream = passStream('gc', p.pass, 5);
    stream.destroy();
    await tick(20);
    assert.ok(p.pass.inProgress(), 'still running');
    p.finish({});
    await tick(5);
    assert.equal(p.pass.inProgress(), undefined);
  });
});

describe('scrub requests on a real server', () => {
  let h: PlinthHarness;
  before(async () => {
    h = await startPlinth();
    await h.client.send(new CreateBucketCommand({ Bucket: 'passes' }));
    for (let i = 0; i < 5; i++) await h.client.send(new PutObjectCommand({ Bucket: 'passes', Key: `k${i}`, Body: randomBytes(100_000) }));
    await h.server.monitor.recordHealth();
  });
  after(() => h.stop());

  it('share the monitor scrub already running and size their progress from the last health check', async () => {
    const scheduled = h.server.monitor.scrub();
    const records = await recordsOf(passStream('scrub', scrubPass(h.server.monitor), 1));
    const report = await scheduled;
    assert.equal(records[0]!.joined, true);
    const last = records.at(-1)!;
    assert.equal(last.type, 'report');
    assert.deepEqual(last.report, { ...report, quarantined: 0 });
    for (const progress of records.filter((r) => r.type === 'progress')) {
      assert.deepEqual(Object.keys(progress).sort(), ['bytes', 'corrupt', 'elapsedSeconds', 'expected', 'quarantined', 'scanned', 'tablesRewritten', 'type']);
      assert.deepEqual(progress.expected, { blobs: 5, bytes: 500_000 });
    }
  });

  it('answer over HTTP as NDJSON, to the admin only, to POST only', async () => {
    const request = (method: string, resource: string, keys: Credentials = h.credentials) => {
      const signed = sign({ method, path: `/_plinth/admin/${resource}`, host: `127.0.0.1:${h.server.port}`, payloadHash: EMPTY_SHA256, keys });
      return rawRequest(h.server.port, method, signed.target, signed.headers);
    };
    for (const resource of ['gc', 'scrub']) {
      const ok = await request('POST', resource);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['content-type'], 'application/x-ndjson');
      const records = ok.body.trimEnd().split('\n').map((line) => JSON.parse(line) as Record_);
      assert.deepEqual([records[0]!.type, records[0]!.pass, records.at(-1)!.type], ['start', resource, 'report']);

      const get = await request('GET', resource);
      assert.equal(get.status, 405);
      assert.equal((JSON.parse(get.body) as { code: string }).code, 'MethodNotAllowed');
    }
    const { credentials } = await h.addUser();
    const denied = await request('POST', 'scrub', credentials);
    assert.equal(denied.status, 403);
    assert.equal((JSON.parse(denied.body) as { code: string }).code, 'AccessDenied');
  });
});
