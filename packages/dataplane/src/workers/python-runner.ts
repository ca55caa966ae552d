/**
 * The warm Python runner, run as `python3 -c PYTHON_RUNNER`: a fork server. Interpreter start-up
 * (20-30 ms, most of it site-packages' .pth files) is paid once; each job is a fork of this
 * pristine process, which never runs task code itself, so tasks still cannot see each other's
 * state (`random` reseeds itself after a fork; only the str hash seed is shared).
 *
 * Jobs arrive on stdin, one JSON line each: {id, sock, cwd, env, path}. The forked child becomes
 * its own process group (so a kill reaches everything the task starts), connects two Unix
 * sockets to the worker (`sock`) as its stdout and stderr, takes the job's cwd and
 * environment and runs the code as `python3 path` would: same argv, sys.path[0], __main__ module,
 * traceback and exit code. The server reports on stdout, one JSON line each: {id, pid} once the
 * task's process group exists, then {id, exit} or {id, signal}; before that, {id, error} if the
 * child could not be set up.
 */
export const PYTHON_RUNNER = String.raw`
import atexit, builtins, gc, json, os, select, signal, socket, sys, threading, types
# Modules tasks commonly import, loaded once here instead of in every task.
import base64, collections, csv, datetime, functools, hashlib, itertools, math, pathlib, re, subprocess, time, typing

REPORTS = 1
jobs = {}
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)

def report(message):
    os.write(REPORTS, (json.dumps(message) + '\n').encode())

def connect(job, stream):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(job['sock'])
    s.sendall(('%s %s\n' % (job['id'], stream)).encode())
    return s.detach()

def child(job):
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.close(wake_r)
    os.close(wake_w)
    try:
        os.setpgid(0, 0)
        out, err = connect(job, 'stdout'), connect(job, 'stderr')
    except BaseException as e:
        report({'id': job['id'], 'error': 'could not set up the task: %s' % e})
        os._exit(127)
    null = os.open(os.devnull, os.O_RDONLY)
    for fd, target in ((null, 0), (out, 1), (err, 2)):  # fd 1 was the reports pipe: replaced
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    os.chdir(job['cwd'])
    os.environ.clear()
    os.environ.update(job['env'])
    run(job['path'])  # never returns

def run(path):
    sys.argv = [path]
    sys.path[0] = os.path.dirname(path)
    main = types.ModuleType('__main__')
    main.__file__ = path
    main.__builtins__ = builtins
    sys.modules['__main__'] = main
    status = 0
    try:
        with open(path, 'rb') as f:
            code = compile(f.read(), path, 'exec')
        exec(code, main.__dict__)
    except SystemExit as e:
        status = exit_status(e.code)
    except BaseException:
        kind, error, tb = sys.exc_info()
        # Without this runner's own frame the traceback reads as a cold run's does.
        error.__traceback__ = tb.tb_next
        sys.excepthook(kind, error, tb.tb_next)
        status = 1
    finish(main, status)

def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1

def finish(main, status):
    # What interpreter shutdown does that a task can notice, without the full teardown: that
    # touches every object inherited from the server, copying each page (20 ms, not 1).
    try:
        threading._shutdown()  # wait for non-daemon threads
        atexit._run_exitfuncs()
        main.__dict__.clear()  # the task's objects' finalizers run: unclosed files get flushed
        gc.collect()
    except SystemExit as e:
        status = exit_status(e.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(status)

def start(job):
    pid = os.fork()
    if pid == 0:
        child(job)  # never returns
    jobs[pid] = job['id']
    try:
        os.setpgid(pid, pid)  # also here, so the group exists whichever of the two runs first
    except OSError:
        pass
    report({'id': job['id'], 'pid': pid})

def reap():
    while jobs:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        id = jobs.pop(pid, None)
        if id is None:
            continue
        if os.WIFSIGNALED(status):
            report({'id': id, 'signal': os.WTERMSIG(status)})
        else:
            report({'id': id, 'exit': os.WEXITSTATUS(status)})

def serve():
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    pending = b''
    while True:
        ready, _, _ = select.select([0, wake_r], [], [])
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 512):
                        break
                except BlockingIOError:
                    break
            reap()
        if 0 in ready:
            data = os.read(0, 1 << 16)
            if not data:
                return  # the worker is gone
            pending += data
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                start(json.loads(line))

gc.freeze()  # the server's objects: the tasks' collections skip them, and the pages stay shared
serve()
`;
