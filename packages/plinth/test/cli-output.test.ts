import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { formatBytes, formatSeconds, formatUsd, plural } from '../src/cli/format.js';
import { bar, Progress } from '../src/cli/progress.js';
import { signedPath, signRequest } from '../src/cli/sigv4.js';

/** The CLI's pieces that need no server: its signer, its units and its progress display. */

/** node:crypto in the shape the SDK's signer takes a hash in. */
class Sha256 {
  private readonly hash;
  // The signer only ever hands strings and Uint8Arrays.
  constructor(secret?: unknown) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as string | Uint8Array);
  }
  update(data: unknown): void {
    this.hash.update(data as string | Uint8Array);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

describe('the CLI signer', () => {
  it('signs as the AWS SDK signer does, odd characters in path and query included', async () => {
    const keys = { accessKey: 'AKIDEXAMPLE', secretKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const date = new Date('2025-03-04T05:06:07Z');
    const body = JSON.stringify({ displayName: 'ana' });
    const url = new URL(`http://127.0.0.1:9000${signedPath(['_plinth', 'admin', 'users', "a b/c!'()*é"])}`);
    url.searchParams.set('bucket', 'x y+z');
    const ours = signRequest('POST', url, { 'content-type': 'application/json' }, body, keys, 'eu-west-3', date);

    const sdk = new SignatureV4({ service: 's3', region: 'eu-west-3', credentials: { accessKeyId: keys.accessKey, secretAccessKey: keys.secretKey }, sha256: Sha256, uriEscapePath: false });
    const signed = await sdk.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: url.pathname,
        query: { bucket: 'x y+z' },
        headers: { host: url.host, 'content-type': 'application/json', 'x-amz-content-sha256': ours['x-amz-content-sha256']! },
        body,
      },
      { signingDate: date },
    );
    assert.equal(url.pathname, "/_plinth/admin/users/a%20b%2Fc%21%27%28%29%2A%C3%A9");
    assert.equal(ours.authorization, signed.headers.authorization);
  });
});

describe('CLI units', () => {
  it('bytes, dollars, counts and durations', () => {
    assert.deepEqual([0, 812, 1536, 5 * 2 ** 30].map(formatBytes), ['0 B', '812 B', '1.5 KiB', '5.0 GiB']);
    assert.deepEqual([0, 0.000123, 0.12, 12.3456].map(formatUsd), ['$0.00', '$0.000123', '$0.12', '$12.35']);
    assert.deepEqual([plural(1, 'blob'), plural(12345, 'blob'), plural(2, 'entry', 'entries')], ['1 blob', '12,345 blobs', '2 entries']);
    assert.deepEqual([0.42, 12.4, 250, 7380].map(formatSeconds), ['0.4s', '12s', '4m 10s', '2h 03m']);
  });
});

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { stream: { isTTY, columns: 60, write: (text: string) => written.push(text) }, written };
}

describe('progress display', () => {
  it('at a terminal: a bar redrawn in place, never full before the end, fitted to the width, erased', async () => {
    const { stream, written } = fakeStream(true);
    const progress = new Progress('scrub', { stream });
    progress.update('1.0 GiB of ~2.0 GiB · 3 blobs · 0 corrupt and a tail that does not fit', 0.5);
    await new Promise((resolve) => setTimeout(resolve, 250));
    progress.stop();
    const frames = written.filter((w) => w.startsWith('\r\x1b[K') && w.length > 4);
    assert.ok(frames.length >= 1, 'drawn');
    assert.match(frames[0]!, /^\r\x1b\[K. scrub \[█{12}░{12}\] {2}50% 1\.0 GiB/);
    assert.ok(frames.every((f) => f.length - 4 <= 59), 'within the terminal');
    assert.equal(written.at(-1), '\r\x1b[K');
    assert.equal(bar(1.7, 10), '[█████████░]  99%');
  });

  it('elsewhere: plain lines, at most one per interval; none when quiet', () => {
    const plain = fakeStream(false);
    const progress = new Progress('gc', { stream: plain.stream, plainEveryMs: 60_000 });
    progress.update('started');
    progress.update('1 blob deleted');
    progress.note('joined the gc pass already running');
    progress.stop();
    assert.deepEqual(plain.written, ['gc: started\n', 'gc: joined the gc pass already running\n']);

    const quiet = fakeStream(false);
    const silent = new Progress('gc', { stream: quiet.stream, quiet: true });
    silent.update('started');
    silent.note('joined');
    silent.stop();
    assert.deepEqual(quiet.written, []);
  });
});
