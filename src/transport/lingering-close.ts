/**
 * Closing a connection after a last answer without losing the answer: closing with the peer's
 * bytes unread would reset the connection, and a reset can overtake what was written before
 * it. So the connection is read, and what comes dropped, for a while before it is closed; at
 * most `max` at once, past which a flood of them is closed at once (its last answer may be lost).
 */
import type { Socket } from 'node:net';

export class LingeringClose {
  private lingering = 0;

  constructor(
    private readonly max: number,
    private readonly ms: number,
  ) {}

  /** Ends `socket` after `last` (if any) and closes it after `ms`; at once past `max`. */
  close(socket: Socket, last?: Buffer | string): void {
    if (socket.destroyed) return;
    if (this.lingering >= this.max) {
      socket.destroy();
      return;
    }
    this.lingering += 1;
    socket.once('close', () => (this.lingering -= 1));
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    if (last !== undefined) socket.end(last);
    socket.resume();
    setTimeout(() => socket.destroy(), this.ms).unref();
  }
}
