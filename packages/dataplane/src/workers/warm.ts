import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { PYTHON_RUNNER } from './python-runner.js';
import { exists, type Launched, type ProcessEnd } from './process.js';

/**
 * A warm Python fork server (see python-runner.ts) and the Unix socket its tasks write their
 * output to. A cold `python3 file.py` costs 20-30 ms of start-up plus a spawn on the worker's event
 * loop; a fork of the running server about a millisecond and no spawn here.
 */

interface Job {
  stdout: PassThrough;
  stderr: PassThrough;
  started(pid: number): void;
  failed(error: Error): void;
  ended(end: ProcessEnd): void;
  /** Why the child could not run the code (reported before it exits). */
  setupError?: string;
}

/** After this many fork servers die, give up on warm starts (callers then run cold). */
const MAX_FAILURES = 3;
/** `<prefix><pid>-<random>` in the temp directory: the pid tells whether its owner still runs. */
const SOCKET_DIR_PREFIX = 'dataplane-warm-';

export class PythonForkServer {
  private proc: ChildProcess | null = null;
  private server: Server | null = null;
  private socketDir = '';
  private socketPath = '';
  /** The end of the server's own stderr, to say why it died. */
  private stderrTail = '';
  private readonly jobs = new Map<string, Job>();
  private failures = 0;
  private closed = false;

  constructor(private readonly python: string, private readonly env: Record<string, string>) {}

  get usable(): boolean {
    return !this.closed && this.failures < MAX_FAILURES;
  }

  /** Starts the server ahead of the first job. */
  prewarm(): void {
    if (this.usable && !this.proc) this.start();
  }

  /** Runs one job; null when the server could not take it before the task's code ran (run it cold). */
  async launch(job: { cwd: string; env: Record<string, string>; path: string }): Promise<Launched | null> {
    if (!this.usable) return null;
    let proc: ChildProcess;
    try {
      proc = this.proc ?? this.start();
    } catch {
      this.failures = MAX_FAILURES; // no socket directory, say: cold it is
      return null;
    }
    const id = randomBytes(12).toString('hex'); // also what keeps other local processes off our socket
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let ended!: (end: ProcessEnd) => void;
    const exited = new Promise<ProcessEnd>((resolve) => (ended = resolve));
    const pid = new Promise<number>((started, failed) => this.jobs.set(id, { stdout, stderr, started, failed, ended }));
    // Kept until both output streams are done as well as the process: the task's sockets may be
    // accepted after its exit report is read, or closed before it is.
    const closed = [stdout, stderr].map((s) => new Promise((done) => s.once('close', done)));
    Promise.all([...closed, exited]).then(() => this.forget(id));
    this.setRef(true);
    proc.stdin!.write(JSON.stringify({ id, sock: this.socketPath, ...job }) + '\n');
    return pid.then(
      (pid) => ({ pid, stdout, stderr, exited }),
      () => {
        stdout.destroy();
        stderr.destroy();
        ended({ code: null, signal: null });
        return null;
      },
    );
  }

  close(): void {
    this.closed = true;
    this.proc?.kill('SIGKILL');
    this.server?.close();
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }

