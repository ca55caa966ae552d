import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { plainTarget } from '../src/cli/wire-client.js';
import { ArgonServer } from '../src/server/server.js';
import { runCli } from './server-helpers.js';

const run = promisify(execFile);
const MONGOSH = new URL('../../../../node_modules/.bin/mongosh', import.meta.url).pathname;
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const PYTHON = '/usr/bin/python3';
// Installed by scripts/install-driver-v6.mjs (npm's pretest) outside the workspace tree.
const requireV6 = createRequire(new URL('../../test/drivers/v6/package.json', import.meta.url));

const PASSWORD = 'tls-r00t-pw';
let dir: string;
/** Files of a throwaway PKI: the CA, the server's certificate, and client certificate+key files. */
let pki: { ca: string; cert: string; key: string; client: string; rogue: string };
/** --tls-required --tls-ca, auth on; and TLS allowed but not required, auth off. */
let strict: ArgonServer;
let lenient: ArgonServer;
let strictLog = '';
const clients: MongoClient[] = [];

function makePki(into: string): typeof pki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: into, stdio: 'pipe' });
  const sign = (name: string, ca: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(into, `${name}.ext`), ext);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
  };
  for (const ca of ['ca', 'rogue-ca']) ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=Argon test ${ca}`);
  sign('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  sign('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  // Drivers' tlsCertificateKeyFile: the certificate and its key in one file.
  for (const name of ['client', 'rogue']) writeFileSync(join(into, `${name}-both.pem`), readFileSync(join(into, `${name}.pem`), 'utf8') + readFileSync(join(into, `${name}.key`), 'utf8'));
  const at = (file: string) => join(into, file);
  return { ca: at('ca.pem'), cert: at('server.pem'), key: at('server.key'), client: at('client-both.pem'), rogue: at('rogue-both.pem') };
}

/** A URI of the strict server's endpoint on `port`, signed in as root; `extra` is appended to its options. */
function strictUri(port: number, extra = `&tls=true&tlsCAFile=${encodeURIComponent(pki.ca)}`): string {
  return `mongodb://root:${PASSWORD}@127.0.0.1:${port}/?directConnection=true${extra}`;
}

async function connect(uri: string, timeoutMs = 5000): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs });
  clients.push(client);
  await client.connect();
  return client;
}

/** Whether a driver gets a working connection (a ping) with this URI. */
async function pings(uri: string): Promise<boolean> {
  try {
    await (await connect(uri, 1500)).db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}

function httpsGet(port: number, path: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, ca: ca && readFileSync(ca) }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'argon-tls-'));
  pki = makePki(dir);
  const sink = new Writable({
    write(chunk, _enc, done) {
      strictLog += chunk.toString();
      done();
    },
  });
  strict = await ArgonServer.start({
    dataDir: join(dir, 'strict'),
    port: 0,
    httpPort: 0,
    logger: pino({ level: 'info' }, sink),
    admin: { user: 'root', password: PASSWORD },
    tls: { certFile: pki.cert, keyFile: pki.key, caFile: pki.ca, required: true },
  });
  lenient = await ArgonServer.start({ dataDir: join(dir, 'lenient'), port: 0, auth: false, logger: pino({ level: 'silent' }), tls: { certFile: pki.cert, keyFile: pki.key } });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await strict.stop();
  await lenient.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('drivers v7 and v6 insert and find over TLS with tlsCAFile, authenticated; the printed URI says tls=true', async () => {
  assert.match(await strict.uri('main'), /[?&]tls=true(&|$)/);
  const items = (await connect(strictUri(strict.port))).db('shop').collection<any>('items');
  await items.insertMany([{ _id: 1, name: 'pen' }, { _id: 2, name: 'ink' }]);
  assert.deepEqual(await items.find({}, { sort: { _id: 1 } }).toArray(), [{ _id: 1, name: 'pen' }, { _id: 2, name: 'ink' }]);

  const v6 = requireV6('mongodb') as typeof import('mongodb');
  assert.match(requireV6('mongodb/package.json').version, /^6\./);
  const old = new v6.MongoClient(strictUri(strict.port), { serverSelectionTimeoutMS: 5000 });
  try {
    await old.db('shop').collection<any>('items').insertOne({ _id: 3, name: 'nib' });
    assert.equal((await old.db('shop').collection<any>('items').findOne({ _id: 1 }))?.name, 'pen');
  } finally {
    await old.close();
  }
  assert.equal(await items.countDocuments(), 3);
});

