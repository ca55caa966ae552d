/**
 * S3 conformance: test/fixtures/s3_conformance.py, a boto3 suite modelled on the core functional
 * tests of ceph/s3-tests (each test named after the s3-tests test it corresponds to), run against
 * Plinth once per metadata backend with Debian's boto3 (/usr/bin/python3, as .ci/run installs it).
 *
 * The suite runs as the admin and a second user and writes a JSON report of its results; this
 * file fails listing every Python test that failed or errored, with its message. Tests skipped on
 * purpose each give their reason (a documented difference from S3); they are counted and shown.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describeEachBackend } from './helpers/s3.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 's3_conformance.py');
const PYTHON = '/usr/bin/python3';
/** The suite is larger than this; a report with fewer tests means it did not load them all. */
const MIN_TESTS = 150;

interface Outcome {
  name: string;
  message: string;
}

/** What s3_conformance.py writes to $S3TEST_RESULTS. */
interface Report {
  total: number;
  passed: string[];
  failures: Outcome[];
  errors: Outcome[];
  skipped: { name: string; reason: string }[];
  seconds: number;
}

/** A failed Python test as one readable block: its name, then the end of its traceback. */
function describeOutcome(kind: string, { name, message }: Outcome): string {
  const lines = message.trimEnd().split('\n');
  const traceback = lines.slice(1);
  const tail = traceback.length > 14 ? ['  …', ...traceback.slice(-14)] : traceback;
  return [`${kind} ${name}: ${lines[0]}`, ...tail.map((line) => `    ${line}`)].join('\n');
}

describeEachBackend('ceph/s3-tests conformance suite through boto3', (server) => {
  let report: Report;

  before(async () => {
    const plinth = server();
    const alt = await plinth.addUser('alt user');
    const admin = plinth.server.admin;
    const dir = mkdtempSync(join(tmpdir(), 'plinth-s3-conformance-'));
    const results = join(dir, 'results.json');
    // Only what the suite needs: no AWS_* settings or ~/.aws files of the machine leak in.
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      PYTHONDONTWRITEBYTECODE: '1',
      S3TEST_ENDPOINT: plinth.endpoint,
      S3TEST_REGION: plinth.server.region,
      S3TEST_MAIN_ACCESS_KEY: admin.accessKey,
      S3TEST_MAIN_SECRET_KEY: admin.secretKey,
      S3TEST_MAIN_USER_ID: admin.id,
      S3TEST_MAIN_DISPLAY_NAME: admin.displayName,
      S3TEST_ALT_ACCESS_KEY: alt.credentials.accessKeyId,
      S3TEST_ALT_SECRET_KEY: alt.credentials.secretAccessKey,
      S3TEST_ALT_USER_ID: alt.user.id,
      S3TEST_ALT_DISPLAY_NAME: alt.user.displayName,
      S3TEST_RESULTS: results,
      // The store is thrown away with the server: emptying every test bucket would only cost time.
      S3TEST_CLEANUP: '0',
    };
    try {
      await promisify(execFile)(PYTHON, [SCRIPT], { env, maxBuffer: 32 * 1024 * 1024, timeout: 30 * 60_000 }).catch((err: Error & { stderr?: string }) => {
        throw new Error(`${PYTHON} ${SCRIPT} did not finish: ${err.message}\n${err.stderr ?? ''}`);
      });
      report = JSON.parse(readFileSync(results, 'utf8')) as Report;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the whole suite', (t) => {
    const { total, passed, failures, errors, skipped, seconds } = report;
    t.diagnostic(`${total} tests in ${seconds} s: ${passed.length} passed, ${failures.length} failed, ${errors.length} errors, ${skipped.length} skipped`);
    assert.ok(total >= MIN_TESTS, `only ${total} tests ran`);
    assert.equal(passed.length + failures.length + errors.length + skipped.length, total);
  });

  it('passes every test it does not skip', () => {
    const broken = [...report.failures.map((o) => describeOutcome('FAIL', o)), ...report.errors.map((o) => describeOutcome('ERROR', o))];
    if (broken.length > 0) assert.fail(`${broken.length} of ${report.total} conformance tests did not pass:\n\n${broken.join('\n\n')}`);
  });

  it('gives the reason for every test it skips', (t) => {
    for (const { name, reason } of report.skipped) t.diagnostic(`skipped ${name}: ${reason}`);
    const unexplained = report.skipped.filter((s) => s.reason.trim().length < 20).map((s) => s.name);
    assert.deepEqual(unexplained, [], 'skipped without a reason');
  });
});
