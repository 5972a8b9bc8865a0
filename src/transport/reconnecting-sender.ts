/**
 * A sender that outlives its receiver: it connects in any start order, and a live stream goes
 * on through a receiver restart. Connecting is retried with backoff (100 ms doubling to 2 s)
 * for `retryMs`; while a live stream is cut off its frames are dropped and counted (the source
 * keeps capturing, newest frame wins), and it reconnects in the background. One line is said
 * per outage, and one when the receiver is back.
 *
 * A file, folder or stdin transfer (`resume`) keeps each frame until the receiver acknowledges
 * it (ResendWindow); after a cut it reconnects and sends the unacknowledged frames again first,
 * with the same stream id and seq, so that the receiver saves every frame exactly once. With a
 * receiver that does not acknowledge, such a transfer whose connection is lost ends with the
 * connection error (exit 3), as before: nothing says which of its frames the receiver kept.
 */
import { randomBytes } from 'node:crypto';
import { NetworkError } from '../errors.js';
import type { AckListener } from '../frame/ack-reply.js';
import type { Frame } from '../frame/frame.js';
import { frameBytes } from '../frame/payload.js';
import { ResendWindow, type WindowLimits } from './resend-window.js';
import { DEFAULT_STALL_TIMEOUT_MS, type ConnectionFailure } from './tcp-sender.js';
import type { Sender, SendOptions } from './types.js';
import { isRetryable, RetrySchedule } from '../flow/backoff.js';

export { FIRST_RETRY_MS, MAX_RETRY_MS } from '../flow/backoff.js';
/** How long a file, folder or stdin transfer waits for its receiver by default. */
export const DEFAULT_FINITE_RETRY_MS = 30_000;

/** What one connection is told to read its replies as, for a transfer that resumes. */
export interface ConnectionAcks {
  stream: string;
  listener: AckListener;
  lost: (error: ConnectionFailure) => void;
}

export interface ResumeOptions extends WindowLimits {
  /** With the window full, how long the receiver may acknowledge nothing before the send fails (ms). */
  ackTimeoutMs?: number;
}

export interface ReconnectingSenderOptions {
  /** `host:port`, for the lines said. */
  address: string;
  /** Opens one connection; with `resume`, one that reads the receiver's acknowledgements into `acks`. */
  connect: (acks?: ConnectionAcks) => Promise<Sender>;
  /** How long to keep trying to connect, each outage (ms); 0: fail at once, Infinity: forever. */
  retryMs: number;
  /** A live stream reconnects after a cut; any other fails on it, unless it resumes. */
  live: boolean;
  /** Says one line (an outage, a return). */
  say: (line: string) => void;
  /** Not live: keep frames until acknowledged and send them again after a cut. */
  resume?: ResumeOptions;
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
  /** Frames kept for a resume; undefined for a live stream or without `resume`. */
  private readonly window: ResendWindow | undefined;
  /** The sending run's id, echoed by the receiver's acknowledgements. */
  readonly stream: string | undefined;
  /** With a window: frames whose `send` completed, each counted once however often it was sent. */
  private framesDone = 0;
  private nextSeq = 0;
  private resentCount = 0;
  /** Highest seq written on any connection: a kept frame above it was never sent, so is not sent again. */
  private highestWritten = -1;
  /** Numbers connections, so that a late failure of an old one is not taken for the current one's. */
  private connectionSerial = 0;
  private currentSerial = 0;
  /** Why the current connection failed, learnt while no frame was being sent on it. */
  private currentLost: ConnectionFailure | undefined;
  /** The last connection failure reported, for a connection that fails before it is adopted. */
  private lastLost: { serial: number; error: ConnectionFailure } | undefined;

  private constructor(private readonly options: ReconnectingSenderOptions) {
    this.address = options.address;
    if (options.resume && !options.live) {
      this.window = new ResendWindow(options.resume);
      this.stream = randomBytes(8).toString('hex');
    }
  }

  /** Connects, waiting for the receiver up to `retryMs`. Fails with the last connection error. */
  static async open(options: ReconnectingSenderOptions): Promise<ReconnectingSender> {
    const sender = new ReconnectingSender(options);
    sender.adopt(await sender.connectWithRetry());
    return sender;
  }

