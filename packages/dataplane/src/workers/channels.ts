import type { ChildProcess } from 'node:child_process';
import { WebSocket } from 'ws';
import type { Channel } from './protocol.js';

/**
 * Channel adapters: the IPC channel of a forked local worker (both ends), a WebSocket (a remote
 * worker), and a pair in memory (tests, or a worker inside the server's own process).
 */

/** The worker's end of the IPC channel to the process that forked it. */
export function ipcChannel<In, Out>(proc: NodeJS.Process = process): Channel<In, Out> {
  if (!proc.send) throw new Error('this process has no IPC channel (it was not started with fork())');
  let pending = 0;
  let closing = false;
  const disconnect = () => {
    if (proc.connected) proc.disconnect();
  };
  return {
    send(message) {
      if (!proc.connected) return;
      pending++;
      proc.send!(message, undefined, undefined, () => {
        // close() waits for what was sent: `done` messages sent while stopping must arrive.
        if (--pending === 0 && closing) disconnect();
      });
    },
    onMessage: (listener) => void proc.on('message', (m) => listener(m as In)),
    onClose: (listener) => void proc.once('disconnect', listener),
    close() {
      closing = true;
      if (pending === 0) disconnect();
    },
  };
}

/** The server's end of the IPC channel to a worker it forked. */
export function childChannel<In, Out>(child: ChildProcess): Channel<In, Out> {
  return {
    send(message) {
      if (child.connected) child.send(message as object, (error) => void error);
    },
    onMessage: (listener) => void child.on('message', (m) => listener(m as In)),
    onClose(listener) {
      let called = false;
      const once = () => {
        if (!called) (called = true), listener();
      };
      child.once('disconnect', once);
      child.once('exit', once);
    },
    close() {
      if (child.connected) child.disconnect();
    },
  };
}

/** Either end of a WebSocket (a `ws` socket, client or accepted by a server): JSON text frames. */
export function wsChannel<In, Out>(socket: WebSocket): Channel<In, Out> {
  const queued: string[] = [];
  socket.once('open', () => {
    for (const data of queued.splice(0)) socket.send(data);
  });
  socket.on('error', () => undefined); // reported as a close
  return {
    send(message) {
      const data = JSON.stringify(message);
      if (socket.readyState === WebSocket.OPEN) socket.send(data);
      else if (socket.readyState === WebSocket.CONNECTING) queued.push(data);
    },
    onMessage(listener) {
      socket.on('message', (data, isBinary) => {
        if (isBinary) return;
        let message: In;
        try {
          message = JSON.parse(String(data)) as In;
        } catch {
          return; // not ours
        }
        listener(message);
      });
    },
    onClose: (listener) => void socket.once('close', () => listener()),
    close: () => socket.close(1000),
  };
}

/** Connects to a server's worker endpoint; resolves once the socket is open. */
export function connectWebSocket<In, Out>(url: string, options: { headers?: Record<string, string> } = {}): Promise<Channel<In, Out>> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: options.headers });
    socket.once('open', () => resolve(wsChannel<In, Out>(socket)));
    socket.once('error', reject);
  });
}

/** Two connected channels in memory; messages are delivered asynchronously, as over a wire. */
export function channelPair<A, B>(): [Channel<A, B>, Channel<B, A>] {
  const ends = [makeEnd<A, B>(), makeEnd<B, A>()] as const;
  ends[0].peer = ends[1] as unknown as End<unknown, unknown>;
  ends[1].peer = ends[0] as unknown as End<unknown, unknown>;
  return [ends[0].channel, ends[1].channel];
}

interface End<In, Out> {
  channel: Channel<In, Out>;
  peer: End<unknown, unknown> | null;
  deliver(message: In): void;
  closed(): void;
}

function makeEnd<In, Out>(): End<In, Out> {
  const messages: ((m: In) => void)[] = [];
  const closes: (() => void)[] = [];
  let open = true;
  const end: End<In, Out> = {
    peer: null,
    deliver: (m) => open && setImmediate(() => messages.forEach((l) => l(m))),
    closed() {
      if (!open) return;
      open = false;
      setImmediate(() => closes.forEach((l) => l()));
    },
    channel: {
      send: (m) => open && end.peer?.deliver(JSON.parse(JSON.stringify(m))),
      onMessage: (l) => void messages.push(l),
      onClose: (l) => void closes.push(l),
      close() {
        end.closed();
        end.peer?.closed();
      },
    },
  };
  return end;
}
