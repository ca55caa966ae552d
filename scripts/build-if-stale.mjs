#!/usr/bin/env node
// Runs before `npm start` and `npm test`: compiles each workspace whose TypeScript sources are newer
// than its build output, so a new user (or a `git pull`) never runs stale or missing JavaScript.
// Up to date, it costs a directory walk, not a compile.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** Newest modification time of the files under `dir` whose names pass `keep` (0 when none). */
function newest(dir, keep) {
  if (!existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path, keep));
    else if (keep(entry.name)) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

// Shared code first: the other packages compile against its output.
const names = readdirSync(join(root, 'packages')).sort((a, b) => Number(b === 'common') - Number(a === 'common'));
for (const name of names) {
  const pkg = join(root, 'packages', name);
  const tsconfig = join(pkg, 'tsconfig.json');
  if (!existsSync(tsconfig)) continue;
  const sources = Math.max(statSync(tsconfig).mtimeMs, newest(join(pkg, 'src'), (f) => f.endsWith('.ts')), newest(join(pkg, 'test'), (f) => f.endsWith('.ts')));
  const built = newest(join(pkg, 'dist'), (f) => f.endsWith('.js'));
  if (built >= sources) continue;
  console.error(`building packages/${name} (${built === 0 ? 'not built yet' : 'sources changed'})`);
  execFileSync('npm', ['run', 'build', '--workspace', `packages/${name}`, '--silent'], { cwd: root, stdio: 'inherit' });
}
