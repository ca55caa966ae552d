#!/usr/bin/env node
// Plinth's command line (dist/src/cli/main.js). A CommonJS launcher, so that the libuv thread pool
// is sized before anything starts it (an ES module entry runs only after the module loader has):
// the file writes, fsyncs, renames and opens of concurrent uploads all queue on that pool, and
// libuv's default of 4 threads holds them back. An explicit UV_THREADPOOL_SIZE wins.
'use strict';
process.env.UV_THREADPOOL_SIZE ??= '16';
import('../dist/src/cli/main.js');
