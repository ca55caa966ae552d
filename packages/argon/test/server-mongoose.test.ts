import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose, { Schema } from 'mongoose';
import { startServer } from './server-helpers.js';

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await mongoose.disconnect();
  await env.stop();
});

test('a small mongoose app: schemas, validation, unique index, populate', async () => {
  const conn = await mongoose.createConnection(env.uri, { dbName: 'blog' }).asPromise();
  const Author = conn.model('Author', new Schema({ name: { type: String, required: true }, email: { type: String, unique: true } }));
  const Post = conn.model(
    'Post',
    new Schema({ title: { type: String, required: true, minlength: 3 }, author: { type: Schema.Types.ObjectId, ref: 'Author' }, likes: { type: Number, default: 0 } }),
  );
  await Author.init();
  const ada = await Author.create({ name: 'Ada', email: 'ada@x' });
  await Post.create([{ title: 'Engines', author: ada._id }, { title: 'Notes', author: ada._id, likes: 3 }]);
  await assert.rejects(Post.create({ title: 'x' }), { name: 'ValidationError' });
  await assert.rejects(Author.create({ name: 'Copy', email: 'ada@x' }), (err: any) => err.code === 11000);
  const posts = await Post.find().sort({ likes: -1 }).populate('author').lean();
  assert.deepEqual(posts.map((p) => [p.title, (p.author as any).name]), [['Notes', 'Ada'], ['Engines', 'Ada']]);
  await Post.updateOne({ title: 'Engines' }, { $inc: { likes: 5 } });
  assert.equal((await Post.findOne({ title: 'Engines' }))!.likes, 5);
  assert.equal(await Post.countDocuments({ likes: { $gt: 2 } }), 2);
  await conn.close();
});
