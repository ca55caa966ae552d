import type { WebSocket } from 'ws';
import type { Channel } from '../workers/protocol.js';

/** A WebSocket as a Channel of JSON messages (the server's end of `dataplane worker --server`). */
export function socketChannel<In, Out>(socket: WebSocket): Channel<In, Out> {
  return {
    send(message) {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    },
    onMessage(listener) {
      socket.on('message', (data) => {
        let message: In;
        try {
          message = JSON.parse(data.toString()) as In;
        } catch {
          // Not ours to interpret: a worker speaks JSON or nothing.
          socket.close(1003, 'messages must be JSON');
          return;
        }
        listener(message);
      });
    },
    onClose(listener) {
      socket.once('close', () => listener());
    },
    close() {
      socket.close();
    },
  };
}
