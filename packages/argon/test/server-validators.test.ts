import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Double, MongoClient, MongoServerError, type ChangeStream } from 'mongodb';
import { ArgonServer } from '../src/server/server.js';
import { startServer } from './server-helpers.js';

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

/** A rejected write: DocumentValidationFailure (121) with mongod's errInfo. */
function failedValidation(id: unknown, details?: unknown) {
  return (err: MongoServerError) => {
    assert.equal(err.code, 121, err.message);
    assert.equal(err.message, 'Document failed validation');
    assert.deepEqual(err.errInfo?.failingDocumentId, id);
    if (details !== undefined) assert.deepEqual(err.errInfo?.details, details);
    return true;
  };
}

function code(n: number, message?: RegExp) {
  return (err: MongoServerError) => {
    assert.equal(err.code, n, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

async function options(db: ReturnType<MongoClient['db']>, name: string): Promise<unknown> {
  const [info] = await db.listCollections({ name }).toArray();
  return (info as { options?: unknown } | undefined)?.options;
}

const schema = {
  bsonType: 'object',
  required: ['name', 'qty'],
  properties: { name: { bsonType: 'string' }, qty: { bsonType: 'int', minimum: 0 } },
};

test('create with $jsonSchema: valid writes pass, invalid inserts and updates are refused with errInfo', async () => {
  const db = env.client.db('v1');
  await db.createCollection('items', { validator: { $jsonSchema: schema } });
  const items = db.collection<any>('items');
  await items.insertOne({ _id: 1, name: 'bolt', qty: 5 });

  await assert.rejects(
    items.insertOne({ _id: 2, name: 'nut' }),
    failedValidation(2, {
      operatorName: '$jsonSchema',
      schemaRulesNotSatisfied: [{ operatorName: 'required', specifiedAs: { required: ['name', 'qty'] }, missingProperties: ['qty'] }],
    }),
  );
  await assert.rejects(
    items.updateOne({ _id: 1 }, { $set: { qty: 'many' } }),
    failedValidation(1, {
      operatorName: '$jsonSchema',
      schemaRulesNotSatisfied: [{ operatorName: 'properties', propertiesNotSatisfied: [{ propertyName: 'qty', details: [{ operatorName: 'bsonType', specifiedAs: { bsonType: 'int' } }] }] }],
    }),
  );
  await assert.rejects(items.replaceOne({ _id: 1 }, { name: 7, qty: 1 }), failedValidation(1));
  await assert.rejects(items.updateOne({ _id: 9 }, { $set: { name: 'x' } }, { upsert: true }), failedValidation(9));
  // findAndModify fails as a command, with errInfo on the error itself.
  await assert.rejects(items.findOneAndUpdate({ _id: 1 }, { $unset: { name: '' } }), failedValidation(1));
  assert.deepEqual(await items.find().toArray(), [{ _id: 1, name: 'bolt', qty: 5 }]);

  // An ordered insertMany stops at the first invalid document; an unordered one skips it.
  const many = await items.insertMany([{ _id: 3, name: 'a', qty: 1 }, { _id: 4 }, { _id: 5, name: 'b', qty: 2 }], { ordered: false }).catch((e) => e);
  assert.equal(many.writeErrors.length, 1);
  assert.equal(many.writeErrors[0].index, 1);
  assert.equal(many.writeErrors[0].code, 121);
  assert.deepEqual(many.writeErrors[0].errInfo.failingDocumentId, 4);
  assert.deepEqual((await items.find().toArray()).map((d) => d._id), [1, 3, 5]);
});

test('create with query operators: one clause or an $and of the clauses that failed', async () => {
  const db = env.client.db('v2');
  await db.createCollection('orders', { validator: { status: { $in: ['A', 'B'] } } });
  const orders = db.collection<any>('orders');
  await orders.insertOne({ _id: 1, status: 'A' });
  await assert.rejects(orders.insertOne({ _id: 2, status: 'Z' }), failedValidation(2, { operatorName: '$in', specifiedAs: { status: { $in: ['A', 'B'] } } }));

  await db.createCollection('stock', { validator: { qty: { $gte: 0, $lt: 100 }, sku: { $exists: true } } });
  const stock = db.collection<any>('stock');
  await stock.insertOne({ _id: 1, qty: 3, sku: 'a' });
  await assert.rejects(
    stock.updateOne({ _id: 1 }, { $set: { qty: -1 } }),
    failedValidation(1, { operatorName: '$and', clausesNotSatisfied: [{ index: 0, details: { operatorName: '$gte', specifiedAs: { qty: { $gte: 0 } } } }] }),
  );
  await assert.rejects(stock.insertOne({ _id: 2, qty: 100 }), (err: MongoServerError) => {
    assert.deepEqual(
      err.errInfo?.details.clausesNotSatisfied.map((c: any) => c.details.operatorName),
      ['$lt', '$exists'],
    );
    return true;
  });
});

test('validationAction warn writes anyway; validationLevel off does not validate', async () => {
  const db = env.client.db('v3');
  await db.createCollection('w', { validator: { a: 1 }, validationAction: 'warn' });
  await db.collection<any>('w').insertOne({ _id: 1, a: 2 });
  await db.createCollection('o', { validator: { a: 1 }, validationLevel: 'off' });
  await db.collection<any>('o').insertOne({ _id: 1, a: 2 });
  assert.equal(await db.collection<any>('w').countDocuments(), 1);
  assert.equal(await db.collection<any>('o').countDocuments(), 1);
});

test('moderate lets updates of documents that were already invalid through', async () => {
  const db = env.client.db('v4');
  const c = db.collection<any>('m');
  await c.insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 'bad' }]);
  await db.command({ collMod: 'm', validator: { a: { $type: 'int' } }, validationLevel: 'moderate' });
  await c.updateOne({ _id: 2 }, { $set: { b: 1 } });
  await c.updateOne({ _id: 2 }, { $set: { a: 'still bad' } });
  await assert.rejects(c.updateOne({ _id: 1 }, { $set: { a: 'bad' } }), failedValidation(1));
  await assert.rejects(c.insertOne({ _id: 3, a: 'bad' }), failedValidation(3));
  // strict refuses the same update of the already-invalid document.
  await db.command({ collMod: 'm', validationLevel: 'strict' });
  await assert.rejects(c.updateOne({ _id: 2 }, { $set: { b: 2 } }), failedValidation(2));
  assert.deepEqual(await c.findOne({ _id: 2 }), { _id: 2, a: 'still bad', b: 1 });
});

