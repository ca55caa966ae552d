import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../src/index.js';

const WRITER = new URL('./fixtures/crash-writer.js', import.meta.url).pathname;

interface Ack {
  branch: string;
  first: number;
  size: number;
}

/**
 * Starts the writer, lets it run for `ms` after its first acknowledgement (start-up time varies a
 * lot with machine load), kills it with SIGKILL and returns what it acknowledged.
 */
function runAndKill(dir: string, start: number, ms: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let killTimer: NodeJS.Timeout | undefined;
    let buffered = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [, branch, first, size] = line.split(' ');
        acks.push({ branch: branch!, first: Number(first), size: Number(size) });
      }
      if (acks.length > 0 && !killTimer) killTimer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A writer that never acknowledges is killed too, and the test then fails on its empty list.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (_code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(deadline);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own: ${stderr}`));
      else resolve(acks);
    });
  });
}

test('acknowledged writes survive kill -9, and no batch is half-applied', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'argon-crash-'));
  try {
    const acked = new Map<number, string>();
    let start = 0;
    for (let round = 0; round < 4; round++) {
      const acks = await runAndKill(dir, start, 300 + round * 250);
      assert.ok(acks.length > 0, `round ${round}: the writer acknowledged nothing`);
      for (const a of acks) for (let i = 0; i < a.size; i++) acked.set(a.first + i, a.branch);

      const store = await Store.open(dir, { compactionIntervalMs: 0 });
      try {
        const seen = new Map<number, string>();
        for (const branch of store.listBranches().map((b) => b.name)) {
          const docs = [...store.scan(branch, 'crash', 'docs')];
          assert.equal(store.count(branch, 'crash', 'docs'), docs.length, `${branch}: count agrees with scan`);
          const batches = new Map<number, number>();
          for (const doc of docs) {
            batches.set(doc.batch as number, (batches.get(doc.batch as number) ?? 0) + 1);
            if (!seen.has(doc._id as number) || branch !== 'main') seen.set(doc._id as number, branch);
          }
          for (const [batch, n] of batches) assert.equal(n, 25, `${branch}: batch ${batch} is whole`);
        }
        for (const [id, branch] of acked) {
          const doc = store.get(branch, 'crash', 'docs', id);
          assert.ok(doc, `acknowledged document ${id} on ${branch} survived`);
        }
        const maxId = Math.max(...[...seen.keys()], -1);
        start = maxId + 1;
      } finally {
        await store.close();
      }
    }
    assert.ok(acked.size >= 100, `enough acknowledged writes to mean something (${acked.size})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
