#!/usr/bin/env node
// Plinth's command line (dist/src/cli/main.js). A CommonJS launcher, so that the libuv thread pool
// is sized before anything starts it (an ES module entry runs only after the module loader has):
// the file writes, fsyncs, renames and opens of concurrent uploads all queue on that pool, and
// libuv's default of 4 threads holds them back. An explicit UV_THREADPOOL_SIZE wins.
'use strict';
process.env.UV_THREADPOOL_SIZE ??= '16';
const path = require('node:path');
const main = path.join(__dirname, '../dist/src/cli/main.js');
if (!require('node:fs').existsSync(main)) {
  console.error(`plinth: not built yet (${main} is missing)\nhint: run 'npm install' (it builds) or 'npm run build' at the repository's root`);
  process.exit(1);
}
import(require('node:url').pathToFileURL(main).href);