  private start(): ChildProcess {
    this.listen();
    const proc = spawn(this.python, ['-c', PYTHON_RUNNER], { cwd: '/', env: this.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdin!.on('error', () => undefined);
    // Its own errors only: a task's stderr goes to its socket.
    proc.stderr!.on('data', (chunk) => (this.stderrTail = (this.stderrTail + String(chunk)).slice(-2000)));
    readLines(proc.stdout!, (line) => this.onReport(line));
    const gone = () => this.onServerGone(proc);
    proc.once('error', gone);
    proc.once('exit', gone);
    this.setRef(this.jobs.size > 0);
    return proc;
  }

  /** In a fresh directory only this user can enter (Node cannot bind Linux abstract sockets as Python names them). */
  private listen(): void {
    if (this.server) return;
    sweepSocketDirs();
    const dir = (this.socketDir = mkdtempSync(join(tmpdir(), `${SOCKET_DIR_PREFIX}${process.pid}-`)));
    this.socketPath = join(dir, 'output.sock');
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.on('error', () => (this.failures = MAX_FAILURES));
    this.server.listen(this.socketPath);
  }

  /** A task's stdout or stderr: a header line `<job id> <stream>`, then the output. */
  private onConnection(socket: Socket): void {
    let header = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      header = Buffer.concat([header, chunk]);
      const nl = header.indexOf(10);
      if (nl < 0) {
        if (header.length > 200) socket.destroy();
        return;
      }
      socket.off('data', onData);
      const [id, stream] = header.subarray(0, nl).toString().split(' ');
      const job = this.jobs.get(id);
      if (!job || (stream !== 'stdout' && stream !== 'stderr')) return void socket.destroy();
      const target = job[stream];
      if (nl + 1 < header.length) target.write(header.subarray(nl + 1));
      socket.pipe(target);
      // The executor stops reading when the task is over, even if something outside its group holds the socket.
      target.once('close', () => socket.destroy());
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  }

  private onReport(line: string): void {
    let r: { id: string; pid?: number; exit?: number; signal?: number; error?: string };
    try {
      r = JSON.parse(line);
    } catch {
      return;
    }
    const job = this.jobs.get(r.id);
    if (!job) return;
    if (typeof r.pid === 'number') {
      this.failures = 0; // only failures in a row make the server give up
      job.started(r.pid);
    } else if (r.error) job.setupError = r.error;
    else if (typeof r.exit === 'number') job.ended({ code: r.exit, signal: null, error: job.setupError });
    else if (typeof r.signal === 'number') job.ended({ code: null, signal: signalName(r.signal), error: job.setupError });
  }

  /** The server died: jobs not started run cold; running ones end with an unknown status. */
  private onServerGone(proc: ChildProcess): void {
    if (this.proc !== proc) return;
    this.proc = null;
    this.failures++;
    const why = this.stderrTail.trim().split('\n').pop();
    const error = `the warm Python runner died while the task ran${why ? `: ${why}` : ''}`;
    for (const job of this.jobs.values()) {
      job.failed(new Error(error));
      job.ended({ code: null, signal: null, error });
    }
  }

  private forget(id: string): void {
    this.jobs.delete(id);
    if (this.jobs.size === 0) this.setRef(false);
  }

  /** An idle server must not keep the worker's event loop alive; a busy one must. */
  private setRef(ref: boolean): void {
    const handles = [this.proc, this.server, ...(this.proc?.stdio ?? [])] as ({ ref?(): void; unref?(): void } | null)[];
    for (const h of handles) (ref ? h?.ref : h?.unref)?.call(h);
  }
}

/** Removes the socket directories of processes that were killed before their exit handler ran. */
function sweepSocketDirs(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = name.startsWith(SOCKET_DIR_PREFIX) ? Number.parseInt(name.slice(SOCKET_DIR_PREFIX.length), 10) : NaN;
    if (pid > 0 && pid !== process.pid && !exists(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line) onLine(line);
    }
  });
}

function signalName(n: number): NodeJS.Signals {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return (entry?.[0] ?? `SIG${n}`) as NodeJS.Signals;
}

const servers = new Map<string, PythonForkServer>();

/** The shared fork server for one interpreter and start-up environment. */
export function pythonForkServer(python: string, env: Record<string, string>): PythonForkServer {
  const key = `${python}\0${JSON.stringify(env)}`;
  let server = servers.get(key);
  if (!server) servers.set(key, (server = new PythonForkServer(python, env)));
  return server;
}

/** Stops every fork server (tests, worker shutdown); running tasks are not touched. */
export function closeWarmRunners(): void {
  for (const server of servers.values()) server.close();
  servers.clear();
}