test('bypassDocumentValidation on insert, update, findAndModify and bulkWrite', async () => {
  const db = env.client.db('v5');
  await db.createCollection('b', { validator: { ok: true } });
  const c = db.collection<any>('b');
  await c.insertOne({ _id: 1, ok: false }, { bypassDocumentValidation: true });
  await c.updateOne({ _id: 1 }, { $set: { n: 1 } }, { bypassDocumentValidation: true });
  await c.findOneAndUpdate({ _id: 1 }, { $set: { n: 2 } }, { bypassDocumentValidation: true });
  await c.bulkWrite(
    [{ insertOne: { document: { _id: 2, ok: 0 } } }, { updateOne: { filter: { _id: 2 }, update: { $set: { n: 3 } } } }],
    { bypassDocumentValidation: true },
  );
  await assert.rejects(c.bulkWrite([{ insertOne: { document: { _id: 3, ok: 0 } } }]), (err: any) => err.writeErrors[0].code === 121);
  assert.deepEqual(await c.find().toArray(), [{ _id: 1, ok: false, n: 2 }, { _id: 2, ok: 0, n: 3 }]);

  // $merge writes are validated too, unless the aggregate bypasses.
  const source = db.collection<any>('src');
  await source.insertOne({ _id: 4, ok: 'no' });
  const merge = [{ $merge: { into: 'b' } }];
  await assert.rejects(source.aggregate(merge).toArray(), failedValidation(4));
  await source.aggregate(merge, { bypassDocumentValidation: true }).toArray();
  assert.equal(await c.countDocuments(), 3);
});

