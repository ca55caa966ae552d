import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** A task's process once started, however it was started (cold spawn or warm runner). */
export interface Launched {
  /** The process's pid, which is also its process group's id. */
  pid: number;
  stdout: Readable;
  stderr: Readable;
  /** Settles when the process itself exits (its output may still be draining). */
  exited: Promise<ProcessEnd>;
}

export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when how it ended is unknown. */
  error?: string;
}

/**
 * Spawns `command args` detached: its own process group, so that a kill of the group reaches every
 * process the task starts, and a Ctrl-C at the worker's terminal does not reach the task directly.
 */
export function launchCold(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<Launched> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<ProcessEnd>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    child.once('error', (error) => {
      // Without a pid the process never started; later errors (a failed kill) change nothing.
      if (child.pid === undefined) reject(error);
    });
    child.once('spawn', () => resolve({ pid: child.pid as number, stdout: child.stdout!, stderr: child.stderr!, exited }));
  });
}

/** Signals a whole process group; false when it is gone already. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process (or, given a negative id, a process group) still exists. */
export function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
