import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { GarbageCollector, type GcReport } from '../../src/block/gc.js';
import { metadataBackends, stopTestPostgres, type MetadataTestEnv } from './postgres.js';
import { startPlinth, type PlinthHarness } from './server.js';

/** For tests that drive Plinth through @aws-sdk/client-s3. */

/**
 * Declares the suite once per metadata backend, each with its own server on a fresh store;
 * `server()` gives it from the suite's first `before` on. Call at the top level of a test file.
 */
export function describeEachBackend(title: string, suite: (server: () => PlinthHarness) => void): void {
  after(stopTestPostgres);
  for (const backend of metadataBackends()) {
    describe(`${title} (${backend.name})`, () => {
      let env: MetadataTestEnv | undefined;
      let plinth: PlinthHarness | undefined;
      before(async () => {
        env = await backend.open();
        plinth = await startPlinth({ metadata: env.url, dataDir: env.dataDir });
      });
      after(async () => {
        await plinth?.stop();
        await env?.cleanup();
      });
      suite(() => plinth!);
    });
  }
}

/**
 * Expects an S3 error with this code (the SDK names the error after it; HEAD errors have no body,
 * so pass undefined) and HTTP status. Resolves the error response's headers.
 */
export async function rejectsWith(call: Promise<unknown>, code: string | undefined, status: number): Promise<Record<string, string>> {
  let headers: Record<string, string> = {};
  await assert.rejects(call, (err: { name?: string; $metadata?: { httpStatusCode?: number }; $response?: { headers: Record<string, string> } }) => {
    assert.equal(err.$metadata?.httpStatusCode, status, `status of ${err.name}`);
    if (code !== undefined) assert.equal(err.name, code);
    headers = err.$response?.headers ?? {};
    return true;
  });
  return headers;
}

/** A GetObject body, whole. */
export async function bytesOf(body: unknown): Promise<Buffer> {
  return Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/**
 * Runs a garbage collection with no grace period over the server's store and node: every blob
 * no version or part references is deleted now, as the periodic sweep would once it is old enough.
 */
export async function sweep(plinth: PlinthHarness): Promise<GcReport> {
  const gc = new GarbageCollector({ meta: plinth.server.meta, node: plinth.server.node, registry: new Registry(), logger: pino({ level: 'silent' }), gracePeriodMs: 0 });
  const report = await gc.runOnce();
  assert.equal(report.errors, 0);
  return report;
}