  get framesSent(): number {
    if (this.window) return this.framesDone;
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

  /** Frames sent again after a reconnect because the receiver had not acknowledged them. */
  get resent(): number {
    return this.resentCount;
  }

  /** Whether this transfer resumes after a cut (its receiver acknowledges). */
  get resuming(): boolean {
    return this.window?.mode === 'acknowledging';
  }

  async send(frame: Frame | Buffer, options: SendOptions = {}): Promise<void> {
    if (this.gaveUp) throw this.gaveUp.error;
    const window = this.window;
    if (!window) return this.sendPlain(frame, options);
    const seq = options.seq ?? this.nextSeq;
    this.nextSeq = seq + 1;
    const bytes = frameBytes(frame).length;
    await this.roomFor(window, bytes);
    if (!window.keeping) {
      await this.sendPlain(frame, { ...options, seq });
    } else {
      const kept = { ...options, seq, askAck: true };
      window.keep({ seq, frame, options: kept, bytes });
      await this.sendKept(frame, kept);
    }
    this.framesDone += 1;
  }

  async close(): Promise<void> {
    // The receiver stops acknowledging once the connection is ended: the last frames are
    // waited for first, through further cuts.
    const window = this.window;
    if (window?.mode === 'acknowledging' && !this.closed) {
      while (window.keeping && window.size > 0) await this.acknowledgementOrCut(window);
    }
    this.closed = true;
    this.wake?.();
    window?.wake();
    await this.current?.close();
  }

  destroy(): void {
    this.closed = true;
    this.wake?.();
    this.window?.wake();
    this.current?.destroy();
  }

  /** Today's path: live frames are dropped while cut off, any other frame fails on a cut. */
  private async sendPlain(frame: Frame | Buffer, options: SendOptions): Promise<void> {
    // Only a live stream goes on without a connection; a transfer waits for the one being made.
    const sender = this.current ?? (this.options.live ? undefined : await this.resumed());
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

  /** Sends a kept frame; after a cut, once the reconnect has sent it again with the others. */
  private async sendKept(frame: Frame | Buffer, options: SendOptions): Promise<void> {
    const sender = this.current ?? (await this.resumed());
    const before = sender.framesSent;
    try {
      await sender.send(frame, options);
      this.written(options.seq!);
    } catch (err) {
      // Written before the connection failed (or not at all, when it had failed already).
      if (sender.framesSent > before) this.written(options.seq!);
      if (!this.mayResume(err)) throw err;
      this.lost(sender, err as NetworkError);
      await this.resumed();
    }
  }

  /** Waits until the window can keep a frame of `bytes`; before any acknowledgement a full window goes plain. */
  private async roomFor(window: ResendWindow, bytes: number): Promise<void> {
    while (window.keeping && !window.hasRoom(bytes)) {
      if (window.mode === 'undecided') {
        window.plain();
        return;
      }
      await this.acknowledgementOrCut(window);
    }
  }

  /**
   * Waits for the next acknowledgement; a cut meanwhile is resumed first. Fails when none comes
   * within `ackTimeoutMs`: a receiver that takes frames but never says it saved them.
   */
  private async acknowledgementOrCut(window: ResendWindow): Promise<void> {
    if (this.gaveUp) throw this.gaveUp.error;
    const lost = this.currentLost;
    if (lost && this.current) {
      if (!this.mayResume(lost)) throw lost;
      this.lost(this.current, lost as NetworkError);
    }
    if (this.reconnecting) {
      await this.resumed();
      return;
    }
    const timeoutMs = this.options.resume?.ackTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
    const late = await Promise.race([window.changed().then(() => false), timedOut]);
    clearTimeout(timer);
    if (this.closed) throw new NetworkError(`the sender to ${this.address} was closed`, 'ERR_CONNECTION_CLOSED');
    if (late) {
      throw new NetworkError(
        `${this.address} acknowledged none of ${window.size} frames for ${timeoutMs / 1000} s (--stall-timeout)`,
        'ERR_ACK_TIMEOUT',
      );
    }
  }

  /** A cut that the window lets this transfer resume. */
  private mayResume(err: unknown): boolean {
    return this.window?.mode === 'acknowledging' && this.options.retryMs !== 0 && !this.closed && isRetryable(err);
  }

  /** The current connection after the reconnect under way; fails with why it was given up. */
  private async resumed(): Promise<Sender> {
    await this.reconnecting;
    if (this.gaveUp) throw this.gaveUp.error;
    if (!this.current) throw new NetworkError(`the sender to ${this.address} was closed`, 'ERR_CONNECTION_CLOSED');
    return this.current;
  }

  /** The connection is gone: count what it sent, and find the receiver again. */
  private lost(sender: Sender, err: NetworkError): void {
    if (this.current !== sender) return;
    this.sentBefore += sender.framesSent;
    this.bytesBefore += sender.bytesSent;
    sender.destroy();
    this.current = undefined;
    this.currentLost = undefined;
    this.outages += 1;
    const resuming = this.window?.mode === 'acknowledging';
    const meanwhile = resuming ? `${this.unacknowledgedText()} sent again` : 'frames are dropped meanwhile';
    this.options.say(`${err.message}; reconnecting (${meanwhile})`);
    this.reconnecting ??= (resuming ? this.reconnectAndResend() : this.connectWithRetry(true)).then(
      (next) => {
        this.reconnecting = undefined;
        if (this.closed) next.destroy();
        else this.adopt(next);
      },
      (error: unknown) => {
        this.reconnecting = undefined;
        // Given up (--retry) or closed: what is sent next fails with the reason.
        this.gaveUp = { error };
        this.window?.wake();
      },
    );
  }

  /** Connects again and sends the kept frames first, lowest seq first; another cut meanwhile starts over. */
  private async reconnectAndResend(): Promise<Sender> {
    const window = this.window!;
    for (;;) {
      const next = await this.connectWithRetry(true);
      try {
        for (const kept of window.frames()) {
          // Acknowledged meanwhile (by a reply to a frame sent again before it).
          if (!window.has(kept.seq)) continue;
          await next.send(kept.frame, { ...kept.options, askAck: window.keeping });
          if (kept.seq <= this.highestWritten) this.resentCount += 1;
          this.written(kept.seq);
        }
        return next;
      } catch (err) {
        this.sentBefore += next.framesSent;
        this.bytesBefore += next.bytesSent;
        next.destroy();
        if (this.closed || !isRetryable(err)) throw err;
        this.outages += 1;
        this.options.say(`${(err as Error).message}; reconnecting (${this.unacknowledgedText()} sent again)`);
      }
    }
  }

  /** `the 3 unacknowledged frames are`: those kept that were written already. */
  private unacknowledgedText(): string {
    const count = this.window!.frames().filter((kept) => kept.seq <= this.highestWritten).length;
    return count === 1 ? 'the 1 unacknowledged frame is' : `the ${count} unacknowledged frames are`;
  }

  private written(seq: number): void {
    if (seq > this.highestWritten) this.highestWritten = seq;
  }

  private adopt(sender: Sender): void {
    this.current = sender;
    this.currentSerial = this.connectionSerial;
    this.currentLost = this.lastLost?.serial === this.currentSerial ? this.lastLost.error : undefined;
  }

  /** What a new connection reads its replies into: the window, while it is the current one. */
  private acksFor(serial: number): ConnectionAcks | undefined {
    const window = this.window;
    if (!window || !this.stream) return undefined;
    return {
      stream: this.stream,
      listener: {
        acknowledged: (seq) => window.acknowledged(seq),
        foreign: () => window.plain(),
      },
      lost: (error) => {
        this.lastLost = { serial, error };
        if (serial !== this.currentSerial || this.current === undefined) return;
        this.currentLost = error;
        window.wake();
      },
    };
  }

  private async connectWithRetry(again = false): Promise<Sender> {
    const schedule = new RetrySchedule(this.options.retryMs);
    let said = again;
    let delay: number | undefined;
    for (;;) {
      try {
        const serial = ++this.connectionSerial;
        const sender = await this.options.connect(this.acksFor(serial));
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
