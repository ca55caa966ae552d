import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import type { TaskAssignment, TaskOutcome } from '../types.js';
import { baseEnv, prepareAttemptDir, removeAttemptDir, type AttemptDir } from './attempt-dir.js';
import { OutputCollector, type OutputLine } from './output.js';
import { killGroup, launchCold, type Launched, type ProcessEnd } from './process.js';
import { redactText, secretVariants } from './redact.js';
import { pythonForkServer } from './warm.js';

/** Runs one task attempt: its code in a fresh directory, its output as numbered, redacted lines. */

export type { OutputLine } from './output.js';

export interface ExecuteOptions {
  workRoot: string;
  /** Default /usr/bin/python3. */
  python?: string;
  /** Default: the Node running the worker. */
  node?: string;
  /** Added to every task's environment. */
  env?: Record<string, string>;
  onLines: (lines: OutputLine[]) => void;
  /** Called once the task's process exists (before any of its output). */
  onStarted?: (info: { pid: number; at: Date; warm: boolean }) => void;
  /** Python on a pre-started runner (default true); false always spawns cold. */
  warm?: boolean;
  /** Bytes of output kept per attempt (default 10 MB). */
  maxOutputBytes?: number;
  /** Between SIGTERM and SIGKILL when stopping a task (default 2000 ms). */
  killGraceMs?: number;
}

export interface Execution {
  done: Promise<TaskOutcome>;
  cancel(reason: 'cancelled' | 'timed_out'): void;
}

const MAX_OUTPUT_JSON = 16 * 1024 * 1024;
/** How long output may keep draining after the process exited and its group was killed. */
const DRAIN_MS = 1000;
/** Environment read at interpreter start-up: a warm runner must have been started with the same. */
const STARTUP_VARS = /^(PYTHON|LC_|LANG$)/;

export function executeTask(a: TaskAssignment, options: ExecuteOptions): Execution {
  const attempt = new Attempt(a, options);
  return { done: attempt.run(), cancel: (reason) => attempt.stop(reason) };
}

/** Starts the warm Python runner ahead of the first task, with the options tasks will use. */
export function prewarm(options: { python?: string; env?: Record<string, string> }): void {
  warmRunner(options.python ?? '/usr/bin/python3', options.env ?? {}).runner.prewarm();
}

/** The fork server for this interpreter and start-up environment, and that environment. */
function warmRunner(python: string, extraEnv: Record<string, string>) {
  const env = { ...baseEnv(tmpdir()), ...startupVars(extraEnv) };
  return { runner: pythonForkServer(python, env), startup: startupVars(env) };
}

function startupVars(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => STARTUP_VARS.test(k)).sort(([a], [b]) => (a < b ? -1 : 1)));
}

class Attempt {
  private stopReason: 'cancelled' | 'timed_out' | null = null;
  private proc: Launched | null = null;
  private finished = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly output: OutputCollector;
  private readonly secrets: string[];

  constructor(private readonly a: TaskAssignment, private readonly options: ExecuteOptions) {
    this.secrets = secretVariants(Object.values(a.secrets ?? {}));
    this.output = new OutputCollector({
      onLines: options.onLines,
      secrets: this.secrets,
      maxBytes: options.maxOutputBytes ?? 10 * 1024 * 1024,
    });
  }

  async run(): Promise<TaskOutcome> {
    let dir: AttemptDir | null = null;
    try {
      dir = await prepareAttemptDir(this.a, this.options.workRoot, this.options.env);
      if (this.stopReason) return this.stoppedOutcome(null);
      const proc = await this.launch(dir).catch((error: Error) => {
        throw new StartError(`could not start the task: ${error.message}`);
      });
      this.proc = proc;
      this.armTimeout();
      if (this.stopReason) this.terminate(); // stopped while it was starting
      const end = await this.drain(proc);
      const outcome = await this.outcome(end, dir.outputPath);
      // JSON.parse quotes the text it failed on, which may hold a secret.
      return outcome.error ? { ...outcome, error: redactText(outcome.error, this.secrets) } : outcome;
    } catch (error) {
      const message = error instanceof StartError ? error.message : `task failed in the worker: ${(error as Error).message}`;
      return { state: 'failed', exitCode: null, error: message, output: null };
    } finally {
      this.finished = true;
      for (const t of this.timers) clearTimeout(t);
      this.output.flush();
      if (dir) await removeAttemptDir(dir.dir);
    }
  }

  stop(reason: 'cancelled' | 'timed_out'): void {
    if (this.stopReason || this.finished) return;
    this.stopReason = reason;
    const limit = reason === 'timed_out' && this.a.timeoutMs ? ` after ${this.a.timeoutMs} ms` : '';
    this.output.system(reason === 'timed_out' ? `[timed out${limit}: stopping the task]` : '[cancelled: stopping the task]');
    if (this.proc) this.terminate();
  }

