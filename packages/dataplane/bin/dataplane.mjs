#!/usr/bin/env node
// Dataplane's command line (dist/src/cli/main.js, compiled from src/cli/main.ts). The bin is this
// file, kept in git, because npm links a package's bins at install time: a bin pointing into dist/
// would not exist yet on a fresh clone, and `npx dataplane` would run a stranger's package.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(`dataplane: not built yet (${main.pathname} is missing)\nhint: run 'npm install' (it builds) or 'npm run build' at the repository's root`);
  process.exit(1);
}
await import(main.href);