test("the server's certificate is checked by clients: without the CA the driver refuses it, and wrong passwords still fail", async () => {
  assert.equal(await pings(strictUri(strict.port, '&tls=true')), false, 'system CAs do not vouch for the test CA');
  assert.equal(await pings(strictUri(strict.port, '&tls=true&tlsAllowInvalidCertificates=true')), true);
  assert.equal(await pings(strictUri(strict.port).replace(PASSWORD, 'wrong')), false, 'TLS does not replace authentication');
});

test('--tls-required closes plain connections; without it one port takes both TLS and plain clients', async () => {
  assert.equal(await pings(strictUri(strict.port, '')), false);
  assert.match(strictLog, /plain connection closed: TLS is required/);
  // A raw plain client gets no byte back, only the close.
  const raw = net.connect(strict.port, '127.0.0.1');
  const received: Buffer[] = [];
  raw.on('data', (chunk) => received.push(chunk));
  raw.on('error', () => {});
  raw.write(Buffer.from([16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0]));
  await new Promise((resolve) => raw.once('close', resolve));
  assert.equal(Buffer.concat(received).length, 0);

  assert.doesNotMatch(await lenient.uri('main'), /tls=/, 'TLS is optional: the printed URI stays plain');
  const plain = `mongodb://127.0.0.1:${lenient.port}/?directConnection=true`;
  const secure = `${plain}&tls=true&tlsCAFile=${encodeURIComponent(pki.ca)}`;
  await (await connect(plain)).db('t').collection('c').insertOne({ via: 'plain' });
  await (await connect(secure)).db('t').collection('c').insertOne({ via: 'tls' });
  const vias = (await (await connect(plain)).db('t').collection('c').find().toArray()).map((d) => d.via);
  assert.deepEqual(vias.sort(), ['plain', 'tls']);
});

test('pymongo connects with tls=true&tlsCAFile', async () => {
  const script = 'import sys, pymongo\nc = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=int(sys.argv[2]))\nc.py.items.insert_one({"_id": 1, "by": "pymongo"})\nprint(c.py.items.find_one({"_id": 1})["by"])\n';
  const { stdout } = await run(PYTHON, ['-c', script, strictUri(strict.port), '5000'], { timeout: 60_000 });
  assert.equal(stdout.trim(), 'pymongo');
  await assert.rejects(run(PYTHON, ['-c', script, strictUri(strict.port, ''), '1500'], { timeout: 60_000 }), 'a plain pymongo client is refused');
});

test('mongosh connects with --tls --tlsCAFile', async () => {
  const eval_ = 'db.getSiblingDB("shell").t.insertOne({_id: 1, by: "mongosh"}); print(JSON.stringify(db.getSiblingDB("shell").t.findOne({_id: 1})))';
  const { stdout } = await run(MONGOSH, [strictUri(strict.port, ''), '--tls', '--tlsCAFile', pki.ca, '--quiet', '--norc', '--eval', eval_], { timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), { _id: 1, by: 'mongosh' });
});

test('the argon CLI speaks TLS itself, honouring tlsCAFile, tlsAllowInvalidCertificates and tlsCertificateKeyFile', async () => {
  // Its own wire client takes these URIs (the driver only gets what it cannot serve).
  assert.deepEqual(plainTarget(strictUri(27017, `&ssl=true&tlsCAFile=ca.pem&tlsCertificateKeyFile=me.pem`))?.tls, { caFile: 'ca.pem', certificateKeyFile: 'me.pem', allowInvalidCertificates: false });
  assert.equal(plainTarget(strictUri(27017, '&tls=true&tlsInsecure=true')), null);
  assert.equal(plainTarget(strictUri(27017, '&tlsCAFile=ca.pem')), null, 'a TLS option without tls=true is for the driver to judge');

  const status = await runCli(strictUri(strict.port), '--json', 'status');
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).version, '0.1.0');
  const listed = await runCli(strictUri(strict.port, `&tls=true&tlsCAFile=${encodeURIComponent(pki.ca)}&tlsCertificateKeyFile=${encodeURIComponent(pki.client)}`), '--json', 'branch', 'list');
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout).map((b: any) => b.name), ['main']);

  const unverified = await runCli(strictUri(strict.port, '&tls=true'), 'status');
  assert.equal(unverified.code, 1);
  assert.match(unverified.stderr, /certificate/i);
  assert.equal((await runCli(strictUri(strict.port, '&tls=true&tlsAllowInvalidCertificates=true'), 'status')).code, 0);
  const plain = await runCli(strictUri(strict.port, ''), 'status');
  assert.equal(plain.code, 1, 'the server closes the CLI as any plain client');
});

