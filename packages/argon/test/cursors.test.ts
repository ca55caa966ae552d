import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Long } from 'bson';
import { CursorManager } from '../src/commands/cursors.js';

const docs = (n: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(10, i))[Symbol.iterator]();

test('cursors batch, resume with getMore, close when exhausted, and time out when idle', async () => {
  const cursors = new CursorManager(50);
  try {
    const first = cursors.open('db.c', docs(5), 2, 1);
    assert.equal(first.batch.length, 2);
    assert.ok(!first.id.isZero());
    const second = cursors.getMore(first.id, 'db.c', 2);
    assert.equal(second.batch.length, 2);
    assert.ok(second.id.equals(first.id));
    assert.throws(() => cursors.getMore(first.id, 'db.other', 2), { codeName: 'Unauthorized' });
    const last = cursors.getMore(first.id, 'db.c', 10);
    assert.equal(last.batch.length, 1);
    assert.ok(last.id.isZero(), 'an exhausted cursor is closed');
    assert.throws(() => cursors.getMore(first.id, 'db.c', 1), { codeName: 'CursorNotFound', code: 43 });

    const exact = cursors.open('db.c', docs(3), 3, 1);
    assert.ok(exact.id.isZero(), 'no cursor is left open when the first batch takes everything');

    const idle = cursors.open('db.c', docs(10), 1, 1);
    assert.equal(cursors.size, 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(cursors.size, 0, 'the idle cursor was reaped');
    assert.throws(() => cursors.getMore(idle.id, 'db.c', 1), { code: 43 });
    assert.deepEqual(cursors.kill([Long.fromNumber(12345)]).notFound.map(String), ['12345']);
  } finally {
    cursors.close();
  }
});
