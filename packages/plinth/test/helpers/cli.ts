import { execFile } from 'node:child_process';
import type { Credentials } from './server.js';
import { BIN } from './serve.js';

/** The `plinth` operator commands run as a user runs them: the package's bin, in a child process. */

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Settings of the test process that would otherwise leak into the command under test. */
const OWN_SETTINGS = ['PLINTH_ACCESS_KEY', 'PLINTH_SECRET_KEY', 'PLINTH_ENDPOINT', 'PLINTH_DATA', 'PLINTH_REGION', 'FORCE_COLOR'];

/**
 * Runs `plinth <args>` to its end. Asynchronous on purpose: the server under test usually lives
 * in this same process and must keep answering while the command waits for it.
 */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !OWN_SETTINGS.includes(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...base, ...env }, cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** --endpoint and the keys as flags. */
export function connectArgs(endpoint: string, credentials: Credentials): string[] {
  return ['--endpoint', endpoint, '--access-key', credentials.accessKeyId, '--secret-key', credentials.secretAccessKey];
}

/** stdout parsed, after checking the command succeeded (its stderr in the message if not). */
export function jsonOf<T>(run: CliRun): T {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