test('branch endpoints speak TLS too: argon connect prints a tls=true URI that works', async () => {
  assert.equal((await runCli(strictUri(strict.port), 'branch', 'create', 'dev')).code, 0);
  const connected = await runCli(strictUri(strict.port), 'connect', 'dev');
  assert.equal(connected.code, 0, connected.stderr);
  const uri = connected.stdout.trim();
  const port = Number(new URL(uri).port);
  assert.notEqual(port, strict.port);
  assert.match(uri, /tls=true/);
  assert.match(await strict.uri('dev'), /tls=true/);
  const hello = await (await connect(uri)).db('admin').command({ hello: 1 });
  assert.equal(hello.argon.branch, 'dev');
  assert.equal(await pings(strictUri(port, '')), false, 'the branch endpoint refuses plain clients as main does');
});

test('with --tls-ca a client certificate is optional, but one the CA did not sign is refused', async () => {
  const withCert = (file: string) => strictUri(strict.port, `&tls=true&tlsCAFile=${encodeURIComponent(pki.ca)}&tlsCertificateKeyFile=${encodeURIComponent(file)}`);
  assert.equal(await pings(withCert(pki.client)), true);
  assert.equal(await pings(strictUri(strict.port)), true, 'no certificate');
  assert.equal(await pings(withCert(pki.rogue)), false);
  assert.match(strictLog, /TLS client certificate refused/);
  // A server without a CA does not ask for one: any certificate a client has goes unexamined.
  assert.equal(await pings(`mongodb://127.0.0.1:${lenient.port}/?directConnection=true&tls=true&tlsCAFile=${encodeURIComponent(pki.ca)}&tlsCertificateKeyFile=${encodeURIComponent(pki.rogue)}`), true);
});

test('the HTTP port serves HTTPS: /health with the CA; plain HTTP gets nothing', async () => {
  const health = await httpsGet(strict.httpPort!, '/health', pki.ca);
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).status, 'ok');
  await assert.rejects(httpsGet(strict.httpPort!, '/health'), /certificate/i);
  await assert.rejects(fetch(`http://127.0.0.1:${strict.httpPort}/health`));
});

test('argon serve --tls-cert/--tls-key/--tls-required: ready with a tls=true URI the CLI and drivers use', async () => {
  const bad = await run(process.execPath, [CLI, '--data', join(dir, 'cli'), 'serve', '--tls-key', pki.key]).catch((e) => e);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--tls-cert and --tls-key go together/);

  const data = join(dir, 'cli');
  const child = spawn(process.execPath, [CLI, '--data', data, 'serve', '--port', '0', '--http-port', '0', '--tls-cert', pki.cert, '--tls-key', pki.key, '--tls-required'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const uri = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const ready = out.split('\n').find((line) => line.includes('Argon is ready'));
        if (ready) resolve(JSON.parse(ready).uri);
      });
      child.once('exit', (code) => reject(new Error(`argon serve exited with ${code}: ${out}`)));
    });
    assert.match(uri, /tls=true/);
    // The CLI signs in with the first-admin file the server wrote into its data directory.
    const status = await run(process.execPath, [CLI, '--data', data, '--server', `${uri}&tlsCAFile=${encodeURIComponent(pki.ca)}`, '--json', 'status'], { timeout: 30_000 });
    assert.equal(JSON.parse(status.stdout).branches, 1);
    assert.equal((await run(process.execPath, [CLI, '--data', data, '--server', uri.replace('&tls=true', ''), 'status']).catch((e) => e)).code, 1);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
  }
});
