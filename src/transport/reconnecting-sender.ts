/**
 * A sender that outlives its receiver: it connects in any start order, and a live stream goes
 * on through a receiver restart. Connecting is retried with backoff (100 ms doubling to 2 s)
 * for `retryMs`; while a live stream is cut off its frames are dropped and counted (the source
 * keeps capturing, newest frame wins), and it reconnects in the background. One line is said
 * per outage, and one when the receiver is back. Frames of a file, folder or stdin are not
 * resent after a cut, since nothing says which of them the receiver kept: such a transfer ends
 * with the connection error (exit 3), as the first connection may be waited for.
 */
import { NetworkError } from '../errors.js';
import type { Frame } from '../frame/frame.js';
import type { Sender, SendOptions } from './types.js';
import { isRetryable, RetrySchedule } from './backoff.js';

export { FIRST_RETRY_MS, MAX_RETRY_MS } from './backoff.js';
/** How long a file, folder or stdin transfer waits for its receiver by default. */
export const DEFAULT_FINITE_RETRY_MS = 30_000;

export interface ReconnectingSenderOptions {
  /** `host:port`, for the lines said. */
  address: string;
  /** Opens one connection. */
  connect: () => Promise<Sender>;
  /** How long to keep trying to connect, each outage (ms); 0: fail at once, Infinity: forever. */
  retryMs: number;
  /** A live stream reconnects after a cut; any other fails on it. */
  live: boolean;
  /** Says one line (an outage, a return). */
  say: (line: string) => void;
}

export class ReconnectingSender implements Sender {
  readonly address: string;
  private current: Sender | undefined;
  private reconnecting: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private sentBefore = 0;
  private bytesBefore = 0;
  private droppedCount = 0;
  private outages = 0;
  /** Why reconnecting was given up (--retry ran out): the next send fails with it. */
  private gaveUp: { error: unknown } | undefined;

  private constructor(private readonly options: ReconnectingSenderOptions) {
    this.address = options.address;
  }

  /** Connects, waiting for the receiver up to `retryMs`. Fails with the last connection error. */
  static async open(options: ReconnectingSenderOptions): Promise<ReconnectingSender> {
    const sender = new ReconnectingSender(options);
    sender.current = await sender.connectWithRetry();
    return sender;
  }

  get framesSent(): number {
    return this.sentBefore + (this.current?.framesSent ?? 0);
  }

  get bytesSent(): number {
    return this.bytesBefore + (this.current?.bytesSent ?? 0);
  }

  /** Frames of a live stream dropped while the receiver was away. */
  get droppedWhileDisconnected(): number {
    return this.droppedCount;
  }

  /** Times the connection was lost and had to be made again. */
  get reconnects(): number {
    return this.outages;
  }

  async send(frame: Frame | Buffer, options?: SendOptions): Promise<void> {
    if (this.gaveUp) throw this.gaveUp.error;
    const sender = this.current;
    if (!sender) {
      this.droppedCount += 1;
      return;
    }
    try {
      await sender.send(frame, options);
    } catch (err) {
      if (!this.options.live || this.options.retryMs === 0 || this.closed || !isRetryable(err)) throw err;
      this.droppedCount += 1;
      this.lost(sender, err as NetworkError);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.current?.close();
  }

  destroy(): void {
    this.closed = true;
    this.wake?.();
    this.current?.destroy();
  }

  /** The live stream's connection is gone: count what it sent, and find the receiver again. */
  private lost(sender: Sender, err: NetworkError): void {
    if (this.current !== sender) return;
    this.sentBefore += sender.framesSent;
    this.bytesBefore += sender.bytesSent;
    sender.destroy();
    this.current = undefined;
    this.outages += 1;
    this.options.say(`${err.message}; reconnecting (frames are dropped meanwhile)`);
    this.reconnecting ??= this.connectWithRetry(true).then(
      (next) => {
        this.reconnecting = undefined;
        if (this.closed) next.destroy();
        else this.current = next;
      },
      (error: unknown) => {
        this.reconnecting = undefined;
        // Given up (--retry) or closed: what is sent next fails with the reason.
        this.gaveUp = { error };
      },
    );
  }

  private async connectWithRetry(again = false): Promise<Sender> {
    const schedule = new RetrySchedule(this.options.retryMs);
    let said = again;
    let delay: number | undefined;
    for (;;) {
      try {
        const sender = await this.options.connect();
        if (said) this.options.say(`connected to ${this.address}`);
        return sender;
      } catch (err) {
        delay = this.closed || !isRetryable(err) ? undefined : schedule.next();
        if (delay === undefined) throw err;
        if (!said) this.options.say(`${(err as Error).message}; retrying (--retry)`);
        said = true;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (this.closed) throw new NetworkError(`the sender to ${this.address} was closed while connecting`, 'ERR_CONNECTION_CLOSED');
    }
  }
}
