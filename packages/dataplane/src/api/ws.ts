import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Engine } from '../runs/engine.js';
import type { ServerMessage, WorkerMessage } from '../workers/protocol.js';
import type { LogLine, Run, TaskAttempt } from '../types.js';
import { wsChannel } from '../workers/channels.js';
import type { RunEvent } from './types.js';

/**
 * Two WebSocket endpoints on the API's port: /ws for clients following runs (the CLI's --follow,
 * dashboards) and /ws/worker for remote workers. Auth hook: when authentication exists, the
 * upgrade is checked in `upgrade` below, as authenticate() checks HTTP requests.
 */
export function registerWebSockets(app: FastifyInstance, engine: Engine): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/ws' && path !== '/ws/worker') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (path === '/ws/worker') engine.attachWorker(wsChannel<WorkerMessage, ServerMessage>(ws));
      else followClient(ws, engine);
    });
  });
  // preClose, not onClose: the HTTP server's close waits for every socket, upgraded ones included.
  app.addHook('preClose', async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
}

/** A client: `{subscribe: 'run', id}` → its log backlog, `subscribed` with the run, then its events live. */
function followClient(ws: WebSocket, engine: Engine): void {
  const subscriptions = new Map<string, () => void>();
  const send = (event: RunEvent) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(event));
  ws.on('message', (data) => {
    let message: { subscribe?: string; unsubscribe?: string; id?: string };
    try {
      message = JSON.parse(data.toString());
    } catch {
      return send({ type: 'error', error: { code: 'InvalidJson', message: 'messages must be JSON' } });
    }
    if (message.subscribe === 'run' && typeof message.id === 'string' && !subscriptions.has(message.id)) {
      subscribeRun(engine, message.id, send).then(
        (stop) => (ws.readyState === ws.OPEN ? subscriptions.set(message.id!, stop) : stop()),
        (err: { code?: string; message: string }) => send({ type: 'error', error: { code: err.code ?? 'InternalError', message: err.message } }),
      );
    } else if (message.unsubscribe === 'run' && typeof message.id === 'string') {
      subscriptions.get(message.id)?.();
      subscriptions.delete(message.id);
    } else if (!message.unsubscribe) {
      send({ type: 'error', error: { code: 'InvalidRequest', message: "send {\"subscribe\": \"run\", \"id\": RUN_ID}" } });
    }
  });
  ws.on('close', () => {
    for (const stop of subscriptions.values()) stop();
  });
}

/**
 * Live events are listened to before the backlog is read, and held until it is sent: no line is
 * missed between the two, and lines the backlog already had are dropped by (task, attempt, seq).
 */
async function subscribeRun(engine: Engine, id: string, send: (event: RunEvent) => void): Promise<() => void> {
  let held: RunEvent[] | null = [];
  const deliver = (event: RunEvent) => (held ? held.push(event) : send(event));
  const onRun = (run: Run) => run.id === id && deliver({ type: 'run', run });
  const onTask = (task: TaskAttempt) => task.runId === id && deliver({ type: 'task', task });
  const onLog = (line: LogLine) => line.runId === id && deliver({ type: 'log', line });
  engine.events.on('run', onRun);
  engine.events.on('task', onTask);
  engine.events.on('log', onLog);
  const stop = () => {
    engine.events.off('run', onRun);
    engine.events.off('task', onTask);
    engine.events.off('log', onLog);
  };
  try {
    const { run } = await engine.getRun(id);
    const backlog = await engine.logs(id, { limit: 100_000 });
    const seen = new Set(backlog.map(lineKey));
    for (const line of backlog) send({ type: 'log', line });
    // After the backlog: from here on, events are live (a client waiting for the end starts here).
    send({ type: 'subscribed', run });
    for (const event of held) if (event.type !== 'log' || !seen.has(lineKey(event.line))) send(event);
    held = null;
    return stop;
  } catch (err) {
    stop();
    throw err;
  }
}

const lineKey = (l: LogLine) => `${l.taskId}/${l.attempt}/${l.seq}`;
