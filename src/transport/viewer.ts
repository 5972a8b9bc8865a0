/**
 * One receiver connected to a sender that listens (`send --listen`): its socket and its slot.
 * The slot holds one frame, the newest: a viewer that cannot keep up gets the newest frame
 * whenever it can take one, and what it missed is counted, never queued. So whatever a viewer
 * does, it holds at most the frame being written and the one waiting; both are shared with the
 * other viewers, never copied.
 */
import type { Socket } from 'node:net';
import { NetworkError, type VstreamError } from '../errors.js';
import { NewestWinsQueue } from '../flow/newest-wins-queue.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import { unsentBytes } from './tcp-sender.js';

/** A frame as every viewer gets it: the header and payload pieces, made once for all of them. */
export interface WireFrame {
  parts: readonly Buffer[];
  bytes: number;
}

/** What is said of a viewer once it is gone. */
export interface ViewerTally {
  name: string;
  /** Frames whose every byte the kernel took for this viewer. */
  sent: number;
  bytes: number;
  /** Frames offered while it was connected that it never got (newer ones took their place, or it left). */
  missed: number;
}

export class Viewer {
  readonly name: string;
  sent = 0;
  bytes = 0;
  private offered = 0;
  private readonly slot = new NewestWinsQueue<'newest', WireFrame>({ perKey: 1 });
  /** performance.now() when the kernel last took bytes of the frame being written, or when it began. */
  private progressAt = performance.now();
  private unsent = 0;
  private writing = false;
  private failure: VstreamError | undefined;
  /** Resolves once the socket is closed, whoever closed it. */
  readonly gone: Promise<void>;

  constructor(
    private readonly socket: Socket,
    /** How long a viewer may keep its end open after this one ended (ms): one that never reads would never see the end. */
    private readonly lingerMs: number,
  ) {
    this.name = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    socket.setNoDelay(true);
    // What a viewer sends (a receiver's acks) means nothing here: read and let go, never kept.
    socket.on('data', () => {});
    socket.on('error', (err) => {
      this.failure ??= networkError(`viewer ${this.name}`, err);
    });
    this.gone = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.gone.then(() => this.slot.close());
    void this.run();
  }

  /** Why it went, when not by closing its end cleanly. */
  get error(): VstreamError | undefined {
    return this.failure;
  }

  get tally(): ViewerTally {
    return { name: this.name, sent: this.sent, bytes: this.bytes, missed: Math.max(0, this.offered - this.sent) };
  }

  /** The newest frame: taken at once when the viewer is ready, else in the place of the one waiting. */
  offer(frame: WireFrame): void {
    if (this.socket.destroyed) return;
    this.offered += 1;
    this.slot.push('newest', frame, { live: true, bytes: frame.bytes });
  }

  /**
   * Whether the kernel has taken nothing of the frame being written for `stallMs`. The clock
   * restarts whenever what waits to be sent shrinks, so a slow but reading viewer is never cut off.
   */
  stalledFor(stallMs: number, now: number): boolean {
    if (!this.writing) return false;
    const unsent = unsentBytes(this.socket);
    if (unsent < this.unsent) this.progressAt = now;
    this.unsent = unsent;
    return now - this.progressAt >= stallMs;
  }

  /** After the frame being written and the one waiting, ends the connection. */
  finish(): void {
    this.slot.end();
  }

  /** Closes the connection at once, for `reason` when it is the sender's. */
  drop(reason?: VstreamError): void {
    if (reason) this.failure ??= reason;
    this.socket.destroy();
  }

  private async run(): Promise<void> {
    for await (const frame of this.slot) {
      if (!(await this.write(frame))) return;
    }
    if (this.socket.destroyed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), this.lingerMs).unref();
  }

  /** Resolves true once the kernel has every byte of the frame, false if the connection went first. */
  private write(frame: WireFrame): Promise<boolean> {
    this.writing = true;
    this.progressAt = performance.now();
    this.unsent = Infinity;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        this.socket.off('close', onClose);
        this.writing = false;
        if (ok) {
          this.sent += 1;
          this.bytes += frame.bytes;
        }
        resolve(ok);
      };
      const onClose = () => settle(false);
      this.socket.once('close', onClose);
      // Corked, the header and JPEG pieces leave in one write; the last piece's callback comes
      // once the kernel has all of them.
      this.socket.cork();
      frame.parts.forEach((part, i) => {
        if (i < frame.parts.length - 1) this.socket.write(part);
        else this.socket.write(part, (err) => settle(!err));
      });
      this.socket.uncork();
    });
  }
}

/** The reason a viewer is dropped that stopped reading. */
export function stalledError(name: string, stallMs: number): NetworkError {
  const seconds = stallMs % 1000 === 0 ? `${stallMs / 1000} s` : `${(stallMs / 1000).toFixed(1)} s`;
  return new NetworkError(`viewer ${name} stopped reading: nothing could be sent to it for ${seconds} (--stall-timeout); disconnected`, 'ERR_STALLED');
}
