/** Shared by the engine, API and CLI tests: a real engine on a real store with forked workers. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/runs/engine.js';
import { openStore } from '../src/store/open.js';
import type { DataStore } from '../src/store/types.js';
import type { Run } from '../src/types.js';

export interface TestEngine {
  engine: Engine;
  store: DataStore;
  dataDir: string;
  /** A scratch directory for the tasks' marker files. */
  scratch: string;
  close(): Promise<void>;
}

export interface EngineEnv {
  url: string | undefined;
  dataDir: string;
  cleanup(): Promise<void>;
}

export function sqliteEnv(): EngineEnv {
  const dataDir = mkdtempSync(join(tmpdir(), 'dataplane-test-'));
  return { url: undefined, dataDir, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
}

export async function startEngine(options: { workers?: number; slots?: number; env?: EngineEnv; heartbeatTimeoutMs?: number } = {}): Promise<TestEngine> {
  const env = options.env ?? sqliteEnv();
  const store = await openStore({ dataDir: env.dataDir, database: env.url });
  const engine = new Engine();
  await engine.start({ store, dataDir: env.dataDir, workers: options.workers ?? 1, slots: options.slots ?? 4, heartbeatTimeoutMs: options.heartbeatTimeoutMs });
  const scratch = mkdtempSync(join(tmpdir(), 'dataplane-scratch-'));
  return {
    engine,
    store,
    dataDir: env.dataDir,
    scratch,
    close: async () => {
      await engine.stop();
      await store.close();
      await env.cleanup();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Applies a pipeline, starts a run and waits for its end. */
export async function runToEnd(t: TestEngine, yaml: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Run> {
  const { version } = await t.engine.applyPipeline(yaml);
  const run = await t.engine.startRun(version.name, { params });
  return t.engine.waitForRun(run.id, timeoutMs);
}

/** Indents a block of code for a YAML `code: |` literal. */
export function block(code: string, indent = 6): string {
  return code
    .trim()
    .split('\n')
    .map((l) => ' '.repeat(indent) + l)
    .join('\n');
}

export function readLines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
