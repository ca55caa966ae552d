// nginx on loopback as an object store's single-node ceiling: GETs served as static files
// (sendfile) and PUTs taken by the WebDAV module, both from one root directory. Started from a
// throwaway config under a temp prefix, as the current user, for one benchmark run.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];

/** The nginx binary, or null when none is installed (`apt-get install -y nginx-light` has WebDAV PUT). */
export function nginxBinary() {
  return CANDIDATES.find((path) => existsSync(path)) ?? null;
}

function config({ dir, root, port }) {
  // Workers of a master started as root would switch to nobody, who cannot write the temp dir.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `  ${name}_temp_path ${join(dir, 'temp', name)};`).join('\n');
  return `${user}worker_processes 2;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log ${join(dir, 'access.log')};
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
${temp}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw;
      client_max_body_size 0;
    }
  }
}
`;
}

function accepting(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts nginx with its prefix, config, logs and root under `dir`, listening on `port`.
 * Resolves { root, pids, stop }: `root` is where a PUT of /a/b lands as root/a/b; `pids()` is
 * the master and its workers (for CPU accounting); `stop()` shuts it down gracefully.
 */
export async function startNginx(binary, { dir, port }) {
  const root = join(dir, 'root');
  for (const d of [root, join(dir, 'temp')]) mkdirSync(d, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, config({ dir, root, port }));
  const child = spawn(binary, ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  let running = true;
  const exited = new Promise((resolve) => child.once('exit', () => resolve((running = false))));
  const deadline = Date.now() + 10_000;
  while (!(await accepting(port))) {
    if (!running || Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`nginx did not start; see ${join(dir, 'error.log')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    root,
    pids: () => [child.pid, ...readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)],
    async stop() {
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
