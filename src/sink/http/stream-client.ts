/**
 * One HTTP client of `/stream/NAME`: its own newest-frame-wins slot, written to its socket
 * only when the socket has taken the previous frame. A slow client (a phone on Wi-Fi) gets
 * fewer frames, never older ones, and holds at most the frame being written and the one
 * waiting; the frames are the stream's own buffers, shared, never copied per client.
 */
import type { ServerResponse } from 'node:http';
import { NewestWinsQueue } from '../../flow/newest-wins-queue.js';
import { openingBytes, partChunks } from './multipart.js';
import type { ServedFrame } from './served-frame.js';

/**
 * A client whose socket takes nothing for this long is let go: its kernel buffers are full
 * and it shows nothing anyway, but it holds a connection and a frame.
 */
export const STALLED_CLIENT_MS = 30_000;

export class StreamClient {
  /** Frames written to the socket. */
  sent = 0;
  private readonly slot = new NewestWinsQueue<0, ServedFrame>();
  private finished = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly advanceHeaders: boolean,
    private readonly stalledMs = STALLED_CLIENT_MS,
  ) {
    response.on('close', () => this.end());
  }

  /** Frames it was offered and never got, replaced in its slot by newer ones. */
  get skipped(): number {
    return this.slot.dropped;
  }

  /** The newest frame of its stream: it replaces the one waiting, if any. */
  offer(frame: ServedFrame): void {
    this.slot.push(0, frame, { live: true, bytes: frame.data.length });
  }

  /** No more frames: the response ends once the frame being written is out. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.slot.close();
  }

  /** Writes frames until `end()` or the client goes; resolves then. */
  async run(): Promise<void> {
    const response = this.response;
    if (!this.write([openingBytes(this.advanceHeaders)])) await this.drained();
    for await (const frame of this.slot) {
      if (this.finished || response.destroyed) break;
      this.sent += 1;
      if (!this.write(partChunks(frame, this.advanceHeaders, Date.now()))) await this.drained();
    }
    if (!response.destroyed) response.end();
  }

  /** One writev for the part: its headers, the image and the boundary after it. */
  private write(chunks: Buffer[]): boolean {
    const response = this.response;
    if (response.destroyed) return true;
    response.cork();
    let room = true;
    for (const chunk of chunks) room = response.write(chunk);
    process.nextTick(() => response.uncork());
    return room;
  }

  /** Resolves when the socket has room again, or the client is gone (a stalled one is let go). */
  private drained(): Promise<void> {
    const response = this.response;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      const timer = setTimeout(() => {
        response.destroy();
        done();
      }, this.stalledMs);
      timer.unref();
      response.on('drain', done);
      response.on('close', done);
    });
  }
}
