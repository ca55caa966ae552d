import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { MongoClient } from 'mongodb';
import { Store, mergeBranches, diffRefs } from '../packages/argon/dist/src/index.js';
import { ArgonServer } from '../packages/argon/dist/src/server/server.js';
import { makeDoc } from './lib/docs.mjs';
const N = Number(process.argv[2] ?? 1000000);
const dir = process.argv[3] ?? mkdtempSync(join(tmpdir(), 'probe-'));
if (!process.argv[3]) {
  const store = await Store.open(dir, { compactionIntervalMs: 0 });
  await store.transact('main', (tx) => tx.createIndex('b', 'd', { name: 'age_1', key: { age: 1 } }));
  for (let at = 0; at < N; at += 1000) await store.write('main', Array.from({ length: 1000 }, (_, k) => ({ op: 'insert', db: 'b', coll: 'd', doc: makeDoc(at + k) })));
  await store.close();
  console.log('loaded', dir);
}
const server = await ArgonServer.start({ dataDir: dir, port: 0, auth: false, autoSuspendMs: 0, logger: pino({ level: 'silent' }) });
const store = server.store;
const client = new MongoClient(await server.uri('main'));
const admin = (c) => client.db('admin').command(c);
const t = async (f) => { const t0 = performance.now(); const r = await f(); return [performance.now() - t0, r]; };
for (let i = 0; i < 3; i++) console.log('ping', (await t(() => admin({ ping: 1 })))[0].toFixed(1), 'branchList', (await t(() => admin({ argonBranchList: 1 })))[0].toFixed(1));
const base = Math.floor(N / 2) + Math.floor(Math.random() * 100) * 4400;
for (let r = 0; r < 4; r++) {
  const src = `s${Date.now()}${r}`;
  await store.createBranch(src);
  const first = base + r * 1100;
  await store.write(src, Array.from({ length: 1000 }, (_, k) => ({ op: 'replace', db: 'b', coll: 'd', doc: { ...makeDoc(first + k), age: 100 + r } })));
  await store.write('main', Array.from({ length: 100 }, (_, k) => ({ op: 'replace', db: 'b', coll: 'd', doc: { ...makeDoc(first + k * 11), name: 'x' } })));
  const [dd] = await t(() => diffRefs(store, 'main', src));
  const [dw] = await t(() => admin({ argonDiff: 'main', to: src }));
  const [dry] = await t(() => mergeBranches(store, src, 'main', { dryRun: true }));
  const [real, res] = await t(() => mergeBranches(store, src, 'main'));
  const [noop] = await t(() => store.write('main', [{ op: 'replace', db: 'b', coll: 'd', doc: { ...makeDoc(5), name: `n${r}` } }]));
  console.log(`diff engine ${dd.toFixed(1)} wire ${dw.toFixed(1)} | merge dry ${dry.toFixed(1)} real ${real.toFixed(1)} ${res.status} ${res.applied.updated} | 1-doc write ${noop.toFixed(1)}`);
}
await client.close();
await server.stop();