test('collMod changes the validation; listCollections shows what was set', async () => {
  const db = env.client.db('v6');
  await db.createCollection('c');
  assert.deepEqual(await options(db, 'c'), {});
  await db.collection<any>('c').insertOne({ _id: 1, x: 1 });

  assert.deepEqual(await db.command({ collMod: 'c', validator: { x: { $gt: 0 } } }), { ok: 1 });
  assert.deepEqual(await options(db, 'c'), { validator: { x: { $gt: 0 } } });
  await assert.rejects(db.collection<any>('c').insertOne({ _id: 2, x: 0 }), failedValidation(2));

  await db.command({ collMod: 'c', validationAction: 'warn', validationLevel: 'moderate' });
  assert.deepEqual(await options(db, 'c'), { validator: { x: { $gt: 0 } }, validationLevel: 'moderate', validationAction: 'warn' });
  await db.collection<any>('c').insertOne({ _id: 2, x: 0 });

  // The validator keeps its BSON types; an empty one removes it, as in mongod.
  await db.command({ collMod: 'c', validator: { x: { $gt: new Double(0) } }, validationAction: 'error' });
  const [info] = await db.listCollections({ name: 'c' }, { promoteValues: false } as any).toArray();
  assert.equal((info as any).options.validator.x.$gt._bsontype, 'Double');
  await db.command({ collMod: 'c', validator: {} });
  assert.deepEqual(await options(db, 'c'), { validationLevel: 'moderate', validationAction: 'error' });
  await db.collection<any>('c').insertOne({ _id: 3, x: -1 });

  const filtered = await db.listCollections({ 'options.validationLevel': 'moderate' }).toArray();
  assert.deepEqual(filtered.map((c) => c.name), ['c']);
});

test('create and collMod refuse bad options as mongod 7 does', async () => {
  const db = env.client.db('v7');
  await assert.rejects(db.command({ create: 'x', validator: 7 }), code(14, /BSON field 'create.validator' is the wrong type 'int', expected type 'object'/));
  await assert.rejects(db.command({ create: 'x', validationLevel: 'loose' }), code(2, /Enumeration value 'loose' for field 'create.validationLevel'/));
  await assert.rejects(db.command({ create: 'x', validationAction: 1 }), code(14));
  await assert.rejects(db.command({ create: 'x', validator: { $jsonSchema: { invalid: 1 } } }), code(9, /Unknown \$jsonSchema keyword: invalid/));
  await assert.rejects(db.command({ create: 'x', validator: { $jsonSchema: { bsonType: 'nope' } } }), code(2));
  await assert.rejects(db.command({ create: 'x', validator: { $where: 'this.a' } }), code(2, /\$where is not allowed in this context/));
  await assert.rejects(db.command({ create: 'x', validator: { a: { $frob: 1 } } }), code(2));
  await assert.rejects(env.client.db('admin').command({ create: 'x', validator: { a: 1 } }), code(72));
  await assert.rejects(db.command({ create: 'system.x', validator: { a: 1 } }), code(72));
  assert.deepEqual(await db.listCollections().toArray(), [], 'nothing was created');

  await db.createCollection('y');
  await assert.rejects(db.command({ collMod: 'missing', validator: { a: 1 } }), code(26));
  await assert.rejects(db.command({ collMod: 'y', frobnicate: 1 }), code(40415, /BSON field 'collMod.frobnicate' is an unknown field/));
  await assert.rejects(db.command({ collMod: 'y', index: { name: 'a_1', hidden: true } }), code(238));
  await assert.rejects(db.command({ collMod: 'y', validationAction: 'shout' }), code(2));
  await assert.rejects(db.command({ collMod: 'y', validator: { $text: { $search: 'x' } } }), code(2));
  // Generic arguments are not options.
  assert.deepEqual(await db.command({ collMod: 'y', validationLevel: 'strict', comment: 'why', writeConcern: { w: 1 } }), { ok: 1 });
  assert.deepEqual(await options(db, 'y'), { validationLevel: 'strict' });
});

