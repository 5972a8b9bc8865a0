/**
 * The client's replies, one after each frame: anything counts as a reply (the reference client
 * sends `Rec`), except that `EOF` anywhere in what it sends asks for the end. Nothing of the
 * replies is kept but the last two bytes, in case `EOF` is split across segments.
 */
import type { Socket } from 'node:net';
import { END } from './wire.js';

export type Reply = 'next' | 'end' | 'gone' | 'timeout' | 'interrupted';

export class ReplyReader {
  /** Replies not yet waited for: at most one counts, as the reference server's one `recv` takes all. */
  private unread = false;
  private endAsked = false;
  private gone = false;
  private tail = Buffer.alloc(0);
  private waiter: ((reply: Reply) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(socket: Socket) {
    this.gone = socket.destroyed;
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    socket.on('close', () => {
      this.gone = true;
      this.settle();
    });
  }

  /** Resolves with the next reply, or how waiting for it ended. */
  next(timeoutMs: number): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.timer = setTimeout(() => this.settle('timeout'), timeoutMs);
      this.settle();
    });
  }

  /** The client has asked for the end (it may do so before a frame has asked it anything). */
  get ended(): boolean {
    return this.endAsked;
  }

  /** Ends the wait in progress, if any, with `interrupted`. */
  interrupt(): void {
    this.settle('interrupted');
  }

  private take(chunk: Buffer): void {
    const seen = Buffer.concat([this.tail, chunk]);
    if (seen.includes(END)) this.endAsked = true;
    this.tail = seen.subarray(Math.max(0, seen.length - (END.length - 1)));
    this.unread = true;
    this.settle();
  }

  private settle(forced?: Reply): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const reply = this.endAsked ? 'end' : this.unread ? 'next' : this.gone ? 'gone' : forced;
    if (reply === undefined) return;
    this.waiter = undefined;
    clearTimeout(this.timer);
    if (reply === 'next') this.unread = false;
    waiter(reply);
  }
}
