import type { ChildProcess } from 'node:child_process';
import type { Channel, ServerMessage, WorkerMessage } from '../workers/protocol.js';

/** The server's end of a forked worker's IPC channel. Listeners may be several (the link, start-up). */
export function ipcChannel(child: ChildProcess): Channel<WorkerMessage, ServerMessage> {
  return {
    send(message) {
      // A worker that just died has no channel: its close is handled by the onClose listeners.
      if (child.connected) child.send(message, () => {});
    },
    onMessage(listener) {
      child.on('message', (m) => listener(m as WorkerMessage));
    },
    onClose(listener) {
      child.once('disconnect', listener);
    },
    close() {
      if (child.connected) child.disconnect();
    },
  };
}