test('validators are per branch: set on dev, main is unaffected', async () => {
  const db = env.client.db('v8');
  await db.collection<any>('p').insertOne({ _id: 1, v: 1 });
  const admin = env.client.db('admin');
  await admin.command({ argonBranchCreate: 'dev' });
  const { port } = await admin.command({ argonEndpoint: 'dev' });
  const dev = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
  try {
    const devDb = dev.db('v8');
    await devDb.command({ collMod: 'p', validator: { v: { $type: 'number' } } });
    await assert.rejects(devDb.collection<any>('p').insertOne({ _id: 2, v: 'text' }), failedValidation(2));
    assert.deepEqual(await options(devDb, 'p'), { validator: { v: { $type: 'number' } } });

    await db.collection<any>('p').insertOne({ _id: 2, v: 'text' });
    assert.deepEqual(await options(db, 'p'), {});
    await db.createCollection('q', { validator: { a: 1 } });
    assert.equal(await options(devDb, 'q'), undefined, 'a collection created on main after the fork is not on dev');
  } finally {
    await dev.close();
  }
});

test('a collMod is a modify event with showExpandedEvents, and no event without', async () => {
  const db = env.client.db('v9');
  await db.createCollection('s');
  const open = async (showExpandedEvents: boolean) => {
    const stream = db.collection<any>('s').watch([], { showExpandedEvents });
    assert.equal(await stream.tryNext(), null);
    return stream;
  };
  const take = async (stream: ChangeStream, n: number) => {
    const out: any[] = [];
    const deadline = Date.now() + 10_000;
    while (out.length < n && Date.now() < deadline) {
      const e = await stream.tryNext();
      if (e) out.push(e);
    }
    return out;
  };
  const plain = await open(false);
  const expanded = await open(true);
  await db.command({ collMod: 's', validator: { a: 1 }, validationAction: 'warn' });
  await db.collection<any>('s').insertOne({ _id: 1, a: 2 });
  const [e1, e2] = await take(expanded, 2);
  assert.equal(e1.operationType, 'modify');
  assert.deepEqual(e1.ns, { db: 'v9', coll: 's' });
  assert.deepEqual(e1.operationDescription, { validator: { a: 1 }, validationAction: 'warn' });
  assert.deepEqual(e1.stateBeforeChange, { collectionOptions: {} });
  assert.equal(e2.operationType, 'insert');
  assert.deepEqual((await take(plain, 1)).map((e) => e.operationType), ['insert']);
  await plain.close();
  await expanded.close();
});

test('validation options survive a server restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-validators-'));
  const start = async () => {
    const server = await ArgonServer.start({ dataDir: dir, port: 0, auth: false, logger: pino({ level: 'silent' }) });
    const client = new MongoClient(await server.uri('main'), { serverSelectionTimeoutMS: 5000 });
    await client.connect();
    return { server, client, stop: async () => (await client.close(), await server.stop()) };
  };
  try {
    let s = await start();
    await s.client.db('r').createCollection('k', { validator: { $jsonSchema: { required: ['k'] } }, validationLevel: 'moderate' });
    await s.stop();
    s = await start();
    try {
      assert.deepEqual(await options(s.client.db('r'), 'k'), { validator: { $jsonSchema: { required: ['k'] } }, validationLevel: 'moderate' });
      await assert.rejects(s.client.db('r').collection<any>('k').insertOne({ _id: 1 }), failedValidation(1));
      await s.client.db('r').collection<any>('k').insertOne({ _id: 2, k: 1 });
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
