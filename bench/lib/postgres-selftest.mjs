// Self-test / quick measurement for bench/lib/postgres.mjs.
//
//   node bench/lib/postgres-selftest.mjs [docs=1000] [runs=5] [--file-copy]
//
// Starts a throwaway PostgreSQL 15, loads `docs` documents of ~1 KiB into
// template_src, times `runs` copies with CREATE DATABASE ... TEMPLATE
// (STRATEGY = WAL_LOG, PG15's default), optionally also FILE_COPY, prints the
// median and stops the server.

import {
  loadTemplate,
  median,
  startPostgres,
  templateSize,
  timeTemplateCopies,
} from './postgres.mjs';
import { makeDoc } from './docs.mjs';

const args = process.argv.slice(2);
const positional = args.filter((a) => !a.startsWith('--'));
const docs = Number(positional[0] ?? 1000);
const runs = Number(positional[1] ?? 5);
const alsoFileCopy = args.includes('--file-copy');

const fmt = (ms) => `${ms.toFixed(1)} ms`;
const log = (msg) => console.error(`[pg] ${msg}`);

const server = await startPostgres({ log });
let ok = false;
try {
  console.log(`server: ${server.url} (dir ${server.dir})`);
  console.log(`doc size: ${JSON.stringify(makeDoc(0)).length} bytes of JSON`);

  const t0 = performance.now();
  let lastPct = -1;
  await loadTemplate(server, docs, makeDoc, {
    onProgress(done, total) {
      const pct = Math.floor((done / total) * 10) * 10;
      if (pct !== lastPct) {
        lastPct = pct;
        log(`loaded ${done}/${total}`);
      }
    },
  });
  const loadMs = performance.now() - t0;
  const size = await templateSize(server);
  console.log(
    `load: ${docs} docs in ${fmt(loadMs)} (${Math.round(docs / (loadMs / 1000))} docs/s), ` +
      `template_src = ${(size / 1024 / 1024).toFixed(1)} MiB`,
  );

  const wal = await timeTemplateCopies(server, runs, { strategy: 'WAL_LOG' });
  console.log(`copy WAL_LOG  (default): runs ${wal.map((x) => x.toFixed(1)).join(', ')}`);
  console.log(`median copy ms (WAL_LOG): ${median(wal).toFixed(1)}`);

  if (alsoFileCopy) {
    const fc = await timeTemplateCopies(server, runs, { strategy: 'FILE_COPY' });
    console.log(`copy FILE_COPY:          runs ${fc.map((x) => x.toFixed(1)).join(', ')}`);
    console.log(`median copy ms (FILE_COPY): ${median(fc).toFixed(1)}`);
  }
  ok = true;
} finally {
  await server.stop();
}
process.exitCode = ok ? 0 : 1;
