// Installs the MongoDB Node driver v6 beside the workspace (test/drivers/v6), so the tests can
// check Argon against v6 and v7 at once: npm cannot hold both versions of `mongodb` in one tree
// here without a peer-dependency conflict.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../test/drivers/v6/', import.meta.url));
if (!existsSync(`${dir}node_modules/mongodb/package.json`)) {
  execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-package-lock'], { stdio: 'inherit' });
}