  private async launch(dir: AttemptDir): Promise<Launched> {
    const interpreter = this.interpreter();
    const hot = this.a.run === 'python' && this.options.warm !== false ? await this.launchWarm(interpreter, dir) : null;
    const proc = hot ?? (await launchCold(interpreter, [dir.codePath], dir.dir, dir.env));
    this.options.onStarted?.({ pid: proc.pid, at: new Date(), warm: hot !== null });
    return proc;
  }

  private interpreter(): string {
    switch (this.a.run) {
      case 'python':
        return this.options.python ?? '/usr/bin/python3';
      case 'bash':
        return '/bin/bash';
      case 'node':
        return this.options.node ?? process.execPath;
      default:
        throw new Error(`unknown task kind ${JSON.stringify(this.a.run)}`);
    }
  }

  private launchWarm(python: string, dir: AttemptDir): Promise<Launched | null> {
    const { runner, startup } = warmRunner(python, this.options.env ?? {});
    // A secret named like PYTHONPATH changes start-up: only a cold interpreter honours it.
    if (JSON.stringify(startupVars(dir.env)) !== JSON.stringify(startup)) return Promise.resolve(null);
    return runner.launch({ cwd: dir.dir, env: dir.env, path: dir.codePath });
  }

  private armTimeout(): void {
    const ms = this.a.timeoutMs;
    if (ms === null || ms === undefined || ms <= 0) return;
    this.timers.push(setTimeout(() => this.stop('timed_out'), Math.min(ms, 2 ** 31 - 1)));
  }

  /** SIGTERM to the whole group, SIGKILL after the grace period if it is still there. */
  private terminate(): void {
    const pid = this.proc!.pid;
    killGroup(pid, 'SIGTERM');
    this.timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), this.options.killGraceMs ?? 2000));
  }

  /** Reads output until the process has exited and its pipes are closed; kills what it left behind. */
  private async drain(proc: Launched): Promise<ProcessEnd> {
    const sinks = [this.pipe(proc.stdout, 'stdout'), this.pipe(proc.stderr, 'stderr')];
    const end = await proc.exited;
    // Background children the task forked would outlive it and hold its pipes open.
    killGroup(proc.pid, 'SIGKILL');
    const drained = Promise.all(sinks.map((s) => s.closed));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, DRAIN_MS)))]);
    clearTimeout(timer);
    // Something that escaped the group (its own session) may still hold a pipe: stop reading.
    for (const s of sinks) s.finish();
    return end;
  }

  private pipe(stream: Readable, name: 'stdout' | 'stderr'): { closed: Promise<void>; finish(): void } {
    const sink = this.output.stream(name);
    stream.on('data', (chunk: Buffer) => sink.write(chunk));
    const closed = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    return {
      closed,
      finish: () => {
        stream.removeAllListeners('data');
        stream.destroy();
        sink.end();
      },
    };
  }

  private async outcome(end: ProcessEnd, outputPath: string): Promise<TaskOutcome> {
    if (this.stopReason) return this.stoppedOutcome(end.code);
    if (end.error) return { state: 'failed', exitCode: end.code, error: end.error, output: null };
    if (end.code !== 0) {
      const error = end.code === null ? `killed by signal ${end.signal}` : `exited with code ${end.code}`;
      return { state: 'failed', exitCode: end.code, error, output: null };
    }
    try {
      return { state: 'succeeded', exitCode: 0, error: null, output: await readOutput(outputPath) };
    } catch (error) {
      return { state: 'failed', exitCode: 0, error: (error as Error).message, output: null };
    }
  }

  private stoppedOutcome(exitCode: number | null): TaskOutcome {
    const reason = this.stopReason!;
    const limit = reason === 'timed_out' && this.a.timeoutMs ? ` after ${this.a.timeoutMs} ms` : '';
    return { state: reason, exitCode, error: reason === 'timed_out' ? `timed out${limit}` : 'cancelled', output: null };
  }
}

class StartError extends Error {}

/** The JSON the task wrote to $DATAPLANE_OUTPUT; null when it wrote nothing. */
async function readOutput(path: string): Promise<unknown> {
  const info = await stat(path).catch(() => null);
  if (!info) return null;
  if (info.size > MAX_OUTPUT_JSON) throw new Error(`$DATAPLANE_OUTPUT is ${info.size} bytes, over the ${MAX_OUTPUT_JSON}-byte limit`);
  const text = await readFile(path, 'utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`the task wrote invalid JSON to $DATAPLANE_OUTPUT: ${(error as Error).message}`);
  }
}
